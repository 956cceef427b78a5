"""The assessment report: every alternative and criterion with its numbers, every material with its
status and reason, and plain-language reasons. Decimals serialise as strings in JSON."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.engine.request import AgreementCode

Basis = Literal["supplier_declaration", "ltsd", "statement_on_origin", "absorption"]


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class FailingMaterial(_Report):
    path: str
    hs_code: str
    value: Decimal
    why: str


class TariffShiftResult(_Report):
    kind: Literal["CC", "CTH", "CTSH", "ANY"] = Field(description="ANY: materials of any heading, only the exceptions count")
    text: str
    met: bool
    reason: str
    failing_materials: tuple[FailingMaterial, ...]
    failing_value: Decimal
    tolerance_applied: bool
    tolerance_used: Decimal
    tolerance_limit: Decimal | None


class MaxNomResult(_Report):
    kind: Literal["MaxNOM"] = "MaxNOM"
    text: str
    met: bool
    reason: str
    threshold_percent: Decimal
    restricted_to: str | None
    nom_value: Decimal
    nom_percent: Decimal
    ex_works_price: Decimal
    counted_materials: tuple[str, ...]


class RvcResult(_Report):
    kind: Literal["RVC"] = "RVC"
    text: str
    met: bool
    reason: str
    threshold_percent: Decimal
    fob_price: Decimal | None
    vnm_value: Decimal
    rvc_percent: Decimal | None


class WeightLimitResult(_Report):
    kind: Literal["weight"] = "weight"
    text: str
    met: bool
    reason: str
    threshold_percent: Decimal
    restricted_to: str | None


class OperationResult(_Report):
    kind: Literal["OP"] = "OP"
    text: str
    met: bool
    reason: str
    operation: str


CriterionResult = Annotated[TariffShiftResult | MaxNomResult | RvcResult | WeightLimitResult | OperationResult, Field(discriminator="kind")]


class AlternativeResult(_Report):
    text: str
    met: bool
    criteria: tuple[CriterionResult, ...]


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


class RuleUsed(_Report):
    legal_text: str = Field(description="the rule as given: for rules data the annex's own wording, for a request its rule text")
    text: str = Field(description="how the engine read the rule (its compact form)")
    source: Literal["request", "rules_data"]
    legal_source: str
    unverified: bool = Field(default=False, description="rules data not compared with the official text (see warnings)")
    hs_range: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    checked_against: str | None = None


class ToleranceInfo(_Report):
    percent: Decimal
    limit: Decimal
    available: bool
    legal_source: str
    reason: str


class OperationsCheck(_Report):
    performed: tuple[str, ...]
    insufficient: tuple[str, ...]
    all_insufficient: bool
    legal_source: str


class ProductFacts(_Report):
    hs_code: str
    ex_works_price: Decimal
    fob_price: Decimal | None
    description: str | None


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
    warnings: tuple[str, ...] = Field(default=(), description="what the result rests on that is not verified, e.g. UNVERIFIED rules data")
