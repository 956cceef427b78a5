"""Rows of one stored calculation (certificate, two materials, audit entry) for AtomicInserts tests."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Table

from app.api.routes.calculations import AUDIT_LOGS, CERTIFICATES, MATERIALS
from app.db.models import utcnow


def calculation_rows(user_id: uuid.UUID, declaration_id: uuid.UUID | None = None, action: str = "test.insert") -> tuple[uuid.UUID, list[tuple[Table, list[dict[str, Any]]]]]:
    """The certificate's id and its batches; a `declaration_id` that names no stored declaration makes
    the database refuse the materials (foreign key)."""
    certificate_id, now = uuid.uuid4(), utcnow()
    certificate = {"id": certificate_id, "user_id": user_id, "agreement": "EU-JP", "hs_code": "850110", "origin_country": "EU",
                   "destination_country": "JP", "assessment_date": date(2025, 3, 1), "originating": False, "request_hash": "0" * 64,
                   "calculation_result": {"test": True}, "created_at": now}  # fmt: skip
    material = {"id": uuid.uuid4(), "certificate_id": certificate_id, "parent_id": None, "path": "materials[0]", "hs_code": "850300",
                "origin": "CN", "value": Decimal("1"), "value_percentage": Decimal("1"), "processing_cost": None, "originating": False,
                "declaration_id": declaration_id}  # fmt: skip
    audit = {"id": uuid.uuid4(), "user_id": user_id, "action": action, "details": {"certificate_id": str(certificate_id)}, "timestamp": now}
    return certificate_id, [(CERTIFICATES, [certificate]), (MATERIALS, [material, {**material, "id": uuid.uuid4()}]), (AUDIT_LOGS, [audit])]
