"""Alembic environment: run against the engine handed over by app.db.migrate, or PSRA settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from app.db.models import Base
from app.db.session import make_engine
from app.openbao import resolve_connections
from app.settings import Settings

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    settings = Settings()
    return make_engine(resolve_connections(settings).database_url, pool_size=1, max_overflow=0)


def run_migrations_offline() -> None:
    context.configure(url=_engine().url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with _engine().begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
