"""New calculation, result/certificate (with PDF, JSON and chart downloads) and My calculations."""

from __future__ import annotations

import uuid
from datetime import date
from typing import get_args

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.auth import Caller
from app.api.errors import InputError
from app.api.routes.calculations import _create
from app.api.schemas import CalculationOut
from app.api.services import Services
from app.engine.assess import EngineInputError
from app.engine.request import AgreementCode
from app.web.calculation_form import DECLARATION_PREFIX, TYPED_PROOFS, CalculationForm
from app.web.chart import bars_of, non_originating_chart, threshold_of
from app.web.identity import WebUser, posted_form
from app.web.pdf import certificate_pdf
from app.web.presentation import criterion_figures, material_lines, money, percent, verdict
from app.web.queries import CertificateFilter, own_certificates, own_declarations, product_lookup, visible_calculation
from app.web.rendering import WebError, download, render

router = APIRouter(include_in_schema=False)
AGREEMENTS: tuple[str, ...] = get_args(AgreementCode)
MAX_PAGE = 10_000
REMOVE_ROW = "remove_row:"  # the remove buttons' action: remove_row:<row index>


@router.get("/", response_class=HTMLResponse)
@router.get("/calculations/new", response_class=HTMLResponse)
async def new_calculation(request: Request, caller: WebUser) -> HTMLResponse:
    return await _form_page(request, caller, CalculationForm.blank(date.today()))


@router.post("/calculations/new", response_model=None)
async def submit_calculation(request: Request, caller: WebUser) -> Response:
    posted = await posted_form(request)
    form = CalculationForm.from_post(posted)
    action = posted.get("action", "calculate")
    if action == "add_row":
        form.add_row()
        return await _form_page(request, caller, form, focus=f"m{len(form.rows) - 1}_hs_code")
    row = action.removeprefix(REMOVE_ROW) if isinstance(action, str) and action.startswith(REMOVE_ROW) else ""
    if row.isdigit() and len(row) <= 3:
        form.remove_row(int(row))
        return await _form_page(request, caller, form)
    if action == "lookup":
        return await _form_page(request, caller, form)
    services: Services = request.app.state.services
    assessment, rows_at = form.validated()
    if assessment is not None:
        try:
            certificate_id, _ = await _create(services, assessment, caller.user_id, caller.is_admin)
        except (InputError, EngineInputError) as error:
            form.add_errors([(error.loc, error.message)], rows_at)
        else:
            return RedirectResponse(f"/calculations/{certificate_id}", status_code=303)
    return await _form_page(request, caller, form, status_code=422)


async def _form_page(request: Request, caller: Caller, form: CalculationForm, status_code: int = 200, focus: str | None = None) -> HTMLResponse:
    services: Services = request.app.state.services
    today = date.today()
    declarations = [view for view in await run_in_threadpool(own_declarations, services, caller, today) if view.state in ("usable", "expiring")]
    proof_options = [("", "no proof (non-originating unless it comes from the partner)")]
    proof_options += [(f"{DECLARATION_PREFIX}{view.row.id}", f"stored: {view.label}") for view in declarations]
    proof_options += [(value, f"typed in below: {name}") for value, name in TYPED_PROOFS.items()]
    lookup = None
    values = form.values
    hs_code, agreement = values["product_hs_code"].strip(), values["agreement"]
    if hs_code.isascii() and hs_code.isdigit() and len(hs_code) in (6, 8, 10) and agreement in AGREEMENTS:
        try:
            on = date.fromisoformat(values["assessment_date"].strip())
        except ValueError:
            on = today
        lookup = await run_in_threadpool(product_lookup, services, agreement, hs_code, on)  # type: ignore[arg-type]
    return render(
        request,
        "calculation_form.html",
        status_code=status_code,
        form=form,
        labels=form.error_labels(),
        agreements=[(agreement.code, agreement.name) for agreement in services.rulebook.agreements()],
        proof_options=proof_options,
        lookup=lookup,
        focus=focus,
    )


@router.get("/calculations", response_class=HTMLResponse)
async def my_calculations(request: Request, caller: WebUser) -> HTMLResponse:
    services: Services = request.app.state.services
    query = request.query_params
    errors: dict[str, str] = {}
    agreement = query.get("agreement", "")
    if agreement and agreement not in AGREEMENTS:
        errors["agreement"] = f"choose one of {', '.join(AGREEMENTS)}"
    hs_code = query.get("hs_code", "").strip()
    if hs_code and not (hs_code.isascii() and hs_code.isdigit() and 2 <= len(hs_code) <= 10):
        errors["hs_code"] = "the start of an HS code: 2 to 10 digits, no dots"
    verdict_filter = query.get("verdict", "")
    if verdict_filter not in ("", "originating", "not_originating"):
        errors["verdict"] = "originating or not originating"
    page_text = query.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE else 1
    where = CertificateFilter(
        agreement=agreement if agreement in AGREEMENTS else None,  # type: ignore[arg-type]
        hs_code=hs_code if "hs_code" not in errors and hs_code else None,
        originating={"originating": True, "not_originating": False}.get(verdict_filter),
    )
    rows, more = await run_in_threadpool(own_certificates, services, caller, where, page)
    filters = {"agreement": agreement if agreement in AGREEMENTS else "", "hs_code": hs_code[:10], "verdict": verdict_filter if "verdict" not in errors else ""}
    return render(request, "calculations.html", rows=rows, page=page, more=more, filters=filters, errors=errors, agreements=AGREEMENTS)


async def _calculation(request: Request, caller: Caller, calculation_id: str) -> CalculationOut:
    try:
        wanted = uuid.UUID(calculation_id)
    except ValueError:
        wanted = None
    found = None if wanted is None else await visible_calculation(request.app.state.services, wanted, caller)
    if found is None:
        raise WebError(404, "No such calculation", "There is no calculation at this address that you may see.")
    return found


@router.get("/calculations/{calculation_id}", response_class=HTMLResponse)
async def calculation_result(request: Request, caller: WebUser, calculation_id: str) -> HTMLResponse:
    calculation = await _calculation(request, caller, calculation_id)
    report = calculation.result
    return render(
        request,
        "result.html",
        calculation=calculation,
        report=report,
        verdict=verdict(report),
        figures=criterion_figures,
        materials=list(material_lines(report)),
        bars=bars_of(report),
        threshold=threshold_of(report),
        money=money,
        percent=percent,
    )


@router.get("/calculations/{calculation_id}/certificate.pdf")
async def calculation_pdf(request: Request, caller: WebUser, calculation_id: str) -> Response:
    calculation = await _calculation(request, caller, calculation_id)
    content = await run_in_threadpool(certificate_pdf, calculation)
    return download(content, "application/pdf", f"origin-certificate-{calculation.id}.pdf")


@router.get("/calculations/{calculation_id}/certificate.json")
async def calculation_json(request: Request, caller: WebUser, calculation_id: str) -> Response:
    calculation = await _calculation(request, caller, calculation_id)
    return download(calculation.model_dump_json(indent=2).encode(), "application/json", f"origin-certificate-{calculation.id}.json")


@router.get("/calculations/{calculation_id}/chart.svg")
async def calculation_chart(request: Request, caller: WebUser, calculation_id: str) -> Response:
    calculation = await _calculation(request, caller, calculation_id)
    response = download(non_originating_chart(calculation.result).encode(), "image/svg+xml", "chart.svg")
    del response.headers["Content-Disposition"]
    return response
