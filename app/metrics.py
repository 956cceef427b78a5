"""Prometheus metrics and their exposition (multi-process aware when uvicorn runs several workers).

The metrics are served on their own internal port (Settings.metrics_port), by a small HTTP server in a
thread of the launcher process, never on the API port: Traefik routes only the API port, so the public
host does not show them. With PROMETHEUS_MULTIPROC_DIR set (the `python -m app serve` launcher sets it
for >1 worker), each worker writes its samples there and the metrics server aggregates them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

HTTP_REQUESTS = Counter("psra_http_requests_total", "HTTP requests by route template and status", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "psra_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CALCULATIONS = Counter("psra_origin_calculations_total", "Stored origin calculations", ["agreement", "originating"])
CACHE_REQUESTS = Counter("psra_cache_requests_total", "Cache look-ups by key family and result", ["family", "result"])


_CHILDREN: dict[tuple[Counter, tuple[str, ...]], Counter] = {}


def labelled(metric: Counter, *values: str) -> Counter:
    """`metric.labels(*values)`, looked up once per process: `labels()` checks and locks on every call (a few
    µs a request on the calculation route); the label values are the app's own small sets."""
    child = _CHILDREN.get((metric, values))
    if child is None:
        child = _CHILDREN[(metric, values)] = metric.labels(*values)
    return child


def metrics_registry() -> CollectorRegistry:
    """All workers' samples (multi-process directory) or this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def serve_metrics(host: str, port: int) -> WSGIServer:
    """Start the metrics server (any path, GET only) in a daemon thread; `shutdown()` stops it."""
    server, _ = start_http_server(port, addr=host, registry=metrics_registry())
    return server


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task) counting requests by their route template. Each
    (method, route, status)'s samples are looked up once and kept: `labels()` checks and locks every time."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self._samples: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
            samples = self._samples.get(key)
            if samples is None:
                method, route, _ = key
                samples = self._samples[key] = (HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(method, route))
            samples[0].inc()
            samples[1].observe(time.perf_counter() - start)
