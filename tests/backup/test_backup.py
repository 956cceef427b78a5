"""The backup container's jobs, for real: restic against real PostgreSQL, MariaDB, Redis and
OpenBao (raft), with real off-site servers (restic's REST server, sshd for SFTP).

Restores use plain `restic` commands piped into the database clients, exactly as the
README's runbook does; nothing of `platform_backup` is needed to get data back.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup.platform_backup import __main__ as cli
from backup.platform_backup import state
from backup.platform_backup.config import BackupConfig, ConfigError, Target, parse
from backup.platform_backup.credentials import Credentials, offsite_repository
from backup.platform_backup.jobs import run_backup, run_check, run_drill
from backup.platform_backup.metrics import render
from backup.platform_backup.restic import Repository
from tests.servers._process import ServerProcess, free_port, port_accepts

MARKER = "PLAINTEXT-MARKER-ÄÖÜ-42"
RETENTION = {
    "postgres": {"local_days": 7, "offsite_days": 90},
    "mysql": {"local_days": 7, "offsite_days": 90},
    "redis": {"local_days": 7},
    "openbao": {"local_days": 30, "offsite_days": 90},
    "volume": {"local_days": 7},
}
PG_CHECKSUMS = {
    "customers": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY id)) FROM customers t",
    "orders": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY id)) FROM orders t",
}


# -- helpers ---------------------------------------------------------------------------


def secret_file(directory: Path, name: str, value: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def make_config(tmp_path: Path, *, targets=(), volumes=(), retention=None, openbao: dict | None = None) -> BackupConfig:
    (tmp_path / "secrets").mkdir(mode=0o700, exist_ok=True)
    settings = {
        "address": "http://127.0.0.1:9", "role_id_file": "/nonexistent/role-id", "secret_id_file": "/nonexistent/secret-id",
        "mount": "sevensa", "password_key": "shared/backup/repository-password", "snapshot": False,
    } | (openbao or {})
    return parse(
        {
            "environment": "test",
            "repository": str(tmp_path / "repository"),
            "state_dir": str(tmp_path / "state"),
            "secrets_dir": str(tmp_path / "secrets"),
            "retention": retention or RETENTION,
            "openbao": settings,
            "targets": [t.model_dump(mode="json") for t in targets],
            "volumes": [{"name": name, "path": str(path)} for name, path in volumes],
        }
    )


def file_credentials(tmp_path: Path, offsite: Repository | None = None) -> Credentials:
    keys = tmp_path / "keys"
    return Credentials(password_file=secret_file(keys, "repository-password", secrets.token_hex(24)), offsite=offsite, openbao_token_file=keys / "none")


def postgres_target(server, tmp_path: Path, database: str, password: str | None = None) -> Target:
    password_file = secret_file(tmp_path / "keys", "psra-db-password", password or server.password)
    return Target(name="psra-db", engine="postgres", host=server.host, port=server.port, user=server.user, password_file=password_file, databases=(database,))


def mariadb_target(server, tmp_path: Path, database: str) -> Target:
    password_file = secret_file(tmp_path / "keys", "wpcs-db-password", server.password)
    return Target(name="wpcs-db", engine="mysql", host=server.host, port=server.port, user=server.user, password_file=password_file, databases=(database,))


def redis_target(server, tmp_path: Path) -> Target:
    password_file = secret_file(tmp_path / "keys", "psra-redis-password", server.password)
    return Target(name="psra-redis", engine="redis", host=server.host, port=server.port, user="default", password_file=password_file)


def restic(repository: str | Path, password_file: Path, *args: str, repository_file: bool = False, options: tuple[str, ...] = ()) -> str:
    """A plain restic command, as in the runbook."""
    where = ["--repository-file" if repository_file else "--repo", str(repository)]
    extra = [part for option in options for part in ("-o", option)]
    completed = subprocess.run(["restic", *where, "--password-file", str(password_file), *extra, *args], capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def pipe(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A shell pipeline with pipefail (`restic dump … | psql …`)."""
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}, check=False)


def fill_postgres(server, name: str) -> None:
    server.create_database(name)
    with server.connect(name) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, profile jsonb, avatar bytea)")
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(12,2), note text)")
        conn.execute(
            "INSERT INTO customers (name, profile, avatar) SELECT %s || i, jsonb_build_object('n', i, 'tags', array['a','b']), "
            "decode(md5(i::text), 'hex') FROM generate_series(1, 2000) i",
            (MARKER,),
        )
        conn.execute("INSERT INTO orders (customer_id, amount, note) SELECT 1 + (i % 2000), i * 1.25, repeat('x', i % 50) FROM generate_series(1, 5000) i")
        conn.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 1000")


def pg_checksums(server, name: str) -> dict[str, tuple]:
    with server.connect(name) as conn:
        return {table: tuple(conn.execute(sql).fetchone()) for table, sql in PG_CHECKSUMS.items()}


def fill_mariadb(server, name: str) -> None:
    server.create_database(name)
    server.query(
        name,
        "CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(10,2), photo BLOB);"
        f"INSERT INTO products SELECT seq, CONCAT('{MARKER}', seq), seq * 0.5, UNHEX(MD5(seq)) FROM seq_1_to_3000;"
        "CREATE TABLE stock (product_id INT, warehouse VARCHAR(10), amount INT);"
        "INSERT INTO stock SELECT 1 + seq % 3000, CONCAT('w', seq % 7), seq FROM seq_1_to_4000;",
    )


def mariadb_figures(server, name: str) -> dict[str, list[str]]:
    figures = {}
    for table in ("products", "stock"):
        count = server.query(name, f"SELECT COUNT(*) FROM {table}")[0][0]
        checksum = server.query(name, f"CHECKSUM TABLE {table} EXTENDED")[0][1]
        figures[table] = [count, checksum]
    return figures


def snapshot_list(repository: Path, password_file: Path, *tags: str) -> list[dict]:
    args = ["snapshots", "--json"] + (["--tag", ",".join(tags)] if tags else [])
    return json.loads(restic(repository, password_file, *args))


# -- backup and restore of real databases -----------------------------------------------


@pytest.mark.servers
def test_postgres_mariadb_redis_back_up_and_restore_with_plain_restic(postgres_server, mariadb_server, redis_server, tmp_path: Path) -> None:
    fill_postgres(postgres_server, "bk_source")
    fill_mariadb(mariadb_server, "shop")
    redis = redis_server.client()
    redis.flushall()
    redis.mset({f"session:{i}": f"{MARKER}-{i}" for i in range(500)})
    config = make_config(
        tmp_path,
        targets=(postgres_target(postgres_server, tmp_path, "bk_source"), mariadb_target(mariadb_server, tmp_path, "shop"), redis_target(redis_server, tmp_path)),
    )
    credentials = file_credentials(tmp_path)

    result = run_backup(config, credentials)

    assert result["success"], result["failures"]
    assert set(result["datasets"]) == {"psra-db.globals", "psra-db.bk_source", "wpcs-db.shop", "psra-redis"}
    snapshots = snapshot_list(config.repository, credentials.password_file)
    assert {tuple(sorted(s["tags"])) for s in snapshots} == {
        ("dataset:psra-db.globals", "kind:postgres", "service:psra-db"),
        ("dataset:psra-db.bk_source", "kind:postgres", "service:psra-db"),
        ("dataset:wpcs-db.shop", "kind:mysql", "service:wpcs-db"),
        ("dataset:psra-redis", "kind:redis", "service:psra-redis"),
    }
    assert {s["hostname"] for s in snapshots} == {"test"}
    assert {p for s in snapshots for p in s["paths"]} == {"/globals.sql", "/bk_source.sql", "/shop.sql", "/dump.rdb"}
    stored = b"".join(f.read_bytes() for f in config.repository.rglob("*") if f.is_file())
    assert MARKER.encode() not in stored and b"CREATE TABLE" not in stored and b"REDIS" not in stored  # encrypted at rest

    repo, password = config.repository, credentials.password_file
    postgres_server.create_database("bk_restored")
    restored = pipe(
        f"restic -r {repo} --password-file {password} dump --tag dataset:psra-db.bk_source latest /bk_source.sql"
        f" | psql -X -q -v ON_ERROR_STOP=1 --single-transaction '{postgres_server.conninfo('bk_restored')}'"
    )
    assert restored.returncode == 0, restored.stderr
    assert pg_checksums(postgres_server, "bk_restored") == pg_checksums(postgres_server, "bk_source")
    assert [v[0] for v in pg_checksums(postgres_server, "bk_restored").values()] == [2000, 5000]
    with postgres_server.connect("bk_restored") as conn:
        assert conn.execute("SELECT count(*) FROM big_orders").fetchone()[0] == sum(1 for i in range(1, 5001) if i * 1.25 > 1000)
    roles = restic(repo, password, "dump", "--tag", "dataset:psra-db.globals", "latest", "/globals.sql")
    assert f"ALTER ROLE {postgres_server.user} WITH SUPERUSER" in roles

    mariadb_server.create_database("shop_restored")
    restored = pipe(
        f"restic -r {repo} --password-file {password} dump --tag dataset:wpcs-db.shop latest /shop.sql"
        f" | mariadb --no-defaults -h {mariadb_server.host} -P {mariadb_server.port} -u {mariadb_server.user} shop_restored",
        env={"MYSQL_PWD": mariadb_server.password},
    )
    assert restored.returncode == 0, restored.stderr
    assert mariadb_figures(mariadb_server, "shop_restored") == mariadb_figures(mariadb_server, "shop")
    assert mariadb_figures(mariadb_server, "shop_restored")["products"][0] == "3000"

    rdb = tmp_path / "restored-redis" / "dump.rdb"
    rdb.parent.mkdir()
    rdb.write_bytes(subprocess.run(["restic", "-r", str(repo), "--password-file", str(password), "dump", "--tag", "dataset:psra-redis", "latest", "/dump.rdb"], capture_output=True, check=True).stdout)
    with redis_loading(rdb) as restored_redis:
        assert restored_redis.dbsize() == 500
        assert restored_redis.get("session:499") == f"{MARKER}-499".encode()


class redis_loading:  # noqa: N801 - used as a context manager like the server helpers
    """A redis-server started on a restored dump.rdb (how the runbook restores Redis)."""

    def __init__(self, rdb: Path) -> None:
        self.rdb, self.port = rdb, free_port()

    def __enter__(self):
        import redis

        conf = self.rdb.parent / "redis.conf"
        conf.write_text(f'bind 127.0.0.1\nport {self.port}\ndir "{self.rdb.parent}"\ndbfilename dump.rdb\nsave ""\nappendonly no\n')
        self.process = ServerProcess("Redis (restored)", [shutil.which("redis-server") or "/usr/bin/redis-server", str(conf)], log_path=self.rdb.parent / "redis.log").start()
        self.process.wait_until(lambda: port_accepts(self.port), timeout=20, what="listening")
        client = redis.Redis(host="127.0.0.1", port=self.port)
        self.process.wait_until(lambda: client.info("persistence")["loading"] == 0, timeout=20, what="loaded")
        return client

    def __exit__(self, *exc: object) -> None:
        self.process.stop()


@pytest.mark.servers
def test_a_failing_dump_leaves_no_snapshot_and_never_shows_the_password(postgres_server, tmp_path: Path) -> None:
    wrong = "definitely-not-the-password"
    config = make_config(tmp_path, targets=(postgres_target(postgres_server, tmp_path, "postgres", password=wrong),))
    credentials = file_credentials(tmp_path)

    result = run_backup(config, credentials)

    assert not result["success"]
    assert result["datasets"]["psra-db.postgres"]["success"] is False
    assert any(f.startswith("backup of psra-db.globals: restic backup exited with 1:") and "pg_dumpall" in f or "command failed" in f for f in result["failures"])
    assert all(wrong not in f for f in result["failures"])
    assert snapshot_list(config.repository, credentials.password_file) == []
    text = render(state.load(config.state_dir))
    assert "sevensa_backup_last_run_success 0" in text and "sevensa_backup_last_success_timestamp_seconds 0" in text
    assert 'sevensa_backup_dataset_success{dataset="psra-db.postgres",kind="postgres",service="psra-db"} 0' in text
    assert wrong not in (config.state_dir / "state.json").read_text() + (config.state_dir / "metrics.prom").read_text()


# -- restore drill ------------------------------------------------------------------------


@pytest.mark.servers
def test_restore_drill_restores_each_database_into_a_throwaway_one_and_compares(postgres_server, mariadb_server, tmp_path: Path) -> None:
    fill_postgres(postgres_server, "bk_drill")
    fill_mariadb(mariadb_server, "shop_drill")
    config = make_config(tmp_path, targets=(postgres_target(postgres_server, tmp_path, "bk_drill"), mariadb_target(mariadb_server, tmp_path, "shop_drill")))
    credentials = file_credentials(tmp_path)
    assert run_backup(config, credentials)["success"]
    with postgres_server.connect("bk_drill") as conn:  # written after the dump: the drill compares with the dump's snapshot
        conn.execute("INSERT INTO orders (customer_id, amount) VALUES (1, 1)")

    drill = run_drill(config, credentials)

    assert drill["success"], drill["failures"]
    assert drill["datasets"]["psra-db.bk_drill"] | {"seconds": 0} == {
        "success": True, "seconds": 0, "snapshot": drill["datasets"]["psra-db.bk_drill"]["snapshot"], "tables": 2, "rows": 7000,
        "compared_with": "figures recorded with the snapshot",
    }
    assert drill["datasets"]["wpcs-db.shop_drill"]["rows"] == 7000
    assert drill["datasets"]["wpcs-db.shop_drill"]["compared_with"] == "the live database"
    assert "sevensa_backup_restore_drill_success 1" in render(state.load(config.state_dir))
    with postgres_server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'restore_drill_%'").fetchone()[0] == 0
    assert mariadb_server.query(None, "SHOW DATABASES LIKE 'restore_drill_%'") == []

    recorded = state.load(config.state_dir)
    recorded["expected"]["psra-db.bk_drill"]["tables"]["public.orders"][0] = 4999
    state.save(config.state_dir, recorded)
    failed = run_drill(config, credentials)
    assert not failed["success"]
    assert failed["failures"][0].startswith(
        "restore drill of psra-db.bk_drill: psra-db.bk_drill: table public.orders restored with 5000 rows (checksum "
    )
    assert ", expected 4999 rows (checksum " in failed["failures"][0]
    assert "sevensa_backup_restore_drill_success 0" in render(state.load(config.state_dir))
    assert 'sevensa_backup_restore_drill_dataset_success{dataset="psra-db.bk_drill"} 0' in render(state.load(config.state_dir))


# -- verification ---------------------------------------------------------------------------


@pytest.mark.servers
def test_a_flipped_byte_in_the_repository_is_caught_by_restic_check(postgres_server, tmp_path: Path) -> None:
    fill_postgres(postgres_server, "bk_flip")
    config = make_config(tmp_path, targets=(postgres_target(postgres_server, tmp_path, "bk_flip"),))
    credentials = file_credentials(tmp_path)
    assert run_backup(config, credentials)["success"]
    assert run_check(config, credentials)["success"]  # the scheduled check: --read-data-subset=10%

    pack = max((p for p in (config.repository / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    pack.chmod(0o600)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x01
    pack.write_bytes(bytes(data))

    completed = subprocess.run(
        ["restic", "-r", str(config.repository), "--password-file", str(credentials.password_file), "check", "--read-data"], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode != 0
    assert pack.name in completed.stdout + completed.stderr
    result = run_check(config, credentials, read_all=True)
    assert not result["success"] and result["repositories"] == {"local": False}
    assert result["failures"][0].startswith("check of the local repository: restic check exited with 1:")
    assert 'sevensa_backup_check_success{repository="local"} 0' in render(state.load(config.state_dir))


# -- retention ---------------------------------------------------------------------------------


@pytest.mark.servers
def test_retention_keeps_seven_days_locally_thirty_for_redis_and_ninety_off_site(redis_server, rest_server, tmp_path: Path) -> None:
    certificates = tmp_path / "traefik-certificates"
    certificates.mkdir()
    retention = {"volume": {"local_days": 7, "offsite_days": 90}, "redis": {"local_days": 30}}
    config = make_config(tmp_path, targets=(redis_target(redis_server, tmp_path),), volumes=(("traefik-certificates", certificates),), retention=retention)
    offsite = offsite_repository({"repository": rest_server.repository("retention"), "password": secrets.token_hex(16)}, "offsite", tmp_path / "keys")
    credentials = file_credentials(tmp_path, offsite)
    now = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    for days in (-40, -10, -6, 0):  # one nightly run per fake day (restic's --time)
        (certificates / "acme.json").write_text(json.dumps({"day": days}))
        assert run_backup(config, credentials, now=now + timedelta(days=days))["success"]

    def days_kept(repository: str | Path, *tags: str, remote: bool = False) -> list[int]:
        password = offsite.password_file if remote else credentials.password_file
        args = ["snapshots", "--json", "--tag", ",".join(tags)]
        found = json.loads(restic(repository, password, *args, repository_file=remote))
        return sorted(round((datetime.fromisoformat(s["time"]) - now).total_seconds() / 86400) for s in found)

    assert days_kept(config.repository, "kind:volume") == [-6, 0]
    assert days_kept(config.repository, "kind:redis") == [-10, -6, 0]
    assert days_kept(offsite.location_file, "kind:volume", remote=True) == [-40, -10, -6, 0]
    assert days_kept(offsite.location_file, "kind:redis", remote=True) == []  # seed: Redis 7 days local only

    (certificates / "acme.json").write_text(json.dumps({"day": 60}))
    assert run_backup(config, credentials, now=now + timedelta(days=60))["success"]
    assert days_kept(config.repository, "kind:volume") == [60]
    assert days_kept(config.repository, "kind:redis") == [60]
    assert days_kept(offsite.location_file, "kind:volume", remote=True) == [-10, -6, 0, 60]
    newest = restic(offsite.location_file, offsite.password_file, "dump", "--tag", "kind:volume", "latest", "/" + str(certificates).lstrip("/") + "/acme.json", repository_file=True)
    assert json.loads(newest) == {"day": 60}


# -- off-site copies -------------------------------------------------------------------------


def restore_postgres_from(server, database: str, repository: Path, password_file: Path, dataset: str, remote_options: str = "") -> None:
    server.create_database(database)
    restored = pipe(
        f"restic --repository-file {repository} --password-file {password_file} {remote_options} dump --tag dataset:{dataset} latest /{dataset.split('.', 1)[1]}.sql"
        f" | psql -X -q -v ON_ERROR_STOP=1 --single-transaction '{server.conninfo(database)}'"
    )
    assert restored.returncode == 0, restored.stderr


@pytest.mark.servers
def test_the_rest_server_copy_restores_on_its_own(postgres_server, rest_server, tmp_path: Path) -> None:
    fill_postgres(postgres_server, "bk_rest")
    volume = tmp_path / "grafana-data"
    volume.mkdir()
    (volume / "grafana.db").write_bytes(os.urandom(1000))
    config = make_config(tmp_path, targets=(postgres_target(postgres_server, tmp_path, "bk_rest"),), volumes=(("grafana-data", volume),))
    record = {"repository": rest_server.repository("prod"), "password": secrets.token_hex(16)}
    offsite = offsite_repository(record, "offsite", tmp_path / "keys")
    credentials = file_credentials(tmp_path, offsite)

    result = run_backup(config, credentials)

    assert result["success"], result["failures"]
    assert result["offsite"] is True
    assert "sevensa_backup_offsite_copy_success 1" in render(state.load(config.state_dir))
    recorded = (config.state_dir / "state.json").read_text() + (config.state_dir / "metrics.prom").read_text()
    assert rest_server.password not in recorded and record["password"] not in recorded
    shutil.rmtree(config.repository)  # the VPS is gone: only the off-site copy is left
    shutil.rmtree(config.state_dir)
    remote = json.loads(restic(offsite.location_file, offsite.password_file, "snapshots", "--json", repository_file=True))
    assert {t for s in remote for t in s["tags"] if t.startswith("kind:")} == {"kind:postgres"}  # seed: volumes stay local
    restore_postgres_from(postgres_server, "bk_rest_restored", offsite.location_file, offsite.password_file, "psra-db.bk_rest")
    assert pg_checksums(postgres_server, "bk_rest_restored") == pg_checksums(postgres_server, "bk_rest")


@pytest.mark.servers
def test_the_sftp_copy_restores_on_its_own(postgres_server, sftp_server, tmp_path: Path) -> None:
    fill_postgres(postgres_server, "bk_sftp")
    config = make_config(tmp_path, targets=(postgres_target(postgres_server, tmp_path, "bk_sftp"),))
    record = {
        "repository": sftp_server.repository("prod"), "password": secrets.token_hex(16),
        "ssh_private_key": sftp_server.private_key, "ssh_known_hosts": sftp_server.known_hosts,
    }
    offsite = offsite_repository(record, "offsite", tmp_path / "keys")
    credentials = file_credentials(tmp_path, offsite)

    result = run_backup(config, credentials)

    assert result["success"], result["failures"]
    assert (sftp_server.root / "prod" / "config").is_file()
    shutil.rmtree(config.repository)
    options = " ".join(f"-o {json.dumps(o)}" for o in offsite.options)
    restore_postgres_from(postgres_server, "bk_sftp_restored", offsite.location_file, offsite.password_file, "psra-db.bk_sftp", options)
    assert pg_checksums(postgres_server, "bk_sftp_restored") == pg_checksums(postgres_server, "bk_sftp")


# -- OpenBao: the credentials and its own snapshot ----------------------------------------------


BACKUP_POLICY = """
path "sevensa/data/shared/backup/*" { capabilities = ["read"] }
path "sys/storage/raft/snapshot" { capabilities = ["read"] }
"""


@pytest.mark.servers
def test_the_job_reads_its_passwords_from_openbao_as_files_and_snapshots_openbao(openbao_raft, rest_server, tmp_path: Path) -> None:
    root = openbao_raft.client()
    if "sevensa/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("kv", path="sevensa", options={"version": "2"})
        root.sys.enable_auth_method("approle")
    root.sys.create_or_update_policy("backup-role", BACKUP_POLICY)
    root.auth.approle.create_or_update_approle("backup-role", token_policies=["backup-role"], token_ttl="1h")
    role_id = root.auth.approle.read_role_id("backup-role")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("backup-role")["data"]["secret_id"]
    password = secrets.token_hex(24)
    root.secrets.kv.v2.create_or_update_secret("shared/backup/repository-password", {"value": password}, mount_point="sevensa")
    root.secrets.kv.v2.create_or_update_secret("shared/backup/offsite", {"status": "unset", "set_with": "bao kv put"}, mount_point="sevensa")
    login = tmp_path / "approle"
    config = make_config(
        tmp_path,
        openbao={
            "address": openbao_raft.addr, "role_id_file": str(secret_file(login, "role-id", role_id)),
            "secret_id_file": str(secret_file(login, "secret-id", secret_id)), "offsite_key": "shared/backup/offsite", "snapshot": True,
        },
    )

    assert cli.run_job(config, "backup") is False  # the operator has not set the off-site record yet
    first = state.load(config.state_dir)["backup"]
    assert first["failures"] == ["off-site copy: OpenBao record 'shared/backup/offsite' has no field 'repository'"]
    assert first["datasets"]["openbao"]["success"] is True
    assert "sevensa_backup_offsite_copy_success 0" in render(state.load(config.state_dir))
    assert list(config.secrets_dir.iterdir()) == []  # password files gone after the job

    offsite_password = secrets.token_hex(16)
    root.secrets.kv.v2.create_or_update_secret(
        "shared/backup/offsite", {"repository": rest_server.repository("openbao-test"), "password": offsite_password}, mount_point="sevensa"
    )
    assert cli.run_job(config, "backup") is True
    assert cli.run_job(config, "check") is True
    recorded = (config.state_dir / "state.json").read_text()
    assert password not in recorded and offsite_password not in recorded and rest_server.password not in recorded

    password_file = secret_file(tmp_path / "operator", "password", password)
    snapshot = subprocess.run(
        ["restic", "-r", str(config.repository), "--password-file", str(password_file), "dump", "--tag", "dataset:openbao", "latest", "/openbao.snap"],
        capture_output=True, check=True, timeout=120,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(snapshot), mode="r:gz") as archive:
        assert {"meta.json", "state.bin"} <= set(archive.getnames())
    remote = secret_file(tmp_path / "operator", "offsite-repository", rest_server.repository("openbao-test"))
    remote_password = secret_file(tmp_path / "operator", "offsite-password", offsite_password)
    copied = json.loads(restic(remote, remote_password, "snapshots", "--json", "--tag", "kind:openbao", repository_file=True))
    assert len(copied) == 2  # both nights' OpenBao snapshots went off-site (seed: 90 days)


# -- repository growth ---------------------------------------------------------------------------


@pytest.mark.servers
def test_a_second_run_of_unchanged_data_adds_only_the_changed_chunks(postgres_server, tmp_path: Path) -> None:
    fill_postgres(postgres_server, "bk_dedup")
    with postgres_server.connect("bk_dedup") as conn:  # ~60 MB of dump: many of restic's 0.5-8 MiB chunks
        conn.execute("CREATE TABLE events AS SELECT i AS id, md5(i::text) || md5((i * 7)::text) AS payload FROM generate_series(1, 800000) i")
    config = make_config(tmp_path, targets=(postgres_target(postgres_server, tmp_path, "bk_dedup"),))
    credentials = file_credentials(tmp_path)
    first = run_backup(config, credentials)
    second = run_backup(config, credentials)
    dump_first, dump_second = first["datasets"]["psra-db.bk_dedup"], second["datasets"]["psra-db.bk_dedup"]
    assert min(dump_first["bytes"], dump_second["bytes"]) > 55_000_000
    assert dump_first["added_bytes"] > 0.9 * dump_first["bytes"]
    # pg_dump's random \\restrict line changes the first chunk, \\unrestrict the last: at most 2 x 8 MiB
    assert dump_second["added_bytes"] <= 2 * 8 * 1024 * 1024 < dump_second["bytes"] // 3
    assert second["repository_bytes"] - first["repository_bytes"] < first["repository_bytes"] // 3


# -- configuration and schedule -------------------------------------------------------------------


def test_config_errors_name_the_field_without_echoing_input(tmp_path: Path) -> None:
    good = make_config(tmp_path).model_dump(mode="json")
    with pytest.raises(ConfigError, match=r"schedules.backup: Value error, must be a five-field cron expression"):
        parse(good | {"schedules": {"backup": "61 * * * *"}})
    with pytest.raises(ConfigError, match=r"targets.0: Value error, a postgres target needs at least one database"):
        parse(good | {"targets": [{"name": "db", "engine": "postgres", "host": "h", "port": 5432, "user": "u", "password_file": "/p"}]})
    with pytest.raises(ConfigError, match=r"retention has no entry for volume"):
        parse(good | {"retention": {"postgres": {"local_days": 7}}, "volumes": [{"name": "v", "path": "/v"}]})
    with pytest.raises(ConfigError) as error:
        parse(good | {"environment": "bad name; rm -rf /"})
    assert "environment: String should match pattern" in str(error.value) and "rm -rf" not in str(error.value)


def test_the_schedule_comes_from_croniter_in_the_configured_zone() -> None:
    from zoneinfo import ZoneInfo

    from backup.platform_backup.config import Schedules
    from backup.platform_backup.schedule import next_due

    zone = ZoneInfo("Europe/Amsterdam")
    schedules = Schedules()  # backup 02:00 nightly, drill 03:30 nightly, check Sunday 05:00
    assert next_due(schedules, zone, datetime(2026, 6, 5, 1, 59, tzinfo=zone)) == (datetime(2026, 6, 5, 2, 0, tzinfo=zone), "backup")
    assert next_due(schedules, zone, datetime(2026, 6, 5, 2, 0, tzinfo=zone)) == (datetime(2026, 6, 5, 3, 30, tzinfo=zone), "drill")
    assert next_due(schedules, zone, datetime(2026, 6, 7, 3, 30, tzinfo=zone)) == (datetime(2026, 6, 7, 5, 0, tzinfo=zone), "check")  # a Sunday
    # 02:00 does not exist on the night clocks go forward: the backup runs at 03:00 instead of being skipped
    assert next_due(schedules, zone, datetime(2026, 3, 29, 1, 0, tzinfo=zone))[0].hour == 3
    utc = next_due(schedules, zone, datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    assert utc == (datetime(2026, 1, 1, 2, 0, tzinfo=zone), "backup")


def test_the_planned_config_is_valid_for_the_job_and_holds_no_secret(prod_plan) -> None:
    from tests.components.platform_helpers import file_content

    text = file_content(prod_plan, "backup", "/etc/backup/backup.json")
    config = parse(json.loads(text))
    assert config.environment == "prod" and config.timezone == "Europe/Amsterdam"
    assert (config.schedules.backup, config.schedules.check, config.schedules.drill) == ("0 2 * * *", "0 5 * * 0", "30 3 * * *")
    assert {kind: (r.local_days, r.offsite_days) for kind, r in config.retention.items()} == {
        "postgres": (7, 90), "mysql": (7, 90), "openbao": (30, 90), "redis": (7, None), "volume": (7, None)
    }
    assert {t.name for t in config.targets} == {"psra-db", "psra-redis", "rentguy-db", "rentguy-redis", "wpcs-db", "keycloak-db", "ai-db", "n8n-db", "ai-redis"}
    assert {v.name for v in config.volumes} == {"traefik-certificates", "grafana-data", "n8n-data", "openbao-audit"}  # openbao-data: raft snapshot
    assert config.openbao.snapshot and config.openbao.offsite_key == "shared/backup/offsite"
    assert str(config.repository) == "/opt/backups/repository" and str(config.secrets_dir) == "/run/restic"
    assert all(str(t.password_file).startswith("/run/secrets/") for t in config.targets)
    assert "password\":" not in text.replace("password_file", "").replace("password_key", "")


def test_a_job_that_cannot_reach_openbao_is_recorded_as_failed_without_the_login(tmp_path: Path) -> None:
    login = tmp_path / "approle"
    role_id, secret_id = secret_file(login, "role-id", "role-" + secrets.token_hex(8)), secret_file(login, "secret-id", "secret-" + secrets.token_hex(8))
    config = make_config(tmp_path, openbao={"address": f"http://127.0.0.1:{free_port()}", "role_id_file": str(role_id), "secret_id_file": str(secret_id)})

    assert cli.run_job(config, "backup") is False

    recorded = state.load(config.state_dir)["backup"]
    assert recorded["failures"] == ["AppRole login to OpenBao failed (ConnectionError)"]
    text = render(state.load(config.state_dir))
    assert "sevensa_backup_last_run_success 0" in text
    assert secret_id.read_text().strip() not in (config.state_dir / "state.json").read_text()


def test_serve_answers_metrics_and_health_until_the_first_job(tmp_path: Path) -> None:
    import httpx

    config = make_config(tmp_path)
    port = free_port()
    settings = config.model_dump(mode="json") | {"metrics_port": port, "schedules": {"backup": "0 2 1 1 *", "check": "0 2 1 1 *", "drill": "0 2 1 1 *"}}
    config_file = tmp_path / "backup.json"
    config_file.write_text(json.dumps(settings))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "backup")}
    process = subprocess.Popen([sys.executable, "-m", "platform_backup", "serve", "--config", str(config_file)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not port_accepts(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok\n"
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.startswith(
            "# HELP sevensa_backup_last_success_timestamp_seconds End of the newest backup run"
        )
        health = subprocess.run([sys.executable, "-m", "platform_backup", "healthcheck", "--port", str(port)], env=env, timeout=30, check=False)
        assert health.returncode == 0
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "INFO next job: backup at " in stderr and "-01-01T02:00:00+00:00\n" in stderr


def test_a_lock_left_by_a_killed_job_does_not_block_the_next_one(tmp_path: Path) -> None:
    """Found by the live lab: a backup stopped by a container restart left its restic lock, and every
    later backup failed at retention ("repository is already locked")."""
    from backup.platform_backup.restic import Restic

    password = secret_file(tmp_path, "password", secrets.token_urlsafe(16))
    repository = tmp_path / "repository"
    restic(repository, password, "init")
    stuck = subprocess.Popen(  # a backup reading a stdin that never ends, then killed like a container stop
        ["restic", "--repo", str(repository), "--password-file", str(password), "backup", "--stdin", "--host", "lab"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not list((repository / "locks").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    stuck.kill()
    stuck.wait()
    assert list((repository / "locks").iterdir()), "the killed backup left its lock"
    job = Restic(Repository(password_file=password, location=str(repository)), cache_dir=tmp_path / "cache", host="lab")
    assert job.ensure() is False
    assert list((repository / "locks").iterdir()) == []
    restic(repository, password, "forget", "--keep-last", "1", "--prune")
