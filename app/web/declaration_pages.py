"""Supplier declarations (LTSD registry): the caller's list with upcoming expiries highlighted, creation
with the validity rules of DeclarationIn (each refusal next to its field), withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any, get_args

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.api.auth import Caller
from app.api.routes.declarations import _withdraw, store_declaration
from app.api.schemas import DeclarationIn
from app.engine.request import AgreementCode
from app.web.identity import WebUser, posted_form
from app.web.queries import EXPIRY_WARNING_DAYS, own_declarations
from app.web.rendering import WebError, render

router = APIRouter(include_in_schema=False)
FIELDS = ("type", "supplier_name", "supplier_country", "products", "issue_date", "valid_from", "valid_until")
AGREEMENTS: tuple[str, ...] = get_args(AgreementCode)
# DeclarationIn's whole-model refusals, by the field the user should change
MODEL_ERROR_FIELDS = {"supplier_country": "supplier_country", "declaration_period": "valid_from", "ltsd_period": "valid_from", "ltsd_window": "valid_from"}


@router.get("/declarations", response_class=HTMLResponse)
async def declarations(request: Request, caller: WebUser) -> HTMLResponse:
    return await _page(request, caller, _blank(), {})


@router.post("/declarations", response_model=None)
async def create_declaration(request: Request, caller: WebUser) -> Response:
    posted = await posted_form(request)
    values = {name: str(posted.get(name, ""))[:2000] for name in FIELDS}
    chosen = [value for value in posted.getlist("agreements") if isinstance(value, str) and value in AGREEMENTS]
    body: dict[str, Any] = {name: value.strip() for name, value in values.items() if value.strip()}
    body["agreements"] = chosen
    if "supplier_country" in body:
        body["supplier_country"] = body["supplier_country"].upper()
    try:
        declaration = DeclarationIn.model_validate(body)
    except ValidationError as error:
        return await _page(request, caller, {**values, "agreements": chosen}, _errors(error), status_code=422)
    await run_in_threadpool(store_declaration, request.app.state.services, declaration, caller)
    return RedirectResponse("/declarations?created=1", status_code=303)


@router.post("/declarations/{declaration_id}/withdraw", response_model=None)
async def withdraw_declaration(request: Request, caller: WebUser, declaration_id: str) -> Response:
    await posted_form(request)
    try:
        await run_in_threadpool(_withdraw, request.app.state.services, uuid.UUID(declaration_id), caller)
    except (ValueError, HTTPException):
        raise WebError(404, "No such declaration", "There is no declaration at this address that you may change.") from None
    return RedirectResponse("/declarations", status_code=303)


def _errors(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        loc = item["loc"]
        name = str(loc[0]) if loc else MODEL_ERROR_FIELDS.get(item["type"], "form")
        errors.setdefault(name, item["msg"].removeprefix("Value error, "))
    return errors


async def _page(request: Request, caller: Caller, values: Mapping[str, Any], errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    views = await run_in_threadpool(own_declarations, request.app.state.services, caller, date.today())
    return render(
        request,
        "declarations.html",
        status_code=status_code,
        declarations=views,
        values=values,
        errors=errors,
        agreements=AGREEMENTS,
        warning_days=EXPIRY_WARNING_DAYS,
        created=request.query_params.get("created") == "1",
    )


def _blank() -> dict[str, Any]:
    return {**dict.fromkeys(FIELDS, ""), "type": "ltsd", "agreements": []}
