"""Tables of the seed's data model (users, certificates, materials, hs_codes, origin_rules, audit_logs)
plus supplier_declarations. JSON columns are JSONB on PostgreSQL and JSON on SQLite, except
certificates.calculation_result: PostgreSQL's json, the report's text verbatim (migration 0004).

Columns beyond the seed's diagram: users.subject (the OIDC `sub` that maps a token to a row),
certificates.agreement/assessment_date/originating/request_hash, materials.path/parent_id/value/
originating/declaration_id, and the origin_rules fields that carry legal source and validity.
materials.processing_cost is kept from the seed and left empty (the request has no such figure).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Dialect, ForeignKey, Index, Numeric, String, Text, TypeDecorator, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite, which drops the offset, values are read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONDocument, list[Any]: JSONDocument}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(String(255), unique=True)
    username: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    realm: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class HsCode(Base):
    __tablename__ = "hs_codes"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    chapter: Mapped[str] = mapped_column(String(2), index=True)
    taric_data: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)


class OriginRule(Base):
    __tablename__ = "origin_rules"
    __table_args__ = (Index("ix_origin_rules_agreement_hs", "agreement", "hs_code"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    hs_code: Mapped[str] = mapped_column(ForeignKey("hs_codes.code"))
    hs_code_to: Mapped[str] = mapped_column(String(10))
    agreement: Mapped[str] = mapped_column(String(8))
    criteria: Mapped[list[Any]] = mapped_column(JSONDocument)
    rule_text: Mapped[str] = mapped_column(Text)
    official_text: Mapped[str] = mapped_column(Text)
    legal_source: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    checked_against: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SupplierDeclaration(Base):
    __tablename__ = "supplier_declarations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    supplier_name: Mapped[str] = mapped_column(String(200))
    supplier_country: Mapped[str] = mapped_column(String(2))
    agreements: Mapped[list[Any]] = mapped_column(JSONDocument)
    products: Mapped[str] = mapped_column(Text)
    issue_date: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    agreement: Mapped[str] = mapped_column(String(8))
    hs_code: Mapped[str] = mapped_column(String(10))
    origin_country: Mapped[str] = mapped_column(String(2))
    destination_country: Mapped[str | None] = mapped_column(String(2))
    assessment_date: Mapped[date] = mapped_column(Date)
    originating: Mapped[bool]
    request_hash: Mapped[str] = mapped_column(String(64))  # not indexed: nothing looks certificates up by it (migration 0003)
    # json, not jsonb: the report's text as the caller received it, checked but not rebuilt (migration 0004)
    calculation_result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Material(Base):
    __tablename__ = "materials"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    certificate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificates.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(200))
    hs_code: Mapped[str] = mapped_column(String(10))
    origin: Mapped[str] = mapped_column(String(8))
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    value_percentage: Mapped[Decimal] = mapped_column(Numeric(9, 4))
    processing_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    originating: Mapped[bool]
    declaration_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("supplier_declarations.id"))


class AuditLog(Base):
    __tablename__ = "audit_logs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
