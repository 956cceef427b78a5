"""GET /v1/hs-codes/{code} (HS reference, cached 24 h) and GET /v1/audit-logs (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from app.api.auth import AdminCaller, ServicesDep, UserCaller
from app.api.routing import ApiRoute
from app.api.schemas import AuditLogOut, HsCodeOut
from app.cache import HS_CODE_PREFIX
from app.db.models import AuditLog, HsCode

router = APIRouter(tags=["reference"], route_class=ApiRoute)


@router.get("/v1/hs-codes/{code}", response_model=HsCodeOut, responses={404: {"description": "code not in the HS reference"}})
async def read_hs_code(
    code: Annotated[str, Path(pattern=r"^\d{2}(\d{2}){0,4}$", description="chapter, heading or subheading: 2-10 digits, no dots")],
    caller: UserCaller,
    services: ServicesDep,
) -> Response:
    key = f"{HS_CODE_PREFIX}{code}"
    cached = services.cache.get(key)
    if cached is None:

        def _load() -> bytes | None:
            with services.sessions() as session:
                row = session.get(HsCode, code)
                if row is None:
                    return None
                return HsCodeOut(code=row.code, description=row.description, chapter=row.chapter, taric_data=row.taric_data).model_dump_json().encode()

        cached = await run_in_threadpool(_load)
        if cached is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{code} is not in the HS reference")
        services.cache.set(key, cached, services.settings.hs_code_ttl_seconds)
    return Response(content=cached, media_type="application/json")


@router.get("/v1/audit-logs", response_model=list[AuditLogOut], tags=["audit"], summary="Audit trail, newest first (admin)")
async def list_audit_logs(
    caller: AdminCaller,
    services: ServicesDep,
    action: Annotated[str | None, Query(pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. calculation.create")] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AuditLogOut]:
    def _list() -> list[AuditLogOut]:
        query = select(AuditLog).order_by(AuditLog.timestamp.desc(), AuditLog.id).limit(limit).offset(offset)
        if action is not None:
            query = query.where(AuditLog.action == action)
        if since is not None:
            query = query.where(AuditLog.timestamp >= since)
        with services.sessions() as session:
            return [AuditLogOut(id=r.id, user_id=r.user_id, action=r.action, details=r.details, timestamp=r.timestamp) for r in session.scalars(query)]

    return await run_in_threadpool(_list)
