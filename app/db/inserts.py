"""Insert write-once rows into several tables atomically, on PostgreSQL in a single round trip.

Through SQLAlchemy every statement costs a round trip (BEGIN, each INSERT, COMMIT: five for a stored
calculation) and its execution machinery costs more CPU per request than the engine. On PostgreSQL with
psycopg the same statements, compiled once by SQLAlchemy with the same bind processors (JSON documents,
booleans) and casts, are sent in psycopg's pipeline mode on a connection from the engine's own pool, with
one Sync at the end and no BEGIN/COMMIT: PostgreSQL runs everything up to a Sync as one implicit
transaction, committed at the Sync, or rolled back whole when any statement fails (the protocol's
pipelining rules; tests/app/test_api.py checks it). psycopg prepares the statements after a few uses.
Other databases (the embedded SQLite) take the plain Core path in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import DBAPIError

Rows = Sequence[Mapping[str, Any]]
_Compiled = tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]]


class AtomicInserts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pipelined = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def insert(self, batches: Sequence[tuple[Table, Rows]]) -> None:
        """Insert every batch (rows of one table, all with the same keys) in one transaction, in order."""
        batches = [(table, rows) for table, rows in batches if rows]
        if not self._pipelined:
            with self._engine.begin() as connection:
                for table, rows in batches:
                    connection.execute(insert(table), list(rows))
            return
        statements = []
        for table, rows in batches:
            sql, processors = self._compile(table, tuple(rows[0]))
            params = [{key: row[key] if process is None else process(row[key]) for key, process in processors} for row in rows]
            statements.append((sql, params))
        self._send(statements)

    def _compile(self, table: Table, keys: tuple[str, ...]) -> _Compiled:
        compiled = self._compiled.get((table.name, keys))
        if compiled is None:
            dialect = self._engine.dialect
            sql = insert(table).compile(dialect=dialect, column_keys=list(keys)).string
            processors = tuple((key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys)
            compiled = self._compiled[(table.name, keys)] = (sql, processors)
        return compiled

    def _send(self, statements: list[tuple[str, list[dict[str, Any]]]]) -> None:
        import psycopg

        fairy = self._engine.raw_connection()  # checked out of (and returned to) the engine's pool
        connection: psycopg.Connection[Any] = fairy.driver_connection  # type: ignore[assignment]
        try:
            # Autocommit only stops psycopg from sending its own BEGIN (a round trip of its own in pipeline
            # mode); the one Sync sent when the pipeline closes makes all statements one transaction.
            connection.autocommit = True
            with connection.pipeline(), connection.cursor() as cursor:
                for sql, params in statements:
                    if len(params) == 1:
                        cursor.execute(sql, params[0])
                    else:
                        cursor.executemany(sql, params)
        except psycopg.Error as error:
            # the exception SQLAlchemy would raise (IntegrityError, OperationalError...), parameters hidden
            raise DBAPIError.instance(
                "; ".join(sql for sql, _ in statements),
                None,
                error,
                psycopg.Error,
                hide_parameters=True,
                connection_invalidated=self._engine.dialect.is_disconnect(error, connection, None),
                dialect=self._engine.dialect,
            ) from error
        finally:
            if connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                connection.autocommit = False  # back as the pool hands it out
            else:
                fairy.invalidate()  # lost, or in a state we did not expect: never hand it out again
            fairy.close()  # back to the pool
