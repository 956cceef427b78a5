"""Certificates' calculation_result compressed with lz4 where the server offers it.

A stored calculation's report is ~7 KB of JSONB, which PostgreSQL compresses (TOAST) as it stores the row;
with the default pglz that compression cost PostgreSQL about 60 us of its ~360 us of CPU per stored
calculation more than lz4 did (group-commit inserts of app_load.py's bodies on a private PostgreSQL 15,
the column's compression alternated between rounds). Servers built without
lz4 (their default_toast_compression does not offer it) keep pglz; rows stored before keep theirs (each
value records its method), and other databases (the embedded SQLite) have no such setting.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _offers_lz4() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    offered = bind.execute(sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return bool(offered) and "lz4" in offered


def upgrade() -> None:
    if _offers_lz4():
        op.execute("ALTER TABLE certificates ALTER COLUMN calculation_result SET COMPRESSION lz4")


def downgrade() -> None:
    if _offers_lz4():
        op.execute("ALTER TABLE certificates ALTER COLUMN calculation_result SET COMPRESSION DEFAULT")
