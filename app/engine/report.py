"""The assessment report: every alternative and criterion with its numbers, every material with its
status and reason, and plain-language reasons. Decimals serialise as strings in JSON.

The report types are stdlib dataclasses with slots, not pydantic models: the engine builds dozens per
calculation from values it computed and typed itself, and validating each (or even freezing it, which
sets every field through object.__setattr__) would cost more than the assessment; nothing changes a
report once built. Pydantic still gives them their JSON, their validation when a stored report is read back
and their JSON schema, through a TypeAdapter per type (`model_dump_json`, `model_validate_json`).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal, Self

from pydantic import Field, TypeAdapter

from app.engine.request import AgreementCode

Basis = Literal["supplier_declaration", "ltsd", "statement_on_origin", "absorption"]

# Positional fields in declaration order (the JSON's order): the engine builds the frequent ones positionally,
# because calling a class with keywords costs a dict of them per object (three times the positional call).
# A default before required fields (`kind`) is keyword-only.
report_type = dataclasses.dataclass(slots=True)


@cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


class _Report:
    """JSON in and out through pydantic, with the method names the models had."""

    __slots__ = ()

    def model_dump_json(self, *, indent: int | None = None) -> str:
        return _adapter(type(self)).dump_json(self, indent=indent).decode()

    @classmethod
    def model_validate_json(cls, data: str | bytes) -> Self:
        return _adapter(cls).validate_json(data)  # type: ignore[no-any-return]

    def model_copy(self, *, update: dict[str, Any]) -> Self:
        return dataclasses.replace(self, **update)  # type: ignore[type-var]


@report_type
class FailingMaterial(_Report):
    path: str
    hs_code: str
    value: Decimal
    why: str


@report_type
class TariffShiftResult(_Report):
    kind: Annotated[Literal["CC", "CTH", "CTSH", "ANY"], Field(description="ANY: materials of any heading, only the exceptions count")]
    text: str
    met: bool
    reason: str
    failing_materials: tuple[FailingMaterial, ...]
    failing_value: Decimal
    tolerance_applied: bool
    tolerance_used: Decimal
    tolerance_limit: Decimal | None


@report_type
class MaxNomResult(_Report):
    kind: Literal["MaxNOM"] = dataclasses.field(default="MaxNOM", kw_only=True)
    text: str
    met: bool
    reason: str
    threshold_percent: Decimal
    restricted_to: str | None
    nom_value: Decimal
    nom_percent: Decimal
    ex_works_price: Decimal
    counted_materials: tuple[str, ...]


@report_type
class RvcResult(_Report):
    kind: Literal["RVC"] = dataclasses.field(default="RVC", kw_only=True)
    text: str
    met: bool
    reason: str
    threshold_percent: Decimal
    fob_price: Decimal | None
    vnm_value: Decimal
    rvc_percent: Decimal | None


@report_type
class WeightLimitResult(_Report):
    kind: Literal["weight"] = dataclasses.field(default="weight", kw_only=True)
    text: str
    met: bool
    reason: str
    threshold_percent: Decimal
    restricted_to: str | None


@report_type
class OperationResult(_Report):
    kind: Literal["OP"] = dataclasses.field(default="OP", kw_only=True)
    text: str
    met: bool
    reason: str
    operation: str


CriterionResult = Annotated[TariffShiftResult | MaxNomResult | RvcResult | WeightLimitResult | OperationResult, Field(discriminator="kind")]


@report_type
class AlternativeResult(_Report):
    text: str
    met: bool
    criteria: tuple[CriterionResult, ...]


@report_type
class MaterialResult(_Report):
    path: str
    hs_code: str
    origin: str
    value: Decimal
    originating: bool
    basis: Basis | None
    cumulation: bool
    reason: str
    sub_assessment: AssessmentReport | None = None


@report_type
class RuleUsed(_Report):
    legal_text: Annotated[str, Field(description="the rule as given: for rules data the annex's own wording, for a request its rule text")]
    text: Annotated[str, Field(description="how the engine read the rule (its compact form)")]
    source: Literal["request", "rules_data"]
    legal_source: str
    unverified: Annotated[bool, Field(description="rules data not compared with the official text (see warnings)")] = False
    hs_range: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    checked_against: str | None = None


@report_type
class ToleranceInfo(_Report):
    percent: Decimal
    limit: Decimal
    available: bool
    legal_source: str
    reason: str


@report_type
class OperationsCheck(_Report):
    performed: tuple[str, ...]
    insufficient: tuple[str, ...]
    all_insufficient: bool
    legal_source: str


@report_type
class ProductFacts(_Report):
    hs_code: str
    ex_works_price: Decimal
    fob_price: Decimal | None
    description: str | None


@report_type
class AssessmentReport(_Report):
    originating: bool
    agreement: AgreementCode
    agreement_name: str
    assessment_date: date
    product: ProductFacts
    rule: RuleUsed
    alternatives: tuple[AlternativeResult, ...]
    materials: tuple[MaterialResult, ...]
    non_originating_value: Decimal
    tolerance: ToleranceInfo
    operations: OperationsCheck
    reasons: tuple[str, ...]
    warnings: Annotated[tuple[str, ...], Field(description="what the result rests on that is not verified, e.g. UNVERIFIED rules data")] = ()
