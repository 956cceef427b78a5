"""Data stores in the prod plan: one per seed database, alone on its internal network, secrets as files."""

from __future__ import annotations

import pytest

from components.datastore import ENGINES, Datastore, DatastoreArgs
from infra.plan.document import is_secret
from infra.spec.models import DatastoreSpec
from templates import render
from tests.harness import Planned, plan_function
from tests.components.platform_helpers import envs, file_content, uploaded_files

SEED_STORES = {
    # name: (engine, network, volume)
    "psra-db": ("postgres", "psra-db-net", "psra-db-data"),
    "psra-redis": ("redis", "psra-db-net", "redis-data"),
    "rentguy-db": ("postgres", "rentguy-db-net", "rentguy-db-data"),
    "rentguy-redis": ("redis", "rentguy-db-net", "rentguy-redis-data"),
    "wpcs-db": ("mysql", "wpcs-db-net", "wpcs-db-data"),
    "keycloak-db": ("postgres", "keycloak-net", "keycloak-db-data"),
    "ai-db": ("postgres", "ai-db-net", "ai-db-data"),
    "n8n-db": ("postgres", "ai-db-net", "n8n-db-data"),
    "ai-redis": ("redis", "ai-db-net", "ai-redis-data"),
}


@pytest.mark.parametrize(("name", "engine", "network", "volume"), [(n, *v) for n, v in SEED_STORES.items()])
def test_each_seed_store_runs_alone_on_its_internal_network_with_its_volume(prod_plan: Planned, name: str, engine: str, network: str, volume: str) -> None:
    container = prod_plan.containers()[name]
    inputs = container.inputs
    assert [n["name"] for n in inputs["networksAdvanced"]] == [network]
    data = ENGINES[engine]
    assert {"type": "volume", "source": volume, "target": data.data_path, "readOnly": False} in inputs["mounts"]
    assert inputs["user"] == data.user and inputs["readOnly"] is True
    assert "ports" not in inputs
    assert prod_plan.get("docker:index/network:Network", f"networks-{network}").inputs["internal"] is True


def test_postgres_passwords_reach_the_server_only_as_secret_files(prod_plan: Planned) -> None:
    db = prod_plan.containers()["psra-db"]
    assert envs(db) == {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres-password"}
    files = uploaded_files(prod_plan, "psra-db")
    for path in ("/run/secrets/postgres-password", "/run/secrets/app-password"):
        assert is_secret(files[path]["content"])
        assert (files[path]["permissions"], files[path]["owner"], files[path]["group"]) == ("0400", "70", "70")
    init = file_content(prod_plan, "psra-db", "/docker-entrypoint-initdb.d/10-app-role.sh")
    assert "--set=app_user=psra --set=app_db=psra_production" in init
    assert 'app_password="$(cat /run/secrets/app-password)"' in init
    assert 'CREATE ROLE :"app_user" LOGIN PASSWORD' in init and "SUPERUSER" not in init


def test_mysql_uses_its_file_conventions(prod_plan: Planned) -> None:
    db = prod_plan.containers()["wpcs-db"]
    assert envs(db) == {
        "MYSQL_DATABASE": "wpcs_production",
        "MYSQL_USER": "wpcs",
        "MYSQL_PASSWORD_FILE": "/run/secrets/mysql-password",
        "MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/mysql-root-password",
    }
    files = uploaded_files(prod_plan, "wpcs-db")
    assert all(is_secret(files[p]["content"]) for p in envs(db).values() if p.startswith("/run/secrets/"))
    assert db.inputs["healthcheck"]["tests"] == ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--silent"]


def test_redis_requires_a_password_from_its_secret_config(prod_plan: Planned) -> None:
    redis = prod_plan.containers()["psra-redis"]
    assert redis.inputs["command"] == ["redis-server", "/etc/redis/redis.conf"]
    assert "envs" not in redis.inputs
    files = uploaded_files(prod_plan, "psra-redis")
    assert is_secret(files["/etc/redis/redis.conf"]["content"]) and is_secret(files["/run/secrets/redis-password"]["content"])
    assert redis.inputs["healthcheck"]["tests"] == [
        "CMD-SHELL",
        'REDISCLI_AUTH="$(cat /run/secrets/redis-password)" redis-cli -h 127.0.0.1 ping | grep -q PONG',
    ]


def test_redis_config_template_sets_auth_and_rdb_snapshots() -> None:
    config = render("datastore/redis.conf.j2", store_name="psra-redis", port=6379, password="p4ss", maxmemory_mb=192)
    lines = set(config.splitlines())
    assert {"requirepass p4ss", "protected-mode yes", "dir /data", "dbfilename dump.rdb", "maxmemory 192mb"} <= lines
    assert any(line.startswith("save ") for line in lines)


def test_every_password_is_a_generated_secret_of_32_characters(prod_plan: Planned) -> None:
    passwords = {r.name: r for r in prod_plan.of_type("random:index/randomPassword:RandomPassword") if r.name.endswith("password")}
    for store, (engine, _, _) in SEED_STORES.items():
        names = [f"{store}-password"] + ([] if engine == "redis" else [f"{store}-admin-password"])
        for name in names:
            assert passwords[name].inputs["length"] == 32 and is_secret(passwords[name].outputs["result"])


def test_credentials_are_published_for_openbao_and_backups() -> None:
    published: dict = {}

    def program() -> None:
        import pulumi_docker as docker

        store = DatastoreSpec(name="psra-db", stack="psra", engine="postgres", image="postgres:16.10-alpine", network="psra-db-net", volume="psra-db-data", database="psra_production", user="psra")
        datastore = Datastore("psra-db", DatastoreArgs(store=store, networks={"psra-db-net": docker.Network("n", name="psra-db-net", internal=True)}))
        published["credentials"] = datastore.credentials

    plan_function(program)
    credentials = published["credentials"]
    assert (credentials.host, credentials.port, credentials.database, credentials.user, credentials.admin_user) == ("psra-db", 5432, "psra_production", "psra", "postgres")


def test_a_database_name_that_is_not_an_identifier_is_refused() -> None:
    def program() -> None:
        store = DatastoreSpec(name="bad-db", stack="psra", engine="postgres", image="postgres:16.10-alpine", network="n", volume="bad-data", database="drop;table", user="x")
        Datastore("bad-db", DatastoreArgs(store=store, networks={}))

    with pytest.raises(ValueError, match="database 'drop;table' must be a lower-case SQL identifier"):
        plan_function(program)
