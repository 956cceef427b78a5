"""Alembic migrations on real PostgreSQL: they build exactly the ORM schema, go down and up again,
and the reference data is seeded once without overwriting rules managed later."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from app.db.migrate import alembic_config, upgrade
from app.db.models import Base, HsCode, OriginRule
from app.db.rules import seed_reference_data
from app.db.session import make_engine, make_sessions

pytestmark = pytest.mark.servers


@pytest.fixture
def engine(postgres_server: Any):  # type: ignore[no-untyped-def]
    engine = make_engine(make_url(postgres_server.create_database("psra_migrations")), pool_size=2, max_overflow=0)
    yield engine
    engine.dispose()


def test_migrations_match_the_models_and_reverse(engine) -> None:  # type: ignore[no-untyped-def]
    upgrade(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        columns = {c["name"]: c["type"].__class__.__name__ for c in inspect(connection).get_columns("certificates")}
    assert columns["calculation_result"] == "JSON"  # the report's text verbatim (0004), not rebuilt as jsonb
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    assert {"users", "certificates", "materials", "hs_codes", "origin_rules", "audit_logs", "supplier_declarations"} <= set(inspect(engine).get_table_names())


def test_seeding_is_idempotent_and_keeps_managed_rules(engine, rulebook) -> None:  # type: ignore[no-untyped-def]
    upgrade(engine)
    sessions = make_sessions(engine)
    seed_reference_data(sessions, rulebook)
    with sessions.begin() as session:
        total = session.scalar(select(func.count()).select_from(OriginRule))
        assert total == sum(len(rulebook.rules(a.code)) for a in rulebook.agreements())
        assert session.get(HsCode, "8501").description.startswith("Electric motors")
        session.delete(session.scalars(select(OriginRule).where(OriginRule.agreement == "PEM")).first())
    seed_reference_data(sessions, rulebook)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OriginRule)) == total - 1


def _compression(engine) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    """calculation_result's compression method ('' = the server's default) and whether the server offers lz4."""
    with engine.connect() as connection:
        method = connection.execute(
            text("SELECT attcompression FROM pg_attribute WHERE attrelid = 'certificates'::regclass AND attname = 'calculation_result'")
        ).scalar()
        offered = connection.execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return method, "lz4" in (offered or [])


def test_calculation_results_are_lz4_compressed_where_the_server_offers_it(engine) -> None:  # type: ignore[no-untyped-def]
    upgrade(engine)
    method, lz4 = _compression(engine)
    assert lz4, "the test server is built with lz4 (Debian's is), so the migration must be seen to apply it"
    assert method == "l"
    command.downgrade(alembic_config(engine), "0001")
    assert _compression(engine)[0] == ""
    upgrade(engine)
    assert _compression(engine)[0] == "l"


def _result_type(engine) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_typeof(calculation_result)::text FROM certificates")).scalar_one()


def test_stored_calculation_results_keep_their_document_across_json_and_jsonb(engine) -> None:  # type: ignore[no-untyped-def]
    command.upgrade(alembic_config(engine), "0003")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (id, subject, username, realm, created_at) VALUES (gen_random_uuid(), 's', 'u', 'r', now())"))
        connection.execute(
            text(
                "INSERT INTO certificates (id, user_id, agreement, hs_code, origin_country, assessment_date, originating, request_hash,"
                " calculation_result, created_at) SELECT gen_random_uuid(), id, 'EU-JP', '850110', 'EU', '2025-03-01', true, 'h',"
                " '{\"originating\": true, \"warnings\": []}'::jsonb, now() FROM users"
            )
        )
    assert _result_type(engine) == "jsonb"
    upgrade(engine)
    assert _result_type(engine) == "json"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT calculation_result->>'originating' FROM certificates")).scalar_one() == "true"
    assert _compression(engine)[0] == "l"  # a type change resets the column's compression; 0004 sets lz4 again
    command.downgrade(alembic_config(engine), "0003")
    assert _result_type(engine) == "jsonb" and _compression(engine)[0] == "l"
