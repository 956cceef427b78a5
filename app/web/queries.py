"""What the pages read: the product look-up (HS descriptions and the rule that applies), the caller's
certificates and declarations, the audit log. Blocking (database); the pages call them in a worker thread.
Every read of user data is limited to the caller's own rows (admins: the certificate page also shows others')."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from app.api.auth import Caller
from app.api.routes.calculations import _load_certificate
from app.api.schemas import CalculationOut
from app.api.services import Services
from app.cache import CERTIFICATE_PREFIX
from app.db.models import AuditLog, Certificate, HsCode, SupplierDeclaration, User
from app.engine.request import AgreementCode
from app.engine.rulebook import ProductRule

PAGE_SIZE = 20
EXPIRY_WARNING_DAYS = 60


@dataclass(frozen=True)
class ProductLookup:
    """The HS reference's descriptions for the product code (chapter to subheading) and the rule in force."""

    hs_code: str
    descriptions: tuple[tuple[str, str], ...]
    rule: ProductRule | None


def product_lookup(services: Services, agreement: AgreementCode, hs_code: str, on: date) -> ProductLookup:
    codes = [hs_code[:length] for length in (2, 4, 6) if len(hs_code) >= length]
    with services.sessions() as session:
        rows = {row.code: row.description for row in session.scalars(select(HsCode).where(HsCode.code.in_(codes)))}
    descriptions = tuple((code, rows[code]) for code in codes if code in rows)
    return ProductLookup(hs_code, descriptions, services.rules.find_rule(agreement, hs_code, on))


async def visible_calculation(services: Services, calculation_id: uuid.UUID, caller: Caller) -> CalculationOut | None:
    """The stored calculation when the caller owns it (admins: any), as the API returns it."""
    cached = await services.cache.aget(f"{CERTIFICATE_PREFIX}{calculation_id}")
    if cached is None:
        cached = await run_in_threadpool(_load_certificate, services, calculation_id)
    entry = json.loads(cached) if cached else None
    if entry is None or not (caller.is_admin or entry["owner_id"] == str(caller.user_id)):
        return None
    return CalculationOut.model_validate(entry["calculation"])


@dataclass(frozen=True)
class CertificateFilter:
    agreement: AgreementCode | None = None
    hs_code: str | None = None
    originating: bool | None = None


@dataclass(frozen=True)
class CertificateRow:
    id: uuid.UUID
    created_at: datetime
    agreement: str
    hs_code: str
    assessment_date: date
    originating: bool


def own_certificates(services: Services, caller: Caller, where: CertificateFilter, page: int) -> tuple[list[CertificateRow], bool]:
    """One page of the caller's certificates, newest first, and whether a next page exists."""
    query = select(Certificate.id, Certificate.created_at, Certificate.agreement, Certificate.hs_code, Certificate.assessment_date, Certificate.originating)
    query = query.where(Certificate.user_id == caller.user_id)
    if where.agreement is not None:
        query = query.where(Certificate.agreement == where.agreement)
    if where.hs_code is not None:
        query = query.where(Certificate.hs_code.startswith(where.hs_code, autoescape=True))
    if where.originating is not None:
        query = query.where(Certificate.originating == where.originating)
    query = query.order_by(Certificate.created_at.desc(), Certificate.id).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    with services.sessions() as session:
        rows = [CertificateRow(*row) for row in session.execute(query)]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@dataclass(frozen=True)
class DeclarationView:
    row: SupplierDeclaration
    state: str  # "usable", "expiring", "expired", "withdrawn"
    days_left: int | None

    @property
    def label(self) -> str:
        row = self.row
        period = f"valid {row.valid_from} to {row.valid_until}" if row.valid_until else f"issued {row.issue_date}"
        kind = "LTSD" if row.kind == "ltsd" else "supplier's declaration"
        return f"{row.supplier_name} — {kind}, {period} ({', '.join(row.agreements)})"


def own_declarations(services: Services, caller: Caller, today: date) -> list[DeclarationView]:
    """The caller's declarations, soonest expiry first (open-ended and withdrawn ones last)."""
    query = select(SupplierDeclaration).where(SupplierDeclaration.owner_id == caller.user_id)
    with services.sessions() as session:
        rows = list(session.scalars(query))
    views = [_declaration_view(row, today) for row in rows]
    order = {"expiring": 0, "usable": 1, "expired": 2, "withdrawn": 3}
    return sorted(views, key=lambda view: (order[view.state], view.row.valid_until or date.max, view.row.supplier_name, str(view.row.id)))


def _declaration_view(row: SupplierDeclaration, today: date) -> DeclarationView:
    if row.withdrawn_on is not None and row.withdrawn_on <= today:
        return DeclarationView(row, "withdrawn", None)
    if row.valid_until is None:
        return DeclarationView(row, "usable", None)
    days_left = (row.valid_until - today).days
    if days_left < 0:
        return DeclarationView(row, "expired", days_left)
    return DeclarationView(row, "expiring" if days_left <= EXPIRY_WARNING_DAYS else "usable", days_left)


@dataclass(frozen=True)
class AuditEntry:
    timestamp: datetime
    username: str | None
    action: str
    details: dict[str, object]


def audit_entries(services: Services, action: str | None, username: str | None, since: date | None, page: int) -> tuple[list[AuditEntry], bool]:
    query = select(AuditLog.timestamp, User.username, AuditLog.action, AuditLog.details).outerjoin(User, User.id == AuditLog.user_id)
    if action is not None:
        query = query.where(AuditLog.action == action)
    if username is not None:
        query = query.where(User.username == username)
    if since is not None:
        query = query.where(AuditLog.timestamp >= datetime.combine(since, time.min, tzinfo=UTC))
    query = query.order_by(AuditLog.timestamp.desc(), AuditLog.id).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    with services.sessions() as session:
        rows = [AuditEntry(*row) for row in session.execute(query)]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE

