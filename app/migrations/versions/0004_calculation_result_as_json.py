"""Certificates' calculation_result as PostgreSQL's json: the report's text verbatim, not rebuilt as jsonb.

Every stored calculation wrote its ~7 KB report as jsonb, which PostgreSQL parses into a tree, sorts the
keys of and encodes in its binary form (`jsonb_in` was 5 % of the whole machine's CPU under app_load.py,
PostgreSQL 22 %). json only checks that the text is JSON and stores it as it is, so the row holds the
exact bytes the caller received: single-row inserts of app_load.py's reports (lz4, a private PostgreSQL 15,
four alternating rounds of 1,500) cost PostgreSQL 253-287 us of CPU each as jsonb, 173-213 us as json. Nothing
queries inside the document with jsonb's operators (reading a value with ->> works on json too); the
report is only ever read back whole. Rows already stored are converted (jsonb's text form, the same
document). Changing a column's type resets its compression to the server's default, so the method the
column had (lz4 since 0002, where the server offers it) is set again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


METHODS = {"l": "lz4", "p": "pglz"}


def _convert(to: str) -> None:
    """calculation_result as type `to`, keeping the column's compression method."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    method = bind.execute(
        sa.text("SELECT attcompression FROM pg_attribute WHERE attrelid = 'certificates'::regclass AND attname = 'calculation_result'")
    ).scalar_one()
    op.execute(f"ALTER TABLE certificates ALTER COLUMN calculation_result TYPE {to} USING calculation_result::{to}")
    if method in METHODS:
        op.execute(f"ALTER TABLE certificates ALTER COLUMN calculation_result SET COMPRESSION {METHODS[method]}")


def upgrade() -> None:
    _convert("json")


def downgrade() -> None:
    _convert("jsonb")
