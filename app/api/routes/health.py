"""Liveness and readiness; no authentication. (Prometheus metrics are on their own internal port: app/metrics.py.)"""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from app.api.auth import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process serves requests")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database and cache reachable", responses={503: {"description": "a dependency is down"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = await services.readiness()
    ready = all(checks.values())
    return JSONResponse(
        status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"status": "ready" if ready else "not ready", "checks": checks},
    )
