"""Group commit for the event loop: work submitted while a round trip is in flight goes in the next one.

Under load most of a request's I/O cost is per round trip, not per item: the syscalls, the client
library's bookkeeping and the server's per-statement and per-command work. A `Coalescer` runs items
through a function that takes a list (one INSERT for several requests' rows, one MGET for several keys),
with at most `concurrency` such calls in flight. An idle service sends each item on its own at once (the
batch starts on the next turn of the loop, so it adds no waiting); a busy one sends larger batches, as
many items as arrived during the previous round trip, up to `limit`.

The function returns one outcome per item, in order: a result, or an exception for that item alone. If
it raises, every item of that batch gets the exception. A caller that is cancelled while waiting only
stops waiting: its item may still be sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    def __init__(
        self, run: Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]], concurrency: int = 1, limit: int = 64
    ) -> None:
        if concurrency < 1 or limit < 1:
            raise ValueError(f"concurrency and limit must be at least 1, not {concurrency} and {limit}")
        self._run = run
        self._concurrency = concurrency
        self._limit = limit
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining = 0  # counted inside _drain: a finished task leaves the set only a loop turn later
        self._tasks: set[asyncio.Task[None]] = set()  # references, so running tasks are not collected

    async def submit(self, item: Item) -> Result:
        """The outcome of `item`, run in a batch with whatever else is waiting."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._draining < self._concurrency:
            self._draining += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            await self._drain_pending()
        finally:
            self._draining -= 1

    async def _drain_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._limit], self._pending[self._limit :]
            waiting = [(item, future) for item, future in batch if not future.done()]
            if not waiting:
                continue
            try:
                outcomes = await self._run([item for item, _ in waiting])
                if len(outcomes) != len(waiting):
                    raise RuntimeError(f"the batch function gave {len(outcomes)} outcomes for {len(waiting)} items")
            except asyncio.CancelledError:
                for _, future in waiting:
                    future.cancel()
                raise
            except Exception as error:  # noqa: BLE001 - handed to every caller of the batch
                outcomes = [error] * len(waiting)
            for (_, future), outcome in zip(waiting, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
