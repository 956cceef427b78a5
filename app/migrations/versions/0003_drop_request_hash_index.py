"""Certificates' request_hash without an index: no query looks certificates up by it.

The hash records which request a certificate answered (the engine-result cache is keyed by it, in Redis);
the index only cost every stored calculation a random insertion into a B-tree of 64-character keys:
about a tenth of PostgreSQL's CPU per stored calculation (single inserts of app_load.py's bodies on a
private PostgreSQL 15: ~610 -> ~560 us). A query that needs it one day adds it back with its own migration.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_certificates_request_hash", table_name="certificates")


def downgrade() -> None:
    op.create_index("ix_certificates_request_hash", "certificates", ["request_hash"])
