"""Initial schema: the seed's data model plus supplier declarations.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "hs_codes",
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("chapter", sa.String(2), nullable=False),
        sa.Column("taric_data", _json(), nullable=True),
    )
    op.create_index("ix_hs_codes_chapter", "hs_codes", ["chapter"])

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False, unique=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("realm", sa.String(255), nullable=False),
        _created_at(),
    )

    op.create_table(
        "audit_logs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("details", _json(), nullable=False),
        _created_at("timestamp"),
    )
    op.create_index("ix_audit_logs_action", "audit_logs", ["action"])
    op.create_index("ix_audit_logs_timestamp", "audit_logs", ["timestamp"])
    op.create_index("ix_audit_logs_user_id", "audit_logs", ["user_id"])

    op.create_table(
        "certificates",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("agreement", sa.String(8), nullable=False),
        sa.Column("hs_code", sa.String(10), nullable=False),
        sa.Column("origin_country", sa.String(2), nullable=False),
        sa.Column("destination_country", sa.String(2), nullable=True),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("originating", sa.Boolean(), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("calculation_result", _json(), nullable=False),
        _created_at(),
    )
    op.create_index("ix_certificates_request_hash", "certificates", ["request_hash"])
    op.create_index("ix_certificates_user_id", "certificates", ["user_id"])

    op.create_table(
        "origin_rules",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("hs_code", sa.String(10), sa.ForeignKey("hs_codes.code"), nullable=False),
        sa.Column("hs_code_to", sa.String(10), nullable=False),
        sa.Column("agreement", sa.String(8), nullable=False),
        sa.Column("criteria", _json(), nullable=False),
        sa.Column("rule_text", sa.Text(), nullable=False),
        sa.Column("official_text", sa.Text(), nullable=False),
        sa.Column("legal_source", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("checked_against", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _created_at("updated_at"),
    )
    op.create_index("ix_origin_rules_agreement_hs", "origin_rules", ["agreement", "hs_code"])

    op.create_table(
        "supplier_declarations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("supplier_name", sa.String(200), nullable=False),
        sa.Column("supplier_country", sa.String(2), nullable=False),
        sa.Column("agreements", _json(), nullable=False),
        sa.Column("products", sa.Text(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        _created_at(),
        _created_at("updated_at"),
    )
    op.create_index("ix_supplier_declarations_owner_id", "supplier_declarations", ["owner_id"])

    op.create_table(
        "materials",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("certificate_id", sa.Uuid(), sa.ForeignKey("certificates.id", ondelete="CASCADE"), nullable=False),
        sa.Column("parent_id", sa.Uuid(), sa.ForeignKey("materials.id", ondelete="CASCADE"), nullable=True),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("hs_code", sa.String(10), nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("value", sa.Numeric(18, 4), nullable=False),
        sa.Column("value_percentage", sa.Numeric(9, 4), nullable=False),
        sa.Column("processing_cost", sa.Numeric(18, 4), nullable=True),
        sa.Column("originating", sa.Boolean(), nullable=False),
        sa.Column("declaration_id", sa.Uuid(), sa.ForeignKey("supplier_declarations.id"), nullable=True),
    )
    op.create_index("ix_materials_certificate_id", "materials", ["certificate_id"])


def downgrade() -> None:
    for table in ("materials", "supplier_declarations", "origin_rules", "certificates", "audit_logs", "users", "hs_codes"):
        op.drop_table(table)
