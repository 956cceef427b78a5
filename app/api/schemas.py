"""Pydantic models at the HTTP edge (besides the engine's request and report models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from app.engine.proofs import MAX_PERIOD_MONTHS, MAX_START_AFTER_ISSUE_MONTHS, MAX_START_BEFORE_ISSUE_MONTHS, add_months, ltsd_window_problems
from app.engine.report import AssessmentReport
from app.engine.request import AgreementCode, printable_text
from app.engine.rulebook import ProductRule, default_rulebook


class CalculationOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    agreement: AgreementCode
    hs_code: str
    originating: bool
    result: AssessmentReport


class DeclarationIn(BaseModel):
    """A supplier's declaration (single) or long-term supplier's declaration (LTSD) to keep on file.

    Refused when it would be unusable: LTSD window rules (Reg. (EU) 2015/2447 Art. 62), a supplier not
    established in the EU, or no agreement named."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "ltsd",
                    "supplier_name": "Stahlwerk Nord GmbH",
                    "supplier_country": "DE",
                    "agreements": ["EU-JP", "EU-UK"],
                    "products": "cold-rolled steel sheet 7209.17",
                    "issue_date": "2025-01-01",
                    "valid_from": "2025-01-01",
                    "valid_until": "2025-12-31",
                }
            ]
        },
    )

    type: Literal["ltsd", "supplier_declaration"]
    supplier_name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable_text)]
    supplier_country: str = Field(max_length=2, description="EU member state where the supplier is established (ISO 3166 alpha-2)")
    agreements: list[AgreementCode] = Field(min_length=1, max_length=5, description="agreements whose preferential origin is declared")
    products: Annotated[str, Field(min_length=1, max_length=2000, description="the goods covered"), AfterValidator(printable_text)]
    issue_date: date
    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def _usable(self) -> DeclarationIn:
        members = default_rulebook().eu_member_states
        if self.supplier_country not in members:
            raise PydanticCustomError(
                "supplier_country", "supplier_country must be an EU member state code ({allowed})", {"allowed": ", ".join(sorted(members))}
            )
        if self.type == "supplier_declaration":
            if self.valid_from is not None or self.valid_until is not None:
                raise PydanticCustomError("declaration_period", "a single supplier's declaration has no period: omit valid_from and valid_until")
            return self
        if self.valid_from is None or self.valid_until is None:
            raise PydanticCustomError("ltsd_period", "an LTSD needs valid_from and valid_until")
        problems = ltsd_window_problems(self.issue_date, self.valid_from, self.valid_until)
        if problems:
            raise PydanticCustomError(
                "ltsd_window",
                "LTSD not allowed: {problems}. Allowed: valid_from between {earliest} and {latest}, "
                "valid_until between valid_from and {last_end}",
                {
                    "problems": "; ".join(problems),
                    "earliest": add_months(self.issue_date, -MAX_START_BEFORE_ISSUE_MONTHS).isoformat(),
                    "latest": add_months(self.issue_date, MAX_START_AFTER_ISSUE_MONTHS).isoformat(),
                    "last_end": add_months(self.valid_from, MAX_PERIOD_MONTHS).isoformat(),
                },
            )
        return self


class DeclarationOut(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    type: Literal["ltsd", "supplier_declaration"]
    supplier_name: str
    supplier_country: str
    agreements: list[AgreementCode]
    products: str
    issue_date: date
    valid_from: date | None
    valid_until: date | None
    withdrawn_on: date | None
    created_at: datetime
    updated_at: datetime


class RuleIn(ProductRule):
    """A product-specific rule to store: the rules-data fields plus its agreement."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "agreement": "EU-UK",
                    "hs": "3921",
                    "rule": "CTSH or MaxNOM 50% (EXW)",
                    "text": "CTSH; or MaxNOM 50 % (EXW).",
                    "legal_source": "TCA Annex ORIG-2, Chapter 39, heading 39.21",
                    "valid_from": "2021-01-01",
                }
            ]
        },
    )

    agreement: AgreementCode


class RuleOut(BaseModel):
    id: uuid.UUID
    agreement: AgreementCode
    hs: str
    rule: str
    criteria: list[list[str]] = Field(description="the rule's alternatives, each a list of criteria that must all be met")
    text: str
    legal_source: str
    valid_from: date
    valid_until: date | None
    checked_against: str | None
    note: str | None
    updated_at: datetime


class HsCodeOut(BaseModel):
    code: str
    description: str
    chapter: str
    taric_data: dict[str, Any] | None


class AuditLogOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID | None
    action: str
    details: dict[str, Any]
    timestamp: datetime
