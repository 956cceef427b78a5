"""Group commit on real servers: concurrent requests share PostgreSQL statements and Redis round trips,
and still each get their own outcome."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import bindparam, create_engine, insert, text
from sqlalchemy.engine import make_url

from app.cache import RedisCache
from app.db.inserts import AtomicInserts, _joint, _Statement
from app.db.migrate import upgrade
from app.db.session import make_engine
from tests.app.stored_rows import calculation_rows

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def migrated(postgres_server):  # type: ignore[no-untyped-def]
    engine = make_engine(make_url(postgres_server.create_database("psra_group_commit")), pool_size=2, max_overflow=0)
    upgrade(engine)
    user_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (id, subject, username, realm, created_at) VALUES (:id, 's', 'u', 'r', now())"), {"id": user_id})
    yield engine, user_id
    engine.dispose()


def write_concurrently(engine, writes: list[Any], monkeypatch) -> tuple[list[Any], list[str]]:  # type: ignore[no-untyped-def]
    """insert_async for every write at once on one loop, one statement in flight; outcomes and statements sent."""
    sent: list[str] = []
    execute = psycopg.AsyncRawCursor.execute

    async def recording(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(query)
        return await execute(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.AsyncRawCursor, "execute", recording)
    inserts = AtomicInserts(engine, async_pool_size=2, write_concurrency=1)

    async def main() -> list[Any]:
        inserts.attach(asyncio.get_running_loop())
        try:
            return await asyncio.gather(*(inserts.insert_async(rows) for rows in writes), return_exceptions=True)
        finally:
            await inserts.aclose()

    return asyncio.run(asyncio.wait_for(main(), timeout=30)), sent


def stored(engine, certificate_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:  # type: ignore[no-untyped-def]
    query = text("SELECT c.id, count(m.id) FROM certificates c LEFT JOIN materials m ON m.certificate_id = c.id WHERE c.id = ANY(:ids) GROUP BY c.id")
    with engine.connect() as connection:
        return dict(connection.execute(query, {"ids": certificate_ids}).all())


def test_concurrent_writes_share_statements(migrated, monkeypatch):
    engine, user_id = migrated
    made = [calculation_rows(user_id) for _ in range(12)]
    outcomes, sent = write_concurrently(engine, [rows for _, rows in made], monkeypatch)
    assert outcomes == [None] * 12
    assert len(sent) == 1  # submitted in the same turn of the loop: all in the first statement
    assert stored(engine, [certificate_id for certificate_id, _ in made]) == {certificate_id: 2 for certificate_id, _ in made}


def test_writes_survive_a_server_that_ended_the_pooled_connections(migrated, postgres_server):
    """Found by the live lab: after PostgreSQL restarted, the first POST answered 500 (AdminShutdown on a
    pooled connection the server had ended); it is written on a new connection instead, exactly once."""
    engine, user_id = migrated
    inserts = AtomicInserts(engine, async_pool_size=2, write_concurrency=1)
    first, second = calculation_rows(user_id), calculation_rows(user_id)

    async def main() -> None:
        inserts.attach(asyncio.get_running_loop())
        try:
            await inserts.insert_async(first[1])  # leaves an idle connection in the pool
            with postgres_server.connect(autocommit=True) as admin:
                ended = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'psra_group_commit' AND pid <> pg_backend_pid()"
                ).fetchone()[0]
            assert ended >= 1
            await inserts.insert_async(second[1])
        finally:
            await inserts.aclose()

    asyncio.run(asyncio.wait_for(main(), timeout=30))
    engine.dispose()  # its own pooled connections were ended too
    assert stored(engine, [first[0], second[0]]) == {first[0]: 2, second[0]: 2}


def test_reads_survive_a_server_that_ended_the_pooled_connections(postgres_server):
    """The sync engine's pooled connection, ended by the server (as by a restart), is replaced before use."""
    engine = make_engine(make_url(postgres_server.create_database("psra_pre_ping")), pool_size=1, max_overflow=0)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    with postgres_server.connect(autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'psra_pre_ping' AND pid <> pg_backend_pid()")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 2")).scalar_one() == 2
    engine.dispose()


def test_a_refused_write_fails_alone_and_leaves_nothing_behind(migrated, monkeypatch):
    engine, user_id = migrated
    made = [calculation_rows(user_id, declaration_id=uuid.uuid4() if n == 7 else None) for n in range(12)]
    outcomes, sent = write_concurrently(engine, [rows for _, rows in made], monkeypatch)
    assert isinstance(outcomes[7], sqlalchemy.exc.IntegrityError)
    assert outcomes[:7] + outcomes[8:] == [None] * 11
    assert len(sent) == 1 + 12  # the joint statement, refused; then each write on its own
    refused = made[7][0]
    assert stored(engine, [certificate_id for certificate_id, _ in made]) == {certificate_id: 2 for certificate_id, _ in made if certificate_id != refused}


def test_concurrent_cache_reads_and_writes_share_round_trips(redis_server):
    cache = RedisCache(redis_server.url)
    keys = [f"calculation:{n}" for n in range(10)]

    async def main() -> list[bytes | None]:
        cache.attach(asyncio.get_running_loop())
        try:
            await asyncio.gather(*(cache.aset_many([(key, key.encode(), 60)]) for key in keys[:5]))
            return await asyncio.gather(*(cache.aget(key) for key in keys))
        finally:
            await cache.aclose()

    before = redis_server.client().info("commandstats")
    values = asyncio.run(asyncio.wait_for(main(), timeout=10))
    after = redis_server.client().info("commandstats")
    assert values == [key.encode() for key in keys[:5]] + [None] * 5

    def calls(stats: dict[str, Any], command: str) -> int:
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    assert calls(after, "set") - calls(before, "set") == 5
    assert calls(after, "mget") - calls(before, "mget") == 1  # ten look-ups in one turn of the loop: one MGET
    assert calls(after, "get") == calls(before, "get")
    assert redis_server.client().ttl("calculation:0") in range(55, 61)


def test_joint_statements_stay_within_the_parameter_limit(migrated, monkeypatch):
    """Forty of the largest bills at once (2,216 parameters each) go as four statements of at most 30,000
    parameters, not as one that PostgreSQL's protocol refuses (at most 65,535)."""
    engine, user_id = migrated
    made = []
    for _ in range(40):
        certificate_id, batches = calculation_rows(user_id)
        certificate, (materials_table, (first, _second)), audit = batches
        materials = [{**first, "id": uuid.uuid4(), "path": f"materials[{n}]"} for n in range(200)]
        made.append((certificate_id, [certificate, (materials_table, materials), audit]))
    outcomes, sent = write_concurrently(engine, [rows for _, rows in made], monkeypatch)
    assert outcomes == [None] * 40
    assert len(sent) == 4  # 13 + 13 + 13 + 1 writes
    assert stored(engine, [certificate_id for certificate_id, _ in made]) == {certificate_id: 200 for certificate_id, _ in made}


def test_new_group_sizes_are_built_from_row_templates_as_sqlalchemy_compiles_them(monkeypatch):
    """A group commit of a size not seen before cost a SQLAlchemy compile of every row (3-21 ms on the event
    loop); it is built from each table's one-row template, to the text SQLAlchemy's compile of all the rows
    gives (up to line breaks), with the same bind processors in placeholder order."""
    engine = create_engine("postgresql+psycopg://user:secret@127.0.0.1:1/none")  # compiles only; never connects
    inserts = AtomicInserts(engine)
    compiles = []
    monkeypatch.setattr("app.db.inserts.insert", lambda table: compiles.append(table.name) or insert(table))
    user_id = uuid.uuid4()
    first = calculation_rows(user_id)[1]
    inserts._statement(first)
    assert compiles == ["certificates", "materials", "audit_logs"]
    for size in (2, 7, 16):
        writes = [calculation_rows(user_id)[1] for _ in range(size)]
        joint = _joint(writes)
        assert joint is not None
        statement = inserts._statement(joint)
        reference = _sqlalchemy_statement(engine, joint)
        assert statement.sql == reference.sql
        assert [(batch, row, key) for batch, row, key, _ in statement.binds] == [(batch, row, key) for batch, row, key, _ in reference.binds]
        assert [process is None for *_, process in statement.binds] == [process is None for *_, process in reference.binds]
        assert [getattr(value, "obj", value) for value in statement.params(joint)] == [getattr(value, "obj", value) for value in reference.params(joint)]  # Jsonb wraps
    assert len(compiles) == 3


def _sqlalchemy_statement(engine, batches) -> _Statement:  # type: ignore[no-untyped-def]
    """The joint statement as SQLAlchemy compiles it whole (how AtomicInserts built every shape before)."""
    dialect, inserts, binds = engine.dialect, [], {}
    for number, (table, rows) in enumerate(batches):
        values = []
        for index, row in enumerate(rows):
            values.append({key: bindparam(f"b{number}_{index}_{key}", type_=table.c[key].type) for key in row})
            binds.update({f"b{number}_{index}_{key}": (number, index, key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in row})
        inserts.append(insert(table).values(values))
    statement = inserts[-1]
    for number, earlier in enumerate(inserts[:-1]):
        statement = statement.add_cte(earlier.cte(f"insert_{number}"))
    order: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        order.append(match.group(1))
        return f"${len(order)}"

    sql = re.sub(r"%\((\w+)\)s", placeholder, statement.compile(dialect=dialect).string).replace("%%", "%").replace("\n", "")
    return _Statement(sql, tuple(binds[name] for name in order))
