"""Each real-server fixture yields a server that really works."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.servers


def test_postgres_sql_roundtrip(postgres_server):
    import sqlalchemy as sa

    url = postgres_server.create_database("smoke_" + uuid.uuid4().hex[:8])
    assert url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, name text)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1, 'één')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM t WHERE id = 1")).scalar_one() == "één"
            assert conn.execute(sa.text("SELECT current_setting('server_version_num')::int")).scalar_one() >= 150000
    finally:
        engine.dispose()


def test_postgres_requires_password(postgres_server):
    import psycopg

    assert postgres_server.host == "127.0.0.1"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=postgres_server.user,
            password="wrong",
            dbname="postgres",
            connect_timeout=5,
        )
    with postgres_server.connect() as conn:
        method = conn.execute("SHOW password_encryption").fetchone()[0]
        assert method == "scram-sha-256"


def test_redis_set_get_with_auth(redis_server):
    import redis

    assert redis_server.url == f"redis://:{redis_server.password}@127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set("smoke", "ok", ex=60)
        assert client.get("smoke") == b"ok"
    finally:
        client.close()
    # no retries: redis-py 8 treats AuthenticationError as a ConnectionError and retries it with backoff (~4.5 s)
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    anonymous = redis.Redis(host=redis_server.host, port=redis_server.port, retry=Retry(NoBackoff(), 0))
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("smoke")
    finally:
        anonymous.close()


def test_openbao_namespace_and_kv(openbao_dev):
    root = openbao_dev.client()
    assert root.is_authenticated()
    assert root.sys.read_health_status(method="GET")["sealed"] is False

    ns = "smoke-" + uuid.uuid4().hex[:6]
    root.sys.create_namespace(path=ns)
    assert f"{ns}/" in root.sys.list_namespaces()["data"]["keys"]

    tenant = openbao_dev.client(namespace=ns)
    tenant.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    tenant.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"password": "s3cret"}, mount_point="kv")
    read = tenant.secrets.kv.v2.read_secret_version(path="app/db", mount_point="kv", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": "s3cret"}

    # the namespace is isolated: the mount does not exist in the root namespace
    assert "kv/" not in root.sys.list_mounted_secrets_engines()["data"]


def test_keycloak_admin_lists_realms(keycloak_server):
    import httpx

    assert keycloak_server.base_url.startswith("http://127.0.0.1:")
    admin = keycloak_server.admin()
    realms = {r["realm"] for r in admin.get_realms()}
    assert "master" in realms

    realm = "smoke-" + uuid.uuid4().hex[:6]
    admin.create_realm({"realm": realm, "enabled": True})
    assert realm in {r["realm"] for r in admin.get_realms()}
    discovery = httpx.get(f"{keycloak_server.base_url}/realms/{realm}/.well-known/openid-configuration", timeout=10)
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == f"{keycloak_server.base_url}/realms/{realm}"


def test_keycloak_reports_its_own_start_up_time(keycloak_server):
    """Not the time until a test first waited for it (launched early, it can be the whole session)."""
    from tests.servers.keycloak_server import own_startup_seconds

    assert own_startup_seconds(keycloak_server.log_path) == keycloak_server.startup_seconds
    assert 0 < keycloak_server.startup_seconds < 240
