"""Product-specific rules: anyone with a PSRA role may read them; admins create, replace and delete.
Every change invalidates the cached rules and the cached engine results that depended on them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.audit import record
from app.api.auth import AdminCaller, ServicesDep, UserCaller
from app.api.errors import InputError
from app.api.routing import ApiRoute
from app.api.schemas import RuleIn, RuleOut
from app.api.services import Services
from app.cache import CALCULATION_PREFIX
from app.db.models import HsCode, OriginRule
from app.db.rules import product_rule, row_values
from app.engine.request import AgreementCode
from app.engine.rulebook import ProductRule

router = APIRouter(prefix="/v1/origin/rules", tags=["origin rules"], route_class=ApiRoute)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such rule"}}
HsQuery = Annotated[str | None, Query(pattern=r"^\d{2}(\d{2}){0,4}$", description="2-10 digit HS code the rules must cover")]


def _out(row: OriginRule) -> RuleOut:
    return RuleOut(
        id=row.id,
        agreement=row.agreement,  # type: ignore[arg-type]
        hs=row.hs_code if row.hs_code == row.hs_code_to else f"{row.hs_code}-{row.hs_code_to}",
        rule=row.rule_text,
        criteria=row.criteria,
        text=row.official_text,
        legal_source=row.legal_source,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        checked_against=row.checked_against,
        note=row.note,
        updated_at=row.updated_at,
    )


@router.get("", response_model=list[RuleOut], summary="Rules by agreement and/or the HS code they cover, most specific first")
async def list_rules(
    caller: UserCaller,
    services: ServicesDep,
    agreement: AgreementCode | None = None,
    hs_code: HsQuery = None,
    on: Annotated[date | None, Query(description="only rules in force on this date")] = None,
) -> list[RuleOut]:
    def _list() -> list[RuleOut]:
        query = select(OriginRule)
        if agreement is not None:
            query = query.where(OriginRule.agreement == agreement)
        with services.sessions() as session:
            rows = [row for row in session.scalars(query) if _matches(row, hs_code, on)]
        rows.sort(key=lambda row: (row.agreement, ProductRule.specificity(product_rule(row))))
        return [_out(row) for row in rows]

    return await run_in_threadpool(_list)


def _matches(row: OriginRule, hs_code: str | None, on: date | None) -> bool:
    if hs_code is not None and not row.hs_code <= hs_code[: len(row.hs_code)] <= row.hs_code_to:
        return False
    return on is None or (row.valid_from <= on and (row.valid_until is None or on <= row.valid_until))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RuleOut, summary="Add a rule (admin)")
async def create_rule(body: RuleIn, caller: AdminCaller, services: ServicesDep) -> RuleOut:
    def _create() -> RuleOut:
        with services.sessions.begin() as session:
            _require_hs_code(session, body)
            row = OriginRule(id=uuid.uuid4(), **row_values(body.agreement, body))
            session.add(row)
            session.flush()
            record(session, caller.user_id, "rule.create", rule_id=row.id, agreement=body.agreement, hs=body.hs, rule=body.rule)
            out = _out(row)
        _invalidate(services)
        return out

    return await run_in_threadpool(_create)


@router.put("/{rule_id}", response_model=RuleOut, responses=NOT_FOUND, summary="Replace a rule (admin)")
async def replace_rule(rule_id: uuid.UUID, body: RuleIn, caller: AdminCaller, services: ServicesDep) -> RuleOut:
    def _replace() -> RuleOut:
        with services.sessions.begin() as session:
            row = _existing(session, rule_id)
            _require_hs_code(session, body)
            for name, value in row_values(body.agreement, body).items():
                setattr(row, name, value)
            session.flush()
            record(session, caller.user_id, "rule.update", rule_id=row.id, agreement=body.agreement, hs=body.hs, rule=body.rule)
            out = _out(row)
        _invalidate(services)
        return out

    return await run_in_threadpool(_replace)


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND, summary="Delete a rule (admin)")
async def delete_rule(rule_id: uuid.UUID, caller: AdminCaller, services: ServicesDep) -> None:
    def _delete() -> None:
        with services.sessions.begin() as session:
            row = _existing(session, rule_id)
            record(session, caller.user_id, "rule.delete", rule_id=row.id, agreement=row.agreement, rule=row.rule_text)
            session.delete(row)
        _invalidate(services)

    await run_in_threadpool(_delete)


def _existing(session: Session, rule_id: uuid.UUID) -> OriginRule:
    row = session.get(OriginRule, rule_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such rule")
    return row


def _require_hs_code(session: Session, body: RuleIn) -> None:
    if session.get(HsCode, body.hs_from) is None:
        message = f"{body.hs_from} is not in the HS reference (GET /v1/hs-codes/{{code}}); rules must start at a known code"
        raise InputError(("body", "hs"), message, "hs_code_unknown")


def _invalidate(services: Services) -> None:
    services.rules.invalidate()
    services.cache.delete_prefix(CALCULATION_PREFIX)
