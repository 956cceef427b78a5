"""Audit trail: one row per state-changing action, written in the same transaction as the change."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import AuditLog


def record(session: Session, user_id: uuid.UUID, action: str, **details: Any) -> None:
    session.add(AuditLog(user_id=user_id, action=action, details={k: str(v) if isinstance(v, uuid.UUID) else v for k, v in details.items()}))
