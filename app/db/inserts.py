"""Insert write-once rows into several tables atomically, on PostgreSQL in a single round trip.

Through SQLAlchemy every statement costs a round trip (BEGIN, each INSERT, COMMIT: five for a stored
calculation) and its execution machinery costs more CPU per request than the engine. On PostgreSQL with
psycopg the same statements, compiled once by SQLAlchemy with the same bind processors (JSON documents,
booleans), casts and connection settings, are sent in psycopg's pipeline mode with one Sync at the end and
no BEGIN/COMMIT: PostgreSQL runs everything up to a Sync as one implicit transaction, committed at the
Sync or rolled back whole when any statement fails (the protocol's pipelining rules; tests/app/test_api.py
checks it). psycopg prepares the statements server-side after a few uses.

`insert_async` does this on psycopg's asyncio connections (a small pool of autocommit connections of its
own, on the event loop the app started on), so a request never waits for a worker thread; `insert` blocks,
on a connection of the engine's pool. Other databases (the embedded SQLite), and other event loops (test
clients that drive the app without its lifespan), get `insert` in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    import psycopg

Rows = Sequence[Mapping[str, Any]]
Statements = list[tuple[str, list[dict[str, Any]]]]
_Compiled = tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]]


class AtomicInserts:
    def __init__(self, engine: Engine, async_pool_size: int = 10, recycle_seconds: float = 1800.0) -> None:
        self._engine = engine
        self._pipelined = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        self._async_pool_size = async_pool_size
        self._recycle = recycle_seconds
        self._async: _AsyncConnections | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve `insert_async` on `loop` (the app's) with asyncio connections; call from that loop."""
        if self._pipelined:
            self._async = _AsyncConnections(self._engine, loop, self._async_pool_size, self._recycle)

    def insert(self, batches: Sequence[tuple[Table, Rows]]) -> None:
        """Insert every batch (rows of one table, all with the same keys) in one transaction, in order."""
        if not self._pipelined:
            with self._engine.begin() as connection:
                for table, rows in batches:
                    if rows:
                        connection.execute(insert(table), list(rows))
            return
        statements = self._statements(batches)
        fairy = self._engine.raw_connection()  # checked out of (and returned to) the engine's pool
        connection: psycopg.Connection[Any] = fairy.driver_connection  # type: ignore[assignment]
        try:
            # Autocommit only stops psycopg from sending its own BEGIN (a round trip of its own in pipeline
            # mode); the one Sync sent when the pipeline closes makes all statements one transaction.
            connection.autocommit = True
            with _wrapped_errors(self._engine, statements), connection.pipeline(), connection.cursor() as cursor:
                for sql, params in statements:
                    if len(params) == 1:
                        cursor.execute(sql, params[0])
                    else:
                        cursor.executemany(sql, params)
        finally:
            if _idle(connection):
                connection.autocommit = False  # back as the pool hands it out
            else:
                fairy.invalidate()  # lost, or in a state we did not expect: never hand it out again
            fairy.close()

    async def insert_async(self, batches: Sequence[tuple[Table, Rows]]) -> None:
        """`insert` without blocking the event loop."""
        if self._async is None or asyncio.get_running_loop() is not self._async.loop:
            await run_in_threadpool(self.insert, batches)
            return
        statements = self._statements(batches)
        with _wrapped_errors(self._engine, statements):
            async with self._async.connection() as connection, connection.pipeline(), connection.cursor() as cursor:
                for sql, params in statements:
                    if len(params) == 1:
                        await cursor.execute(sql, params[0])
                    else:
                        await cursor.executemany(sql, params)

    async def aclose(self) -> None:
        if self._async is not None:
            connections, self._async = self._async, None
            await connections.close()

    def _statements(self, batches: Sequence[tuple[Table, Rows]]) -> Statements:
        statements = []
        for table, rows in batches:
            if rows:
                sql, processors = self._compile(table, tuple(rows[0]))
                statements.append((sql, [{key: row[key] if process is None else process(row[key]) for key, process in processors} for row in rows]))
        return statements

    def _compile(self, table: Table, keys: tuple[str, ...]) -> _Compiled:
        compiled = self._compiled.get((table.name, keys))
        if compiled is None:
            dialect = self._engine.dialect
            sql = insert(table).compile(dialect=dialect, column_keys=list(keys)).string
            processors = tuple((key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys)
            compiled = self._compiled[(table.name, keys)] = (sql, processors)
        return compiled


@contextmanager
def _wrapped_errors(engine: Engine, statements: Statements) -> Iterator[None]:
    """psycopg errors as the SQLAlchemy exceptions the engine raises (IntegrityError...), parameters hidden."""
    import psycopg

    try:
        yield
    except psycopg.Error as error:
        lost = error.pgconn is not None and error.pgconn.status == psycopg.pq.ConnStatus.BAD
        raise DBAPIError.instance(
            "; ".join(sql for sql, _ in statements),
            None,
            error,
            psycopg.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=engine.dialect,
        ) from error


def _idle(connection: Any) -> bool:
    import psycopg

    return bool(connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE)


class _AsyncConnections:
    """At most `size` autocommit psycopg AsyncConnections on `loop`, made like the engine's (same URL,
    adapters and JSON dumps), reused newest first, replaced after `recycle_seconds` or when left in a state
    other than idle (a lost connection, a cancelled request)."""

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop, size: int, recycle_seconds: float) -> None:
        self.loop = loop
        self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._recycle = recycle_seconds
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[float, psycopg.AsyncConnection[Any]]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        import psycopg

        async with self._slots:
            connection = None
            while self._idle and connection is None:
                born, candidate = self._idle.pop()
                if time.monotonic() - born < self._recycle and not candidate.closed:
                    connection = candidate
                else:
                    await candidate.close()
            if connection is None:
                cargs, cparams = self._connect_args
                born, connection = time.monotonic(), await psycopg.AsyncConnection.connect(*cargs, **cparams, autocommit=True)
            try:
                yield connection
            finally:
                if _idle(connection):
                    self._idle.append((born, connection))
                else:
                    await connection.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, connection in idle:
            await connection.close()
