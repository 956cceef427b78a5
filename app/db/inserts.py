"""Insert write-once rows into several tables atomically, on PostgreSQL as one statement in one round trip.

Through SQLAlchemy every statement costs a round trip (BEGIN, each INSERT, COMMIT: five for a stored
calculation) and its execution machinery costs more CPU per request than the engine. On PostgreSQL the
batches become a single INSERT with data-modifying CTEs, built once per shape (tables, columns, row
counts) from each table's one-row INSERT as SQLAlchemy compiles it, with the columns' types, casts and
bind processors (JSON documents, booleans), and sent by psycopg in autocommit mode: one statement is one transaction (all rows or none;
foreign keys are checked when it ends, so rows may refer to rows of the same statement) and one round
trip, and psycopg prepares it server-side after a few uses (its placeholders are PostgreSQL's own, $1...,
for psycopg's raw cursors, so psycopg does not parse the statement again each time). Every column with a
Python-side default must be given (nothing runs SQLAlchemy's defaults here).

`insert_async` does this on psycopg's asyncio connections (a small pool of autocommit connections of its
own, on the event loop the app started on), so a request never waits for a worker thread, and writes of
concurrent requests share a statement (group commit, app/coalescer.py: each request's rows still all or
none; a joint statement the database refuses is retried write by write, so only the refused one fails);
under load that halves PostgreSQL's CPU per stored calculation. `insert` blocks,
on a connection of the engine's pool. Other databases (the embedded SQLite) take the plain Core path in one
transaction; they, and other event loops (test clients that drive the app without its lifespan), get
`insert` in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine, Table, bindparam, insert
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from app.coalescer import Coalescer

Rows = Sequence[Mapping[str, Any]]
Batches = Sequence[tuple[Table, Rows]]


@dataclass(frozen=True)
class _Statement:
    sql: str
    # for $1, $2...: (number of the batch, number of the row, key, bind processor or None)
    binds: tuple[tuple[int, int, str, Callable[[Any], Any] | None], ...]

    def params(self, batches: Batches) -> list[Any]:
        params = []
        for batch, row, key, process in self.binds:
            value = batches[batch][1][row][key]
            params.append(value if process is None else process(value))
        return params


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class AtomicInserts:
    MAX_SHAPES = 512

    def __init__(self, engine: Engine, async_pool_size: int = 10, recycle_seconds: float = 1800.0, write_concurrency: int = 2) -> None:
        """`write_concurrency`: statements in flight at once from `insert_async`; writes arriving meanwhile
        are joined into the next statement (fewer in flight, larger statements)."""
        self._engine = engine
        self._write_concurrency = write_concurrency
        self._one_statement = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._statements: dict[tuple[tuple[str, tuple[str, ...], int], ...], _Statement] = {}
        self._templates: dict[tuple[str, tuple[str, ...]], _RowTemplate] = {}
        self._async_pool_size = async_pool_size
        self._recycle = recycle_seconds
        self._async: _AsyncConnections | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve `insert_async` on `loop` (the app's) with asyncio connections; call from that loop."""
        if self._one_statement:
            writes = Coalescer(self._write_many, concurrency=self._write_concurrency)
            self._async = _AsyncConnections(self._engine, loop, self._async_pool_size, self._recycle, writes)

    def insert(self, batches: Batches) -> None:
        """Insert every batch (rows of one table, all with the same keys) in one transaction."""
        batches = [(table, rows) for table, rows in batches if rows]
        if not self._one_statement:
            with self._engine.begin() as connection:
                for table, rows in batches:
                    connection.execute(insert(table), list(rows))
            return
        statement = self._statement(batches)
        params = statement.params(batches)
        fairy = self._engine.raw_connection()  # checked out of (and returned to) the engine's pool
        connection: psycopg.Connection[Any] = fairy.driver_connection  # type: ignore[assignment]
        try:
            connection.autocommit = True  # the statement is its own transaction: no BEGIN, no COMMIT
            with _wrapped_errors(self._engine, statement), psycopg.RawCursor(connection) as cursor:
                cursor.execute(statement.sql, params)
        finally:
            if _idle(connection):
                connection.autocommit = False  # back as the pool hands it out
            else:
                fairy.invalidate()  # lost, or in a state we did not expect: never hand it out again
            fairy.close()

    async def insert_async(self, batches: Batches) -> None:
        """`insert` without blocking the event loop; concurrent calls share statements (group commit)."""
        if self._async is None or asyncio.get_running_loop() is not self._async.loop:
            await run_in_threadpool(self.insert, batches)
            return
        await self._async.writes.submit([(table, rows) for table, rows in batches if rows])

    async def _write_many(self, writes: list[Batches]) -> list[None | Exception]:
        """Several callers' writes in as few statements as the parameter limit allows, each caller's rows all
        or none."""
        outcomes: list[None | Exception] = []
        for group in _groups(writes):
            outcomes += await self._write_group(group)
        return outcomes

    async def _write_group(self, writes: list[Batches]) -> list[None | Exception]:
        """Writes as one statement; if the database refuses it, each write is sent again on its own, so only
        the refused one fails."""
        if len(writes) > 1 and (joint := _joint(writes)) is not None:
            try:
                await self._execute_async(joint)
                return [None] * len(writes)
            except DBAPIError:
                pass
        outcomes: list[None | Exception] = []
        for batches in writes:
            try:
                await self._execute_async(batches)
                outcomes.append(None)
            except DBAPIError as error:
                outcomes.append(error)
        return outcomes

    async def _execute_async(self, batches: Batches) -> None:
        """One statement on a pooled connection; when that connection turns out to be dead (the server
        restarted since it was pooled), once more on a new one: the statement never reached a live server,
        and its ids are the client's, so a repeat could never store a row twice."""
        assert self._async is not None
        statement = self._statement(batches)
        params = statement.params(batches)
        with _wrapped_errors(self._engine, statement):
            for attempt in (1, 2):
                async with self._async.connection() as connection:
                    try:
                        async with psycopg.AsyncRawCursor(connection) as cursor:
                            await cursor.execute(statement.sql, params)
                        return
                    except psycopg.OperationalError:
                        if attempt == 2 or not connection.broken:
                            raise
                await self._async.drop_idle()  # the others were pooled before the restart too

    async def aclose(self) -> None:
        if self._async is not None:
            connections, self._async = self._async, None
            await connections.close()

    def _statement(self, batches: Batches) -> _Statement:
        shape = tuple((table.name, tuple(rows[0]), len(rows)) for table, rows in batches)
        statement = self._statements.get(shape)
        if statement is None:
            if len(self._statements) >= self.MAX_SHAPES:
                self._statements.clear()
            statement = self._statements[shape] = self._compile(batches)
        return statement

    def _compile(self, batches: Batches) -> _Statement:
        """The statement from each table's one-row template, its VALUES tuple repeated per row: a shape of many
        rows (a large group commit) costs string joins, not a SQLAlchemy compile of every row (3-21 ms on the
        event loop per new group size)."""
        inserts, binds = [], []
        for number, (table, rows) in enumerate(batches):
            template = self._template(table, tuple(rows[0]))
            tuples = []
            for index in range(len(rows)):
                tuples.append(template.row(len(binds) + 1))
                binds += [(number, index, key, process) for key, process in template.binds]
            inserts.append(f"{template.head}{', '.join(tuples)}")
        ctes = ", ".join(f"insert_{number} AS ({earlier})" for number, earlier in enumerate(inserts[:-1]))
        return _Statement(f"WITH {ctes} {inserts[-1]}" if ctes else inserts[-1], tuple(binds))

    def _template(self, table: Table, keys: tuple[str, ...]) -> _RowTemplate:
        template = self._templates.get((table.name, keys))
        if template is None:
            template = self._templates[(table.name, keys)] = _RowTemplate.of(self._engine.dialect, table, keys)
        return template


@dataclass(frozen=True)
class _RowTemplate:
    """One table's INSERT as SQLAlchemy compiles it for one row (casts and bind processors of the columns'
    types), split into the head up to VALUES and the row's tuple around its placeholders."""

    head: str
    pieces: tuple[str, ...]  # the tuple's text between placeholders: one more than binds
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    @classmethod
    def of(cls, dialect: Any, table: Table, keys: tuple[str, ...]) -> _RowTemplate:
        compiled = insert(table).values([{key: bindparam(key, type_=table.c[key].type) for key in keys}]).compile(dialect=dialect)
        if set(compiled.binds) != set(keys):  # e.g. a column default SQLAlchemy would have filled in
            raise ValueError(f"give every column that has a default; the statement also needs {sorted(set(compiled.binds) - set(keys))}")
        head, values = compiled.string.split(" VALUES ", 1)
        parts = _PLACEHOLDER.split(values)  # text, key, text, key, ..., text (pyformat: %% is a literal %)
        processors = {key: table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys}
        pieces = tuple(text.replace("%%", "%") for text in parts[0::2])
        return cls(f"{head.replace('%%', '%')} VALUES ", pieces, tuple((name, processors[name]) for name in parts[1::2]))

    def row(self, first: int) -> str:
        """The tuple with PostgreSQL placeholders numbered from `first`."""
        pieces = self.pieces
        out = [pieces[0]]
        for offset in range(len(self.binds)):
            out += (f"${first + offset}", pieces[offset + 1])
        return "".join(out)


MAX_PARAMETERS = 30_000  # per joint statement; PostgreSQL's protocol takes at most 65,535


def _groups(writes: list[Batches]) -> Iterator[list[Batches]]:
    """Consecutive writes, as many together as stay within MAX_PARAMETERS (a single write may exceed it)."""
    group: list[Batches] = []
    size = 0
    for batches in writes:
        parameters = sum(len(rows) * len(rows[0]) for _, rows in batches)
        if group and size + parameters > MAX_PARAMETERS:
            yield group
            group, size = [], 0
        group.append(batches)
        size += parameters
    if group:
        yield group


def _joint(writes: list[Batches]) -> Batches | None:
    """The writes' rows table by table, when they all have the same tables and columns in the same order."""
    shape = [(table, tuple(rows[0])) for table, rows in writes[0]]
    if any([(table, tuple(rows[0])) for table, rows in batches] != shape for batches in writes[1:]):
        return None
    return [(table, [row for batches in writes for row in batches[number][1]]) for number, (table, _) in enumerate(shape)]


@contextmanager
def _wrapped_errors(engine: Engine, statement: _Statement) -> Iterator[None]:
    """psycopg errors as the SQLAlchemy exceptions the engine raises (IntegrityError...), parameters hidden."""
    try:
        yield
    except psycopg.Error as error:
        lost = error.pgconn is not None and error.pgconn.status == psycopg.pq.ConnStatus.BAD
        raise DBAPIError.instance(
            statement.sql, None, error, psycopg.Error, hide_parameters=True, connection_invalidated=lost, dialect=engine.dialect
        ) from error


def _idle(connection: Any) -> bool:
    return bool(connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE)


class _AsyncConnections:
    """At most `size` autocommit psycopg AsyncConnections on `loop`, made like the engine's (same URL,
    adapters and JSON dumps), reused newest first, replaced after `recycle_seconds` or when left in a state
    other than idle (a lost connection, a cancelled request)."""

    def __init__(
        self, engine: Engine, loop: asyncio.AbstractEventLoop, size: int, recycle_seconds: float, writes: Coalescer[Batches, None]
    ) -> None:
        self.loop = loop
        self.writes = writes
        self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._recycle = recycle_seconds
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[float, psycopg.AsyncConnection[Any]]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
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

    async def drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for _, connection in idle:
            await connection.close()

    async def close(self) -> None:
        await self.drop_idle()
