"""CRUD for suppliers' declarations and LTSDs. Users see and change their own; admins all of them.
DELETE withdraws the declaration (kept for the certificates that used it): from that day on it no
longer proves origin."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.audit import record
from app.api.auth import Caller, ServicesDep, UserCaller
from app.api.routing import ApiRoute
from app.api.schemas import DeclarationIn, DeclarationOut
from app.api.services import Services
from app.db.models import SupplierDeclaration, utcnow

router = APIRouter(prefix="/v1/supplier-declarations", tags=["supplier declarations"], route_class=ApiRoute)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such declaration visible to the caller"}}


def _out(row: SupplierDeclaration) -> DeclarationOut:
    return DeclarationOut(
        id=row.id,
        owner_id=row.owner_id,
        type=row.kind,  # type: ignore[arg-type]
        supplier_name=row.supplier_name,
        supplier_country=row.supplier_country,
        agreements=row.agreements,
        products=row.products,
        issue_date=row.issue_date,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        withdrawn_on=row.withdrawn_on,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _fields(body: DeclarationIn) -> dict[str, object]:
    return {
        "kind": body.type,
        "supplier_name": body.supplier_name,
        "supplier_country": body.supplier_country,
        "agreements": list(body.agreements),
        "products": body.products,
        "issue_date": body.issue_date,
        "valid_from": body.valid_from,
        "valid_until": body.valid_until,
    }


def _visible(session: Session, declaration_id: uuid.UUID, caller: Caller) -> SupplierDeclaration:
    row = session.get(SupplierDeclaration, declaration_id)
    if row is None or not (caller.is_admin or row.owner_id == caller.user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such declaration")
    return row


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DeclarationOut, summary="Store a supplier's declaration or LTSD")
async def create_declaration(body: DeclarationIn, caller: UserCaller, services: ServicesDep) -> DeclarationOut:
    return await run_in_threadpool(store_declaration, services, body, caller)


def store_declaration(services: Services, body: DeclarationIn, caller: Caller) -> DeclarationOut:
    """Store the caller's declaration with its audit row (also used by the web pages)."""
    with services.sessions.begin() as session:
        row = SupplierDeclaration(id=uuid.uuid4(), owner_id=caller.user_id, **_fields(body))
        session.add(row)
        session.flush()
        record(session, caller.user_id, "declaration.create", declaration_id=row.id, type=body.type)
        return _out(row)


@router.get("", response_model=list[DeclarationOut], summary="List declarations (own; admins all)")
async def list_declarations(
    caller: UserCaller,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeclarationOut]:
    def _list() -> list[DeclarationOut]:
        query = select(SupplierDeclaration).order_by(SupplierDeclaration.created_at, SupplierDeclaration.id).limit(limit).offset(offset)
        if not caller.is_admin:
            query = query.where(SupplierDeclaration.owner_id == caller.user_id)
        with services.sessions() as session:
            return [_out(row) for row in session.scalars(query)]

    return await run_in_threadpool(_list)


@router.get("/{declaration_id}", response_model=DeclarationOut, responses=NOT_FOUND, summary="Read a declaration")
async def read_declaration(declaration_id: uuid.UUID, caller: UserCaller, services: ServicesDep) -> DeclarationOut:
    def _read() -> DeclarationOut:
        with services.sessions() as session:
            return _out(_visible(session, declaration_id, caller))

    return await run_in_threadpool(_read)


@router.put(
    "/{declaration_id}",
    response_model=DeclarationOut,
    responses={**NOT_FOUND, 409: {"description": "the declaration was withdrawn"}},
    summary="Replace a declaration",
)
async def replace_declaration(declaration_id: uuid.UUID, body: DeclarationIn, caller: UserCaller, services: ServicesDep) -> DeclarationOut:
    def _replace() -> DeclarationOut:
        with services.sessions.begin() as session:
            row = _visible(session, declaration_id, caller)
            if row.withdrawn_on is not None:
                raise HTTPException(status.HTTP_409_CONFLICT, detail=f"the declaration was withdrawn on {row.withdrawn_on}")
            for name, value in _fields(body).items():
                setattr(row, name, value)
            session.flush()
            record(session, caller.user_id, "declaration.update", declaration_id=row.id)
            return _out(row)

    return await run_in_threadpool(_replace)


@router.delete("/{declaration_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND, summary="Withdraw a declaration")
async def withdraw_declaration(declaration_id: uuid.UUID, caller: UserCaller, services: ServicesDep) -> None:
    await run_in_threadpool(_withdraw, services, declaration_id, caller)


def _withdraw(services: Services, declaration_id: uuid.UUID, caller: Caller) -> None:
    with services.sessions.begin() as session:
        row = _visible(session, declaration_id, caller)
        if row.withdrawn_on is None:
            row.withdrawn_on = utcnow().date()
            record(session, caller.user_id, "declaration.withdraw", declaration_id=row.id)
