"""The FastAPI application: `create_app(settings)` for tests and `uvicorn --factory app.api.main:create_app`."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from app.api.body_limit import BodyLimit
from app.api.errors import install_error_handlers
from app.api.hot_route import HotCalculations
from app.api.routes import calculations, declarations, health, reference, rules
from app.api.services import build_services
from app.metrics import MetricsMiddleware
from app.settings import Settings
from app.web import install_web


GC_YOUNG_THRESHOLD = 20_000


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Threads for the blocking routes (declarations, rules, reads): enough to overlap database and cache waits,
        # few enough not to convoy on the GIL. POST /v1/origin/calculations does not use them (asyncio I/O).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        services = await run_in_threadpool(build_services, settings)
        services.attach(asyncio.get_running_loop())
        app.state.services = services
        # Everything built so far lives as long as the process. Freezing it keeps the collector's full passes
        # from walking it again: unfrozen, each took ~100 ms per worker every few seconds under load (the
        # p99 of POST /v1/origin/calculations), frozen ~4 ms.
        gc.collect()
        gc.freeze()
        # A request's objects die by reference count within the request; at the default threshold (700 new
        # container objects) the collector ran every few requests and walked those still alive across
        # awaits. At 20,000 it runs a few times per second under load and finds nearly everything freed.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            try:
                await services.aclose()
            finally:
                services.close()

    docs = settings.serves_api_docs
    app = FastAPI(
        title="PSRA origin calculation",
        version="1.0.0",
        summary="Preferential origin under EU-JP, EU-UK, CETA, EU-KR and PEM with supplier declarations",
        lifespan=lifespan,
        # no OpenTelemetry in this service (Prometheus metrics, app/metrics.py): without this FastAPI asks the
        # global OpenTelemetry providers on every request whether they were configured meanwhile
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # the interactive docs and the schema only on the embedded default, never in production
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(HotCalculations)  # innermost: the body limit and the metrics apply to it as to every route
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    install_error_handlers(app)
    for module in (calculations, rules, declarations, reference, health):
        app.include_router(module.router)
    install_web(app, settings)  # the web pages (app/web/), and the local mode when configured
    logging.getLogger("app").setLevel(logging.INFO)
    return app
