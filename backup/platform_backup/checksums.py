"""Row counts and order-independent checksums of every user table, to compare a restore with its source.

PostgreSQL: `count(*)` and the sum of the first 60 bits of each row's md5 (streamed by the
server, constant memory, independent of row order). MariaDB/MySQL: `COUNT(*)` and
`CHECKSUM TABLE … EXTENDED`. A table's figures are `[rows, checksum]`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

Figures = dict[str, list[int | str]]

PG_TABLES = (
    "SELECT schemaname, tablename FROM pg_tables "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
)
PG_TABLE = "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text FROM {} t"
MYSQL_TABLES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
)


def postgres(conn: psycopg.Connection) -> Figures:
    """Figures of every user table, in `conn`'s current transaction (and snapshot)."""
    figures: Figures = {}
    for schema, table in conn.execute(PG_TABLES).fetchall():
        rows, checksum = conn.execute(sql.SQL(PG_TABLE).format(sql.Identifier(schema, table))).fetchone()
        figures[f"{schema}.{table}"] = [rows, checksum]
    return figures


def mysql(option_file: Path, database: str) -> Figures:
    """Figures of every base table of `database`, through the `mariadb` client."""

    def query(statement: str) -> list[list[str]]:
        completed = subprocess.run(  # noqa: S603
            ["mariadb", f"--defaults-extra-file={option_file}", "--batch", "--skip-column-names", "--database", database, "--execute", statement],
            capture_output=True, text=True, timeout=3600, check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"mariadb query on {database} failed: {completed.stderr.strip().splitlines()[-1:]}")
        return [line.split("\t") for line in completed.stdout.splitlines()]

    tables = [row[0] for row in query(MYSQL_TABLES)]
    if not tables:
        return {}
    quoted = ["`" + t.replace("`", "``") + "`" for t in tables]
    counts = query(" UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {q}" for i, q in enumerate(quoted)))
    sums = {row[0].split(".", 1)[1]: row[1] for row in query(f"CHECKSUM TABLE {', '.join(quoted)} EXTENDED")}
    by_index = {int(i): int(n) for i, n in counts}
    return {table: [by_index[i], sums.get(table, "")] for i, table in enumerate(tables)}
