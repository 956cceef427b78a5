"""The backup script, for real: dump -> encrypt -> decrypt -> restore against real servers.

PostgreSQL and Redis are the real servers of the `postgres_server` / `redis_server`
fixtures; pg_dump, pg_restore and redis-cli are the real Debian tools; the restore goes
through the same CLI an operator uses (`python -m platform_backup restore-postgres`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup.platform_backup import crypto, retention
from backup.platform_backup.config import BackupConfig, ConfigError, Target, VolumeSource, parse
from backup.platform_backup.metrics import render_metrics
from backup.platform_backup.runner import last_run, run_backup
from backup.platform_backup.schedule import Cron, CronError

ROOT = Path(__file__).resolve().parents[2]
MARKER = "PLAINTEXT-MARKER-ÄÖÜ-42"
CHECKSUM_SQL = {
    "customers": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY id)) FROM customers t",
    "orders": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY id)) FROM orders t",
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "backup")}
    return subprocess.run([sys.executable, "-m", "platform_backup", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup-key"
    path.write_text(os.urandom(32).hex() + "\n")
    path.chmod(0o600)
    return path


def write_password(tmp_path: Path, password: str) -> Path:
    path = tmp_path / "password"
    path.write_text(password + "\n")
    path.chmod(0o600)
    return path


def fill_source(server, name: str) -> None:
    server.create_database(name)
    with server.connect(name) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, profile jsonb, avatar bytea)")
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(12,2), note text)")
        conn.execute(
            "INSERT INTO customers (name, profile, avatar) SELECT %s || i, jsonb_build_object('n', i, 'tags', array['a','b']), "
            "decode(md5(i::text), 'hex') FROM generate_series(1, 2000) i",
            (MARKER,),
        )
        conn.execute(
            "INSERT INTO orders (customer_id, amount, note) SELECT 1 + (i % 2000), i * 1.25, repeat('x', i % 50) FROM generate_series(1, 5000) i"
        )
        conn.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 1000")


def checksums(server, name: str) -> dict[str, tuple]:
    with server.connect(name) as conn:
        return {table: tuple(conn.execute(sql).fetchone()) for table, sql in CHECKSUM_SQL.items()}


def postgres_config(server, tmp_path: Path, key_file: Path, database: str, password: str | None = None) -> BackupConfig:
    target = Target(
        name="psra-db",
        engine="postgres",
        host=server.host,
        port=server.port,
        user=server.user,
        password_file=write_password(tmp_path, password or server.password),
        databases=(database,),
    )
    return BackupConfig(local_path=tmp_path / "backups", key_file=key_file, retention_days=7, schedule="0 2 * * *", targets=(target,))


@pytest.mark.servers
def test_postgres_dump_encrypt_decrypt_restore_is_identical(postgres_server, tmp_path: Path, key_file: Path) -> None:
    fill_source(postgres_server, "backup_source")
    result = run_backup(postgres_config(postgres_server, tmp_path, key_file, "backup_source"))
    assert result.success, result.failures
    files = {f["file"]: f for f in result.files}
    assert set(files) == {"psra-db.globals.sql.enc", "psra-db.backup_source.pgdump.enc"}
    dump = result.path / "psra-db.backup_source.pgdump.enc"

    # the manifest describes exactly the ciphertext on disk; nothing readable is in it
    manifest = json.loads((result.path / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["file"] == dump.name)
    assert entry["bytes"] == dump.stat().st_size
    assert entry["sha256"] == __import__("hashlib").sha256(dump.read_bytes()).hexdigest()
    ciphertext = dump.read_bytes()
    assert ciphertext.startswith(crypto.MAGIC)
    assert b"PGDMP" not in ciphertext and MARKER.encode() not in ciphertext and b"customers" not in ciphertext
    assert (result.path / retention.COMPLETE_MARKER).exists()

    restored = "backup_restored"
    postgres_server.create_database(restored)
    outcome = cli("restore-postgres", "--key-file", str(key_file), "--dbname", postgres_server.conninfo(restored), str(dump))
    assert outcome.returncode == 0, outcome.stderr
    assert checksums(postgres_server, restored) == checksums(postgres_server, "backup_source")
    assert checksums(postgres_server, restored)["customers"][0] == 2000
    assert checksums(postgres_server, restored)["orders"][0] == 5000
    with postgres_server.connect(restored) as conn:
        assert conn.execute("SELECT count(*) FROM big_orders").fetchone()[0] == sum(1 for i in range(1, 5001) if i * 1.25 > 1000)

    globals_sql = tmp_path / "globals.sql"
    assert cli("decrypt", "--key-file", str(key_file), str(result.path / "psra-db.globals.sql.enc"), str(globals_sql)).returncode == 0
    assert f"ALTER ROLE {postgres_server.user} WITH SUPERUSER" in globals_sql.read_text()


@pytest.mark.servers
def test_a_wrong_key_fails_loudly_and_writes_nothing(postgres_server, tmp_path: Path, key_file: Path) -> None:
    fill_source(postgres_server, "backup_wrong_key")
    result = run_backup(postgres_config(postgres_server, tmp_path, key_file, "backup_wrong_key"))
    dump = result.path / "psra-db.backup_wrong_key.pgdump.enc"
    other_key = tmp_path / "other-key"
    other_key.write_text(os.urandom(32).hex())
    target = tmp_path / "out.pgdump"
    outcome = cli("decrypt", "--key-file", str(other_key), str(dump), str(target))
    assert outcome.returncode == 1
    assert "segment 0 failed authentication: wrong key" in outcome.stderr
    assert not target.exists() and not target.with_name("out.pgdump.partial").exists()
    restored = "backup_wrong_key_target"
    postgres_server.create_database(restored)
    outcome = cli("restore-postgres", "--key-file", str(other_key), "--dbname", postgres_server.conninfo(restored), str(dump))
    assert outcome.returncode == 1 and "failed authentication" in outcome.stderr
    with postgres_server.connect(restored) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


@pytest.mark.servers
def test_a_failing_dump_is_recorded_without_leaking_the_password(postgres_server, tmp_path: Path, key_file: Path) -> None:
    config = postgres_config(postgres_server, tmp_path, key_file, "postgres", password="definitely-not-the-password")
    result = run_backup(config)
    assert not result.success
    assert any("pg_dumpall exited with" in failure for failure in result.failures)
    assert all("definitely-not-the-password" not in failure for failure in result.failures)
    assert not (result.path / retention.COMPLETE_MARKER).exists()
    assert list(result.path.glob("*.enc")) == []
    assert last_run(config.local_path)["success"] is False
    assert "sevensa_backup_last_run_success 0" in render_metrics(config.local_path)


@pytest.mark.servers
def test_redis_rdb_snapshot_round_trips(redis_server, tmp_path: Path, key_file: Path) -> None:
    client = redis_server.client()
    client.set("backup:test", MARKER)
    target = Target(
        name="psra-redis", engine="redis", host=redis_server.host, port=redis_server.port, user="default", password_file=write_password(tmp_path, redis_server.password)
    )
    config = BackupConfig(local_path=tmp_path / "backups", key_file=key_file, retention_days=7, schedule="0 2 * * *", targets=(target,))
    result = run_backup(config)
    assert result.success, result.failures
    encrypted = result.path / "psra-redis.rdb.enc"
    assert MARKER.encode() not in encrypted.read_bytes()
    rdb = tmp_path / "dump.rdb"
    crypto.decrypt_file(encrypted, rdb, crypto.load_key(key_file))
    content = rdb.read_bytes()
    assert content.startswith(b"REDIS") and MARKER.encode() in content


def test_volume_archive_round_trips(tmp_path: Path, key_file: Path) -> None:
    source = tmp_path / "acme"
    (source / "sub").mkdir(parents=True)
    (source / "acme.json").write_text('{"letsencrypt": {}}')
    (source / "sub" / "blob.bin").write_bytes(os.urandom(3 * crypto.SEGMENT_BYTES // 2))
    config = BackupConfig(
        local_path=tmp_path / "backups", key_file=key_file, retention_days=7, schedule="0 2 * * *", volumes=(VolumeSource("traefik-certificates", source),)
    )
    result = run_backup(config)
    assert result.success, result.failures
    archive = tmp_path / "volume.tar.gz"
    crypto.decrypt_file(result.path / "traefik-certificates.tar.gz.enc", archive, crypto.load_key(key_file))
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"traefik-certificates/acme.json", "traefik-certificates/sub/blob.bin"} <= names
        assert tar.extractfile("traefik-certificates/sub/blob.bin").read() == (source / "sub" / "blob.bin").read_bytes()


def encrypted_sample(tmp_path: Path, key: bytes, size: int) -> tuple[bytes, Path]:
    plain = os.urandom(size)
    source, target = tmp_path / "plain", tmp_path / "cipher"
    source.write_bytes(plain)
    crypto.encrypt_file(source, target, key)
    return plain, target


@pytest.mark.parametrize("size", [0, 1, crypto.SEGMENT_BYTES, crypto.SEGMENT_BYTES + 1, 5 * crypto.SEGMENT_BYTES // 2])
def test_stream_encryption_round_trips_at_segment_boundaries(tmp_path: Path, size: int) -> None:
    key = os.urandom(32)
    plain, target = encrypted_sample(tmp_path, key, size)
    segments = max(1, -(-size // crypto.SEGMENT_BYTES))
    assert target.stat().st_size == crypto.HEADER_BYTES + size + segments * crypto.TAG_BYTES
    out = tmp_path / "out"
    assert crypto.decrypt_file(target, out, key) == size and out.read_bytes() == plain


def test_tampering_and_truncation_are_detected(tmp_path: Path) -> None:
    key = os.urandom(32)
    _, target = encrypted_sample(tmp_path, key, 5 * crypto.SEGMENT_BYTES // 2)
    data = bytearray(target.read_bytes())

    flipped = tmp_path / "flipped"
    data[crypto.HEADER_BYTES + crypto.SEGMENT_BYTES + 100] ^= 0x01
    flipped.write_bytes(bytes(data))
    with pytest.raises(crypto.DecryptionError, match="segment 1 failed authentication"):
        crypto.decrypt_file(flipped, tmp_path / "out", key)

    truncated = tmp_path / "truncated"
    truncated.write_bytes(target.read_bytes()[: crypto.HEADER_BYTES + 2 * (crypto.SEGMENT_BYTES + crypto.TAG_BYTES)])
    with pytest.raises(crypto.DecryptionError, match="segment 1 failed authentication"):
        crypto.decrypt_file(truncated, tmp_path / "out", key)
    assert not (tmp_path / "out").exists()

    with pytest.raises(crypto.DecryptionError, match="bad header"):
        crypto.decrypt_stream(open(tmp_path / "plain", "rb"), open(os.devnull, "wb"), key)  # noqa: SIM115


def test_each_file_gets_its_own_key_and_nonces(tmp_path: Path) -> None:
    key = os.urandom(32)
    source = tmp_path / "same"
    source.write_bytes(b"identical plaintext" * 100)
    crypto.encrypt_file(source, tmp_path / "a", key)
    crypto.encrypt_file(source, tmp_path / "b", key)
    assert (tmp_path / "a").read_bytes() != (tmp_path / "b").read_bytes()


def test_key_file_must_hold_32_bytes_of_hex(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abcd")
    with pytest.raises(ValueError, match="must be 32 bytes"):
        crypto.load_key(short)
    wrong = tmp_path / "wrong"
    wrong.write_text("z" * 64)
    with pytest.raises(ValueError, match="64 hex characters"):
        crypto.load_key(wrong)


def make_run(root: Path, moment: datetime, complete: bool = True) -> Path:
    path = root / retention.run_name(moment)
    path.mkdir(parents=True)
    if complete:
        (path / retention.COMPLETE_MARKER).write_text("")
    return path


def test_retention_keeps_seven_days_and_always_the_newest_complete_run(tmp_path: Path) -> None:
    now = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)
    old = [make_run(tmp_path, now - timedelta(days=d)) for d in (10, 8)]
    kept = [make_run(tmp_path, now - timedelta(days=d)) for d in (6, 1)]
    (tmp_path / "not-a-run").mkdir()
    removed = retention.prune(tmp_path, 7, now)
    assert removed == old
    assert retention.runs(tmp_path) == kept and (tmp_path / "not-a-run").exists()

    lonely = tmp_path / "lonely"
    newest = make_run(lonely, now - timedelta(days=30))
    make_run(lonely, now - timedelta(days=20), complete=False)
    retention.prune(lonely, 7, now)
    assert retention.runs(lonely) == [newest]


def test_metrics_report_the_newest_complete_run(tmp_path: Path) -> None:
    now = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)
    make_run(tmp_path, now - timedelta(days=2))
    make_run(tmp_path, now - timedelta(days=1))
    make_run(tmp_path, now, complete=False)
    text = render_metrics(tmp_path)
    assert f"sevensa_backup_last_success_timestamp_seconds {(now - timedelta(days=1)).timestamp()}" in text
    assert "sevensa_backup_runs_kept 3" in text


def test_cron_schedule_matches_the_seed() -> None:
    cron = Cron.parse("0 2 * * *")
    assert cron.next_after(datetime(2025, 1, 1, 1, 59)) == datetime(2025, 1, 1, 2, 0)
    assert cron.next_after(datetime(2025, 1, 1, 2, 0)) == datetime(2025, 1, 2, 2, 0)
    assert Cron.parse("30 3 * * 0").next_after(datetime(2025, 1, 1)) == datetime(2025, 1, 5, 3, 30)  # a Sunday
    assert Cron.parse("*/20 * 1 * *").next_after(datetime(2025, 1, 31, 23, 59)) == datetime(2025, 2, 1, 0, 0)
    for bad in ("0 2 * *", "61 * * * *", "x * * * *", "*/0 * * * *"):
        with pytest.raises(CronError):
            Cron.parse(bad)


def test_config_errors_name_the_problem() -> None:
    base = {"local_path": "/b", "key_file": "/k", "retention_days": 7, "schedule": "0 2 * * *"}
    with pytest.raises(ConfigError, match="missing 'schedule'"):
        parse({k: v for k, v in base.items() if k != "schedule"})
    with pytest.raises(ConfigError, match="engine 'oracle'"):
        parse(base | {"targets": [{"name": "x", "engine": "oracle", "host": "h", "port": 1, "user": "u", "password_file": "/p"}]})
    with pytest.raises(ConfigError, match="needs at least one database"):
        parse(base | {"targets": [{"name": "x", "engine": "postgres", "host": "h", "port": 1, "user": "u", "password_file": "/p"}]})


def test_the_planned_config_is_valid_for_the_script(prod_plan) -> None:
    from tests.unit.platform_helpers import file_content

    config = parse(json.loads(file_content(prod_plan, "backup", "/etc/backup/backup.json")))
    assert config.schedule == "0 2 * * *" and config.retention_days == 7
    assert {t.name for t in config.targets} == {"psra-db", "psra-redis", "rentguy-db", "rentguy-redis", "wpcs-db", "keycloak-db", "ai-db", "n8n-db", "ai-redis"}
    assert {v.name for v in config.volumes} >= {"openbao-data", "traefik-certificates", "grafana-data"}
    assert all(str(t.password_file).startswith("/run/secrets/") for t in config.targets)


@pytest.mark.servers
def test_the_nightly_restore_check_restores_into_a_scratch_database_and_drops_it(postgres_server, tmp_path: Path, key_file: Path) -> None:
    fill_source(postgres_server, "backup_checked")
    config = postgres_config(postgres_server, tmp_path, key_file, "backup_checked")
    config = BackupConfig(**{**config.__dict__, "restore_check": True})
    result = run_backup(config)
    assert result.success, result.failures
    assert result.restore_checks == [{"target": "psra-db", "database": "backup_checked", "tables": 2, "rows": 7000}]
    assert json.loads((result.path / "manifest.json").read_text())["restore_checks"] == result.restore_checks
    with postgres_server.connect("postgres") as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'restore_check_%'").fetchone()[0] == 0


@pytest.mark.servers
def test_a_restore_check_against_a_tampered_dump_fails_the_run(postgres_server, tmp_path: Path, key_file: Path) -> None:
    from backup.platform_backup.restore_check import check_postgres

    fill_source(postgres_server, "backup_tampered")
    config = postgres_config(postgres_server, tmp_path, key_file, "backup_tampered")
    result = run_backup(config)
    dump = result.path / "psra-db.backup_tampered.pgdump.enc"
    data = bytearray(dump.read_bytes())
    data[-5] ^= 0xFF
    dump.write_bytes(bytes(data))
    with pytest.raises(crypto.DecryptionError, match="failed authentication"):
        check_postgres(config.targets[0], "backup_tampered", dump, crypto.load_key(key_file))
    with postgres_server.connect("postgres") as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'restore_check_backup_tampered'").fetchone()[0] == 0
