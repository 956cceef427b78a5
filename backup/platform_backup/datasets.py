"""The data sets of one backup run, each one restic snapshot tagged `service:…`, `dataset:…`, `kind:…`.

- PostgreSQL: `pg_dump` (plain SQL, dedups well) of each database, in a snapshot exported
  by a transaction that then records every table's row count and checksum (what the
  restore drill must get back), plus `pg_dumpall --globals-only` (roles);
- MariaDB/MySQL: `mariadb-dump --single-transaction` of each database (no CREATE
  DATABASE: it restores into any database name);
- Redis: its RDB snapshot (`redis-cli --rdb -`);
- OpenBao: the raft storage snapshot (`GET /v1/sys/storage/raft/snapshot`);
- named volumes: the mounted directory.
Dumps stream into `restic backup --stdin-from-command`: no plaintext on disk, and a tool
that fails leaves no snapshot. Passwords reach the tools through 0600 files in the
private directory (PGPASSFILE, --defaults-extra-file) or, for redis-cli, its environment.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from . import checksums
from .config import BackupConfig, Target, Volume
from .restic import Restic, Snapshot

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Outcome:
    snapshot: Snapshot
    expected: checksums.Figures | None = None


@dataclass(frozen=True)
class DataSet:
    """One thing to back up; `filename` is its path inside the snapshot (`/<filename>`)."""

    name: str
    kind: str
    service: str
    filename: str
    target: Target | None = None
    database: str | None = None
    volume: Volume | None = None
    tags: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", (f"service:{self.service}", f"dataset:{self.name}", f"kind:{self.kind}"))


def password(target: Target) -> str:
    return target.password_file.read_text().strip()


def pg_passfile(target: Target, directory: Path) -> Path:
    escaped = password(target).replace("\\", "\\\\").replace(":", "\\:")
    return _private(directory / f"{target.name}.pgpass", f"*:*:*:*:{escaped}\n")


def mysql_option_file(target: Target, directory: Path) -> Path:
    quoted = password(target).replace("\\", "\\\\").replace('"', '\\"')
    content = f'[client]\nuser={target.user}\npassword="{quoted}"\nhost={target.host}\nport={target.port}\n'
    return _private(directory / f"{target.name}.cnf", content)


def _private(path: Path, content: str) -> Path:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(content)
    return path


def pg_connection(target: Target, database: str) -> psycopg.Connection:
    return psycopg.connect(host=target.host, port=target.port, user=target.user, password=password(target), dbname=database, connect_timeout=10)


def pg_command(tool: str, target: Target, *args: str) -> list[str]:
    return [tool, "-h", target.host, "-p", str(target.port), "-U", target.user, "--no-password", *args]


def datasets(config: BackupConfig) -> list[DataSet]:
    found: list[DataSet] = []
    for target in config.targets:
        if target.engine == "postgres":
            found.append(DataSet(f"{target.name}.globals", "postgres", target.name, "globals.sql", target=target))
        if target.engine in ("postgres", "mysql"):
            found += [DataSet(f"{target.name}.{db}", target.engine, target.name, f"{db}.sql", target=target, database=db) for db in target.databases]
        if target.engine == "redis":
            found.append(DataSet(target.name, "redis", target.name, "dump.rdb", target=target))
    if config.openbao.snapshot:
        found.append(DataSet("openbao", "openbao", "openbao", "openbao.snap"))
    found += [DataSet(v.name, "volume", v.name, v.name, volume=v) for v in config.volumes]
    return found


def back_up(dataset: DataSet, restic: Restic, private: Path, openbao: tuple[str, Path], when: datetime | None = None) -> Outcome:
    """One snapshot of `dataset`; `openbao` is (address, token file) for the raft snapshot."""
    target = dataset.target
    if dataset.volume is not None:
        if not dataset.volume.path.is_dir():
            raise FileNotFoundError(f"{dataset.volume.path} is not a mounted directory")
        return Outcome(restic.backup_paths([dataset.volume.path], dataset.tags, when))
    if dataset.kind == "openbao":
        address, token_file = openbao
        command = [sys.executable, "-m", "platform_backup", "openbao-snapshot", "--address", address, "--token-file", str(token_file)]
        return Outcome(restic.backup_command(command, dataset.filename, dataset.tags, when, env={"PYTHONPATH": str(PACKAGE_ROOT)}))
    assert target is not None
    if dataset.kind == "redis":
        command = ["redis-cli", "-h", target.host, "-p", str(target.port), "--no-auth-warning", "--rdb", "-"]
        secret = password(target)
        return Outcome(restic.backup_command(command, dataset.filename, dataset.tags, when, env={"REDISCLI_AUTH": secret}, secrets=[secret]))
    if dataset.kind == "mysql":
        options = mysql_option_file(target, private)
        command = ["mariadb-dump", f"--defaults-extra-file={options}", "--single-transaction", "--routines", "--events", "--triggers", "--hex-blob", str(dataset.database)]
        return Outcome(restic.backup_command(command, dataset.filename, dataset.tags, when))
    env = {"PGPASSFILE": str(pg_passfile(target, private)), "PGCONNECT_TIMEOUT": "10"}
    if dataset.database is None:
        return Outcome(restic.backup_command(pg_command("pg_dumpall", target, "--globals-only"), dataset.filename, dataset.tags, when, env=env))
    with pg_connection(target, dataset.database) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        exported = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        command = pg_command("pg_dump", target, f"--snapshot={exported}", "--format=plain", "--dbname", dataset.database)
        snapshot = restic.backup_command(command, dataset.filename, dataset.tags, when, env=env)
        return Outcome(snapshot, checksums.postgres(conn))
