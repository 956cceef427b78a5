"""A readiness check that answers in bounded time, whatever the dependency does.

A stopped PostgreSQL container does not refuse connections: its name stops resolving and the
resolver, or the TCP connect to its old address, can hang for many seconds. A probe that waits
for that answers Docker's health check and the load balancer too late, and one thread per probe
piles up behind the hang. So one check runs at a time, every caller shares it, and a caller
waits at most `timeout` before it reads "not ready".
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class BoundedCheck:
    def __init__(self, check: Callable[[], bool], timeout: float) -> None:
        self._check = check
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self._lock = threading.Lock()
        self._running: Future[bool] | None = None

    def _current(self) -> Future[bool]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = self._executor.submit(self._check)
            return self._running

    async def passes(self) -> bool:
        """True when the check answered True within the timeout; a hung check reads False."""
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._current())), self._timeout)
        except TimeoutError:
            return False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
