"""The restore drill: the latest snapshot of each database, restored into a throw-away database
on its own server (`restore_drill_<db>`), must hold the rows and checksums it was taken with.

PostgreSQL compares with the figures recorded in the dump's own snapshot (exact even on a
busy database); without such a record (e.g. a snapshot made elsewhere) and for
MariaDB/MySQL it compares with the live source, which is exact only while nobody writes.
The throw-away database is dropped afterwards, pass or fail.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from . import checksums
from .datasets import DataSet, mysql_option_file, pg_command, pg_connection, pg_passfile
from .restic import Restic

SCRATCH_PREFIX = "restore_drill_"


class DrillError(RuntimeError):
    """The restore failed or its figures differ (names the data set and the first differing table)."""


@dataclass(frozen=True)
class DrillResult:
    dataset: str
    snapshot: str
    tables: int
    rows: int
    seconds: float
    compared_with: str


def scratch_name(database: str) -> str:
    return f"{SCRATCH_PREFIX}{database}"[:63]


def compare(dataset: str, restored: checksums.Figures, expected: checksums.Figures) -> None:
    if set(restored) != set(expected):
        missing, extra = sorted(set(expected) - set(restored)), sorted(set(restored) - set(expected))
        raise DrillError(f"{dataset}: restored tables differ (missing {missing[:5]}, unexpected {extra[:5]})")
    for table in sorted(expected):
        if restored[table] != expected[table]:
            raise DrillError(
                f"{dataset}: table {table} restored with {restored[table][0]} rows (checksum {restored[table][1]}), "
                f"expected {expected[table][0]} rows (checksum {expected[table][1]})"
            )


def drill(dataset: DataSet, restic: Restic, private: Path, recorded: dict[str, Any] | None) -> DrillResult:
    """Restore `dataset`'s latest snapshot into a throw-away database and compare; raises DrillError."""
    started = time.monotonic()
    latest = restic.snapshots(tags=[f"dataset:{dataset.name}"], latest=True)
    if not latest:
        raise DrillError(f"{dataset.name}: no snapshot to restore")
    snapshot = latest[-1]["id"]
    restore = _restore_postgres if dataset.kind == "postgres" else _restore_mysql
    restored, source = restore(dataset, restic, snapshot, private)
    if recorded and recorded.get("snapshot") == snapshot:
        expected, compared_with = recorded["tables"], "figures recorded with the snapshot"
    else:
        expected, compared_with = source(), "the live database"
    compare(dataset.name, restored, expected)
    return DrillResult(dataset.name, snapshot[:8], len(restored), sum(int(f[0]) for f in restored.values()), time.monotonic() - started, compared_with)


def _restore_postgres(dataset: DataSet, restic: Restic, snapshot: str, private: Path):
    target, database = dataset.target, str(dataset.database)
    assert target is not None
    scratch = scratch_name(database)
    env = {**os.environ, "PGPASSFILE": str(pg_passfile(target, private)), "PGCONNECT_TIMEOUT": "10"}

    def admin(statement: sql.Composable) -> None:
        with pg_connection(target, "postgres") as conn:
            conn.autocommit = True
            conn.execute(statement)

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
    admin(drop)
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    try:
        with restic.dump(snapshot, f"/{dataset.filename}") as stream:
            psql = pg_command("psql", target, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", scratch, "-o", "/dev/null")
            completed = subprocess.run(psql, stdin=stream, capture_output=True, text=True, env=env, timeout=6 * 3600, check=False)  # noqa: S603
        if completed.returncode != 0:
            raise DrillError(f"{dataset.name}: psql failed restoring snapshot {snapshot[:8]}: {completed.stderr.strip().splitlines()[-1:]}")
        with pg_connection(target, scratch) as conn:
            restored = checksums.postgres(conn)
    finally:
        admin(drop)

    def source() -> checksums.Figures:
        with pg_connection(target, database) as conn:
            return checksums.postgres(conn)

    return restored, source


def _restore_mysql(dataset: DataSet, restic: Restic, snapshot: str, private: Path):
    target, database = dataset.target, str(dataset.database)
    assert target is not None
    scratch = scratch_name(database)
    options = mysql_option_file(target, private)
    quoted = "`" + scratch.replace("`", "``") + "`"

    def admin(statement: str) -> None:
        completed = subprocess.run(  # noqa: S603
            ["mariadb", f"--defaults-extra-file={options}", "--execute", statement], capture_output=True, text=True, timeout=600, check=False
        )
        if completed.returncode != 0:
            raise DrillError(f"{dataset.name}: {completed.stderr.strip().splitlines()[-1:]}")

    admin(f"DROP DATABASE IF EXISTS {quoted}")
    admin(f"CREATE DATABASE {quoted}")
    try:
        with restic.dump(snapshot, f"/{dataset.filename}") as stream:
            completed = subprocess.run(  # noqa: S603
                ["mariadb", f"--defaults-extra-file={options}", "--database", scratch], stdin=stream, capture_output=True, text=True, timeout=6 * 3600, check=False
            )
        if completed.returncode != 0:
            raise DrillError(f"{dataset.name}: mariadb failed restoring snapshot {snapshot[:8]}: {completed.stderr.strip().splitlines()[-1:]}")
        restored = checksums.mysql(options, scratch)
    finally:
        admin(f"DROP DATABASE IF EXISTS {quoted}")
    return restored, lambda: checksums.mysql(options, database)
