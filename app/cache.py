"""Read-through cache: Redis when configured, otherwise a bounded in-process store.

Key families and TTLs follow the seed's caching strategy: `certificate:*` 1 h, `origin_rules:*` 12 h
(invalidated when an admin changes rules), `hs_code:*` 24 h, and `calculation:*` (engine results by a
canonical hash of the validated request, 1 h). A Redis outage degrades to misses, never to errors.

The `a...` methods are the same operations for the event loop: through redis.asyncio on the loop the app
started on (`attach`), so a request never waits for a worker thread for them, and concurrent requests
share round trips (app/coalescer.py: their look-ups become one MGET, their writes one pipeline); on any
other loop (test clients that drive the app without its lifespan) the blocking calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Protocol

import redis
import redis.asyncio
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.coalescer import Coalescer
from app.metrics import CACHE_REQUESTS, labelled

log = logging.getLogger(__name__)

CERTIFICATE_PREFIX = "certificate:"
CALCULATION_PREFIX = "calculation:"
HS_CODE_PREFIX = "hs_code:"
RULES_PREFIX = "origin_rules:"


def canonical_hash(model: BaseModel) -> str:
    """SHA-256 of the validated model's JSON: pydantic writes every field, defaults included, in the order the
    model declares them, so equal requests give equal text (what sorting a dict's keys gave, at a quarter
    of the CPU: the text comes from pydantic's serializer, with no Python dict built first)."""
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    def set_many(self, entries: Iterable[tuple[str, bytes, int]]) -> None:
        """Several `set`s (key, value, ttl_seconds); on Redis in one round trip."""
        ...

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve the `a...` methods on `loop` without worker threads; call from that loop."""
        ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset_many(self, entries: Iterable[tuple[str, bytes, int]]) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


_REDIS_OPTIONS: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5, "health_check_interval": 30}


class _AsyncRedis:
    """redis.asyncio on one event loop, with concurrent look-ups and writes coalesced."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        self.loop = loop
        self.client = redis.asyncio.Redis.from_url(url, **_REDIS_OPTIONS)
        self.reads: Coalescer[str, bytes | None] = Coalescer(self._get_many, concurrency=2)
        self.writes: Coalescer[list[tuple[str, bytes, int]], None] = Coalescer(self._set_many, concurrency=2)

    async def _get_many(self, keys: list[str]) -> list[bytes | None]:
        try:
            values: list[bytes | None] = await self.client.mget(keys)
        except redis.RedisError as error:
            log.warning("cache get failed (%s); treating as a miss", type(error).__name__)
            values = [None] * len(keys)
        for key, value in zip(keys, values, strict=True):
            _count(key, value is not None)
        return values

    async def _set_many(self, writes: list[list[tuple[str, bytes, int]]]) -> list[None]:
        try:
            pipeline = self.client.pipeline(transaction=False)
            for entries in writes:
                for key, value, ttl_seconds in entries:
                    pipeline.set(key, value, ex=ttl_seconds)
            await pipeline.execute()
        except redis.RedisError as error:
            log.warning("cache set failed (%s)", type(error).__name__)
        return [None] * len(writes)


class RedisCache:
    def __init__(self, url: str) -> None:
        self._url = url
        self._client = redis.Redis.from_url(url, **_REDIS_OPTIONS)
        self._async: _AsyncRedis | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._async = _AsyncRedis(loop, self._url)

    def get(self, key: str) -> bytes | None:
        try:
            value = self._client.get(key)
        except redis.RedisError as error:
            log.warning("cache get failed (%s); treating as a miss", type(error).__name__)
            value = None
        _count(key, value is not None)
        return value  # type: ignore[return-value]

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        try:
            self._client.set(key, value, ex=ttl_seconds)
        except redis.RedisError as error:
            log.warning("cache set failed (%s)", type(error).__name__)

    def set_many(self, entries: Iterable[tuple[str, bytes, int]]) -> None:
        try:
            pipeline = self._client.pipeline(transaction=False)
            for key, value, ttl_seconds in entries:
                pipeline.set(key, value, ex=ttl_seconds)
            pipeline.execute()
        except redis.RedisError as error:
            log.warning("cache set failed (%s)", type(error).__name__)

    async def aget(self, key: str) -> bytes | None:
        connection = self._on_this_loop()
        if connection is None:
            return await run_in_threadpool(self.get, key)
        return await connection.reads.submit(key)

    async def aset_many(self, entries: Iterable[tuple[str, bytes, int]]) -> None:
        connection = self._on_this_loop()
        if connection is None:
            await run_in_threadpool(self.set_many, list(entries))
            return
        await connection.writes.submit(list(entries))

    def _on_this_loop(self) -> _AsyncRedis | None:
        """The asyncio client when running on the loop it belongs to."""
        if self._async is None or self._async.loop is not asyncio.get_running_loop():
            return None
        return self._async

    def delete_prefix(self, prefix: str) -> None:
        try:
            batch = [key for key in self._client.scan_iter(match=f"{prefix}*", count=500)]
            if batch:
                self._client.delete(*batch)
        except redis.RedisError as error:
            log.warning("cache invalidation of %s* failed (%s)", prefix, type(error).__name__)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        if self._async is not None:
            connection, self._async = self._async, None
            await connection.client.aclose()


class MemoryCache:
    """Per-process fallback: entries expire by TTL and the oldest go first past `max_entries`."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] < time.monotonic():
                del self._entries[key]
                entry = None
        _count(key, entry is not None)
        return entry[1] if entry else None

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def set_many(self, entries: Iterable[tuple[str, bytes, int]]) -> None:
        for key, value, ttl_seconds in entries:
            self.set(key, value, ttl_seconds)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        return None

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aset_many(self, entries: Iterable[tuple[str, bytes, int]]) -> None:
        self.set_many(entries)

    def delete_prefix(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k.startswith(prefix)]:
                del self._entries[key]

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._entries.clear()

    async def aclose(self) -> None:
        return None


def _count(key: str, hit: bool) -> None:
    labelled(CACHE_REQUESTS, key.split(":", 1)[0], "hit" if hit else "miss").inc()


def make_cache(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else MemoryCache()
