"""The nightly restore test (BK-03): each fresh PostgreSQL dump is restored into a scratch
database on its own server and queried, then the scratch database is dropped.

The ciphertext is decrypted straight into `pg_restore`'s stdin: no plaintext on disk. A
check passes when the restore succeeds and the scratch database holds as many user tables
and rows (by `pg_class.reltuples`-free exact counts) as the source.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import crypto
from .config import Target

SCRATCH_PREFIX = "restore_check_"
COUNT_SQL = (
    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)
ROWS_SQL = (
    "SELECT coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint), 0) "
    "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)


class RestoreCheckError(RuntimeError):
    pass


@dataclass(frozen=True)
class RestoreCheck:
    target: str
    database: str
    tables: int
    rows: int


def _psql(target: Target, env: dict[str, str], database: str, sql: str) -> str:
    command = ["psql", "-h", target.host, "-p", str(target.port), "-U", target.user, "--no-password", "-d", database, "-tAX", "-v", "ON_ERROR_STOP=1", "-c", sql]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:
        raise RestoreCheckError(f"{target.name}: psql failed: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout.strip()


def check_postgres(target: Target, database: str, encrypted: Path, key: bytes) -> RestoreCheck:
    """Restore `encrypted` (a pg_dump -Fc of `database`) into a scratch database and compare."""
    env = {**os.environ, "PGPASSWORD": target.password_file.read_text().strip(), "PGCONNECT_TIMEOUT": "10"}
    scratch = f"{SCRATCH_PREFIX}{database}"[:63]
    _psql(target, env, "postgres", f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    _psql(target, env, "postgres", f'CREATE DATABASE "{scratch}"')
    try:
        command = ["pg_restore", "-h", target.host, "-p", str(target.port), "-U", target.user, "--no-password", "--no-owner", "--exit-on-error", "--dbname", scratch]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        assert process.stdin is not None and process.stderr is not None
        try:
            with encrypted.open("rb") as source:
                crypto.decrypt_stream(source, process.stdin, key)  # type: ignore[arg-type]
        finally:
            process.stdin.close()
        errors = process.stderr.read().decode(errors="replace")
        if process.wait() != 0:
            raise RestoreCheckError(f"{target.name}/{database}: pg_restore failed: {errors.strip().splitlines()[-1:]}")
        source_counts = (int(_psql(target, env, database, COUNT_SQL)), int(_psql(target, env, database, ROWS_SQL)))
        restored_counts = (int(_psql(target, env, scratch, COUNT_SQL)), int(_psql(target, env, scratch, ROWS_SQL)))
        # rows written after the dump started may exist in the source only: fewer is fine, more is not
        if restored_counts[0] != source_counts[0] or restored_counts[1] > source_counts[1]:
            raise RestoreCheckError(
                f"{target.name}/{database}: restored {restored_counts[0]} tables/{restored_counts[1]} rows, "
                f"source has {source_counts[0]}/{source_counts[1]}"
            )
        return RestoreCheck(target.name, database, *restored_counts)
    finally:
        _psql(target, env, "postgres", f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
