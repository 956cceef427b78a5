"""POST/GET /v1/origin/calculations: assess, then store certificate, materials and audit row atomically.

The engine report is cached by a canonical hash of the (declaration-resolved) request; certificates are
cached by id. Both caches hold JSON bytes that are returned as they are. The report is serialised once
and that text is stored, cached and embedded in the response.

POST runs on the event loop: its cache and database I/O is asynchronous and the engine (pure CPU) runs in
place, so a calculation costs no worker-thread hand-off and no GIL contention between threads. Only rare
steps block and go to a worker thread: looking up referenced supplier declarations, and rules the process
does not hold fresh (app/db/rules.py LocalRules).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Table, Text, cast, select

from app.api.auth import Caller, ServicesDep, UserCaller
from app.api.errors import InputError
from app.api.routing import BEARER_SECURITY, ApiRoute, UserFirstRoute
from app.api.schemas import CalculationOut
from app.api.services import Services
from app.cache import CALCULATION_PREFIX, CERTIFICATE_PREFIX, canonical_hash
from app.db.models import Base, Certificate, SupplierDeclaration, utcnow
from app.db.rules import RulesNotLocal
from app.db.session import JsonText
from app.engine.assess import Loc, assess, field_path
from app.engine.money import percent_of
from app.engine.report import AssessmentReport, MaterialResult
from app.engine.request import AssessmentRequest, Proof
from app.engine.request import Material as MaterialIn
from app.engine.rulebook import RuleBook
from app.metrics import CALCULATIONS, labelled

PATH = "/v1/origin/calculations"
router = APIRouter(prefix=PATH, tags=["origin"], route_class=ApiRoute)

# Core tables rather than ORM entities on the write path: the rows are write-once, and the ORM's
# unit of work would only add per-request CPU (app/db/inserts.py sends them in one round trip).
CERTIFICATES, MATERIALS, AUDIT_LOGS = (Base.metadata.tables[name] for name in ("certificates", "materials", "audit_logs"))

ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "missing or invalid token"}, 403: {"description": "role missing"}}


async def create_calculation(body: AssessmentRequest, request: Request) -> Response:
    # the busiest route resolves no dependency: its caller comes from UserFirstRoute, its services from the request
    # (a JSON body usually takes app/api/hot_route.py instead, which calls `created` the same way)
    return await created(request.app.state.services, body, request.state.caller)


async def created(services: Services, body: AssessmentRequest, caller: Caller) -> Response:
    """The 201 answer of a stored calculation."""
    certificate_id, payload = await _create(services, body, caller.user_id, caller.is_admin)
    return Response(
        content=payload,
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Location": f"{PATH}/{certificate_id}"},
    )


router.add_api_route(
    "",
    create_calculation,
    methods=["POST"],
    route_class_override=UserFirstRoute,
    openapi_extra=BEARER_SECURITY,
    status_code=status.HTTP_201_CREATED,
    response_model=CalculationOut,
    responses={**ERRORS, 422: {"description": "invalid input: field path and what is allowed"}},
    summary="Assess a product and store the result as a certificate",
)


@router.get(
    "/{calculation_id}",
    response_model=CalculationOut,
    responses={**ERRORS, 404: {"description": "no such calculation visible to the caller"}},
    summary="Read a stored calculation (own ones; admins all)",
)
async def read_calculation(calculation_id: uuid.UUID, caller: UserCaller, services: ServicesDep) -> Response:
    cached = await services.cache.aget(f"{CERTIFICATE_PREFIX}{calculation_id}")
    if cached is None:
        cached = await run_in_threadpool(_load_certificate, services, calculation_id)
    entry = json.loads(cached) if cached else None
    if entry is None or not (caller.is_admin or entry["owner_id"] == str(caller.user_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such calculation")
    return Response(content=json.dumps(entry["calculation"], separators=(",", ":")), media_type="application/json")


async def _create(services: Services, body: AssessmentRequest, user_id: uuid.UUID, is_admin: bool) -> tuple[uuid.UUID, str]:
    """Assess, then store certificate, materials and audit row atomically (one round trip on PostgreSQL) and
    cache the engine result and the certificate (one Redis round trip); returns the id and the response body."""
    certificate_id = uuid.uuid4()
    created_at = utcnow()
    references = dict(_references(body.materials, ("body", "materials")))
    if references:
        request, declaration_ids = await run_in_threadpool(_resolve_declarations, services, body, references, user_id, is_admin)
    else:
        request, declaration_ids = body, {}
    digest = canonical_hash(request)
    report, result_json, cached = await _report(services, request, digest)
    stored = StoredCalculation(certificate_id, created_at, user_id, request, report, result_json, digest)
    await services.inserts.insert_async(stored.rows(services.rulebook, declaration_ids))
    payload = _calculation_json(certificate_id, created_at, request.agreement, request.product.hs_code, report.originating, result_json)
    entries = [] if cached else [(f"{CALCULATION_PREFIX}{digest}", result_json.encode(), services.settings.certificate_ttl_seconds)]
    entries.append(_certificate_entry(services, certificate_id, user_id, payload))
    await services.cache.aset_many(entries)
    labelled(CALCULATIONS, request.agreement, str(report.originating).lower()).inc()
    return certificate_id, payload


@dataclass(frozen=True)
class StoredCalculation:
    """A calculation as the rows that store it: certificate, bill of materials and audit-log entry."""

    certificate_id: uuid.UUID
    created_at: datetime
    user_id: uuid.UUID
    request: AssessmentRequest
    report: AssessmentReport
    result_json: str
    request_hash: str

    def rows(self, rulebook: RuleBook, declaration_ids: dict[str, uuid.UUID]) -> list[tuple[Table, list[dict[str, Any]]]]:
        """Batches for AtomicInserts, in foreign-key order; `declaration_ids` maps material paths to stored declarations."""
        request, report = self.request, self.report
        certificate = {
            "id": self.certificate_id,
            "user_id": self.user_id,
            "agreement": request.agreement,
            "hs_code": request.product.hs_code,
            "origin_country": "EU",
            "destination_country": rulebook.agreement(request.agreement).partner_country,
            "assessment_date": request.assessment_date,
            "originating": report.originating,
            "request_hash": self.request_hash,
            "calculation_result": JsonText(self.result_json),
            "created_at": self.created_at,
        }
        materials = _material_rows(self.certificate_id, None, "materials", request.materials, report.materials, request.product.ex_works_price, declaration_ids)
        details = {"certificate_id": str(self.certificate_id), "agreement": request.agreement, "hs_code": request.product.hs_code, "originating": report.originating}
        audit = {"id": uuid.uuid4(), "user_id": self.user_id, "action": "calculation.create", "details": details, "timestamp": self.created_at}
        return [(CERTIFICATES, [certificate]), (MATERIALS, list(materials)), (AUDIT_LOGS, [audit])]


def _calculation_json(certificate_id: uuid.UUID, created_at: datetime, agreement: str, hs_code: str, originating: bool, result_json: str) -> str:
    """CalculationOut as JSON text, embedding the already serialised report."""
    head = json.dumps(
        {"id": str(certificate_id), "created_at": created_at.isoformat(), "agreement": agreement, "hs_code": hs_code, "originating": originating},
        separators=(",", ":"),
    )
    return f'{head[:-1]},"result":{result_json}}}'


def _certificate_entry(services: Services, certificate_id: uuid.UUID, owner_id: uuid.UUID, payload: str) -> tuple[str, bytes, int]:
    entry = f'{{"owner_id":"{owner_id}","calculation":{payload}}}'.encode()
    return f"{CERTIFICATE_PREFIX}{certificate_id}", entry, services.settings.certificate_ttl_seconds


async def _report(services: Services, request: AssessmentRequest, digest: str) -> tuple[AssessmentReport, str, bool]:
    """The engine's report and its JSON, from the cache when this request was assessed before (third item)."""
    allow_unverified = services.settings.origin_allow_unverified_rules
    cached = await services.cache.aget(f"{CALCULATION_PREFIX}{digest}")
    if cached is not None:
        report = AssessmentReport.model_validate_json(cached)
        # a report with UNVERIFIED warnings, cached where they were allowed, is assessed again here (and refused)
        if allow_unverified or not report.warnings:
            return report, cached.decode(), True
    try:
        report = assess(request, services.rules.local_only(), allow_unverified=allow_unverified)
    except RulesNotLocal:
        report = await run_in_threadpool(lambda: assess(request, services.rules, allow_unverified=allow_unverified))
    return report, report.model_dump_json(), False


# the report as the text stored, read as it is: the same bytes the 201 answer carried, not parsed and dumped again
_STORED = select(
    Certificate.id, Certificate.user_id, Certificate.created_at, Certificate.agreement, Certificate.hs_code, Certificate.originating,
    cast(Certificate.calculation_result, Text),
)  # fmt: skip


def _load_certificate(services: Services, calculation_id: uuid.UUID) -> bytes | None:
    with services.sessions() as session:
        row = session.execute(_STORED.where(Certificate.id == calculation_id)).one_or_none()
    if row is None:
        return None
    certificate_id, owner_id, created_at, agreement, hs_code, originating, result_json = row
    payload = _calculation_json(certificate_id, created_at, agreement, hs_code, originating, result_json)
    key, entry, ttl_seconds = _certificate_entry(services, certificate_id, owner_id, payload)
    services.cache.set(key, entry, ttl_seconds)
    return entry


def _resolve_declarations(
    services: Services, body: AssessmentRequest, references: dict[Loc, uuid.UUID], user_id: uuid.UUID, is_admin: bool
) -> tuple[AssessmentRequest, dict[str, uuid.UUID]]:
    """Replace proofs that reference a stored declaration by that declaration's type and dates."""
    query = select(SupplierDeclaration).where(SupplierDeclaration.id.in_(set(references.values())))
    if not is_admin:
        query = query.where(SupplierDeclaration.owner_id == user_id)
    with services.sessions() as session:
        stored = {row.id: row for row in session.scalars(query)}
    by_path: dict[str, uuid.UUID] = {}
    for loc, declaration_id in references.items():
        if declaration_id not in stored:
            raise InputError(loc + ("proof", "declaration_id"), "no supplier declaration with this id is available to you", "declaration_unknown")
        by_path[field_path(loc[1:])] = declaration_id
    materials = _with_proofs(body.materials, ("body", "materials"), stored, references)
    return body.model_copy(update={"materials": materials}), by_path


def _references(materials: tuple[MaterialIn, ...], loc: Loc) -> Iterator[tuple[Loc, uuid.UUID]]:
    for index, material in enumerate(materials):
        here = loc + (index,)
        proof = material.proof
        if proof is not None and proof.declaration_id is not None:
            if proof.type is not None or proof.issue_date or proof.valid_from or proof.valid_until or proof.agreements or proof.withdrawn_on:
                raise InputError(here + ("proof",), "give either declaration_id or the proof's type and dates, not both", "proof_conflict")
            yield here, proof.declaration_id
        yield from _references(material.sub_materials, here + ("sub_materials",))


def _with_proofs(
    materials: tuple[MaterialIn, ...],
    loc: Loc,
    stored: dict[uuid.UUID, SupplierDeclaration],
    references: dict[tuple[str | int, ...], uuid.UUID],
) -> tuple[MaterialIn, ...]:
    out = []
    for index, material in enumerate(materials):
        here = loc + (index,)
        update: dict[str, Any] = {"sub_materials": _with_proofs(material.sub_materials, here + ("sub_materials",), stored, references)}
        if here in references:
            row = stored[references[here]]
            update["proof"] = Proof(
                type=row.kind,  # type: ignore[arg-type]
                issue_date=row.issue_date,
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                declaration_id=row.id,
                agreements=tuple(row.agreements),
                withdrawn_on=row.withdrawn_on,
            )
        out.append(material.model_copy(update=update))
    return tuple(out)


def _material_rows(
    certificate_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    prefix: str,
    materials: tuple[MaterialIn, ...],
    results: tuple[MaterialResult, ...] | None,
    whole: Decimal,
    declarations: dict[str, uuid.UUID],
) -> Iterator[dict[str, Any]]:
    """Rows for the bill of materials; sub-materials of a part the engine did not assess are stored as
    non-originating (their status was never established)."""
    for index, material in enumerate(materials):
        path = f"{prefix}[{index}]"
        result = results[index] if results is not None else None
        row_id = uuid.uuid4()
        yield {
            "id": row_id,
            "certificate_id": certificate_id,
            "parent_id": parent_id,
            "path": path,
            "hs_code": material.hs_code,
            "origin": material.origin,
            "value": material.value,
            "value_percentage": percent_of(material.value, whole) if whole else Decimal(0),
            "processing_cost": None,
            "originating": result is not None and result.originating,
            "declaration_id": declarations.get(path),
        }
        if material.sub_materials:
            assessed = result.sub_assessment.materials if result is not None and result.sub_assessment is not None else None
            yield from _material_rows(certificate_id, row_id, f"{path}.sub_materials", material.sub_materials, assessed, material.value, declarations)
