"""Database engine and sessions: one pooled engine per process, short transactions per request."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker


class JsonText(str):
    """A document already serialised to JSON, written to JSON columns as it is (no second encoding)."""


def dump_json(value: Any) -> str:
    return value if isinstance(value, JsonText) else json.dumps(value, separators=(",", ":"), default=str)


def make_engine(url: URL, pool_size: int, max_overflow: int) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False}, json_serializer=dump_json)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre-ping: after a PostgreSQL restart every pooled connection is dead, and without it the first
    # request on each answered 500 (the live lab's outage check); one round trip per checkout.
    # connect_timeout: a stopped database's address may swallow the handshake; a thread waits 5 s, not forever
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
        json_serializer=dump_json,
    )


def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
