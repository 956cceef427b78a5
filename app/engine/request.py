"""The assessment request: one JSON shape for the HTTP API and the CLI.

Money is Decimal end to end. JSON numbers must reach these models already as Decimal (the API and
the CLI parse JSON with parse_float=Decimal); strings like "100.00" are the recommended form.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal, NamedTuple
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, model_validator
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

from app.engine.parser import RuleSyntaxError, parse_rule

AgreementCode = Literal["EU-JP", "EU-UK", "CETA", "EU-KR", "PEM"]
ProofType = Literal["ltsd", "supplier_declaration", "statement_on_origin"]

MAX_MATERIALS = 200
MAX_DEPTH = 4
MAX_RULE_CHARACTERS = 4000  # all rule texts of one request together (the longest rule in the bundled data: 475)


# The code and origin checks are remembered by value: bills of materials repeat codes and countries, and a
# look-up costs less than the checks (a refusal is not remembered: it raises every time).
@lru_cache(maxsize=4096)
def _hs_code(value: str) -> str:
    if not (value.isascii() and value.isdigit() and len(value) in (6, 8, 10)):
        raise PydanticCustomError(
            "hs_code", "HS code must be 6, 8 or 10 digits without dots (e.g. 850110), got '{value}'", {"value": value}
        )
    return value


@lru_cache(maxsize=1024)
def _origin(value: str) -> str:
    if value in ("EU", "UNKNOWN") or (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
        return value
    raise PydanticCustomError(
        "origin", "origin must be EU, UNKNOWN or an ISO 3166 alpha-2 country code such as DE or JP, got '{value}'", {"value": value}
    )


def _rule(value: str) -> str:
    try:
        parse_rule(value)
    except RuleSyntaxError as error:
        raise PydanticCustomError(
            "rule_syntax",
            "{message}",
            {"message": error.describe(), "position": error.position, "column": error.column, "expected": list(error.expected)},
        ) from None
    return value


# control characters but tab and line breaks (C0, DEL, C1), and the bidirectional embeddings, overrides and isolates
# that make text display in another order than it is stored ("Trojan Source" spoofing of names in pages and PDFs)
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable_text(value: str) -> str:
    if _UNPRINTABLE.search(value):
        raise PydanticCustomError(
            "control_character", "text must not contain control characters or bidirectional overrides (U+202A-U+202E, U+2066-U+2069)"
        )
    return value


FreeText = Annotated[str, Field(max_length=500), AfterValidator(printable_text)]
HsCode = Annotated[str, Field(max_length=16, json_schema_extra={"pattern": r"^\d{6}(\d{2}){0,2}$", "examples": ["850110"]}), AfterValidator(_hs_code)]
Origin = Annotated[str, Field(max_length=8, json_schema_extra={"pattern": r"^(EU|UNKNOWN|[A-Z]{2})$", "examples": ["CN"]}), AfterValidator(_origin)]
RuleText = Annotated[str, Field(max_length=2000), AfterValidator(_rule)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]
OperationCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The dates the law attaches to each kind of proof: a proof without them is refused, never treated as absent.
REQUIRED_DATES: dict[str, dict[str, str]] = {
    "ltsd": {
        "issue_date": "an LTSD needs its issue date (issue_date; Implementing Regulation (EU) 2015/2447 Annex 22-16)",
        "valid_from": "an LTSD needs the first day of its period (valid_from; Implementing Regulation (EU) 2015/2447 Art. 62)",
        "valid_until": "an LTSD needs the last day of its period (valid_until; Implementing Regulation (EU) 2015/2447 Art. 62)",
    },
    "supplier_declaration": {
        "issue_date": "a supplier's declaration needs its issue date (issue_date; Implementing Regulation (EU) 2015/2447 Annex 22-15)",
    },
    "statement_on_origin": {
        "issue_date": "a statement on origin needs the date it was made out (issue_date); its validity runs from that date",
    },
}

PROOF_EXAMPLES: list[JsonValue] = [
    {"type": "ltsd", "issue_date": "2025-01-01", "valid_from": "2025-01-01", "valid_until": "2025-12-31"},
    {"type": "supplier_declaration", "issue_date": "2025-02-10"},
    {"type": "statement_on_origin", "issue_date": "2025-01-15"},
    {"declaration_id": "3f2b6c1e-8d4a-4f7e-9a51-2c7d9e0b4a11"},
]


def _required_dates_schema(schema: JsonDict) -> None:
    """OpenAPI: the dates each proof type requires, as if/then clauses beside the examples."""
    schema["allOf"] = [
        {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]}, "then": {"required": list(fields)}}
        for kind, fields in REQUIRED_DATES.items()
    ]
    schema["examples"] = PROOF_EXAMPLES


def _dated(value: date | None, info: ValidationInfo) -> date | None:
    """Refuses a proof without a date its type requires, naming the field."""
    if value is not None:
        return value
    needed = REQUIRED_DATES.get(info.data.get("type") or "", {})
    if info.field_name in needed:
        raise PydanticCustomError("proof_date_missing", "{message}", {"message": needed[info.field_name], "proof_type": info.data["type"]})
    return value


ProofDate = Annotated[date | None, Field(default=None, validate_default=True), AfterValidator(_dated)]


class Proof(_Strict):
    """Proof of origin for a material: an LTSD (issue_date, valid_from, valid_until), a supplier's declaration
    (issue_date) or a statement on origin (issue_date, the date it was made out); or, through the API, a
    stored supplier declaration by `declaration_id`, whose type and dates then come from the store."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_required_dates_schema)

    type: ProofType | None = None
    issue_date: ProofDate = None
    valid_from: ProofDate = None
    valid_until: ProofDate = None
    declaration_id: UUID | None = Field(default=None, description="a supplier declaration stored through /v1/supplier-declarations (yours)")
    agreements: tuple[AgreementCode, ...] | None = Field(
        default=None, max_length=5, description="Agreements the declaration names; when given it must include the request's agreement."
    )
    withdrawn_on: date | None = Field(default=None, description="Date the supplier withdrew the declaration.")

    @model_validator(mode="after")
    def _type_or_reference(self) -> Proof:
        if self.type is None and self.declaration_id is None:
            raise PydanticCustomError("proof_type", "give the proof type (ltsd, supplier_declaration or statement_on_origin) or a declaration_id")
        return self


class Material(_Strict):
    hs_code: HsCode
    origin: Origin
    value: Money
    proof: Proof | None = None
    dispatch_date: date | None = None
    in_house: bool = False
    rule: RuleText | None = None
    sub_materials: tuple[Material, ...] = Field(default=(), max_length=MAX_MATERIALS)
    description: FreeText | None = None


class Product(_Strict):
    hs_code: HsCode
    ex_works_price: PositiveMoney
    fob_price: PositiveMoney | None = None
    description: FreeText | None = None


EXAMPLE: JsonDict = {
    "agreement": "EU-JP",
    "assessment_date": "2025-03-01",
    "product": {"hs_code": "850110", "ex_works_price": "100.00", "fob_price": "120.00", "description": "DC motor"},
    "operations": ["winding", "assembly"],
    "materials": [
        {"hs_code": "850300", "origin": "CN", "value": "30.00"},
        {
            "hs_code": "720917",
            "origin": "DE",
            "value": "10.00",
            "dispatch_date": "2025-02-01",
            "proof": {"type": "ltsd", "issue_date": "2025-01-01", "valid_from": "2025-01-01", "valid_until": "2025-12-31"},
        },
        {"hs_code": "850300", "origin": "EU", "value": "20.00", "in_house": True, "sub_materials": [{"hs_code": "720917", "origin": "CN", "value": "5.00"}]},
    ],
}


class AssessmentRequest(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [EXAMPLE]})

    agreement: AgreementCode
    assessment_date: date
    product: Product
    operations: tuple[OperationCode, ...] = Field(default=(), max_length=50)
    rule: RuleText | None = None
    materials: tuple[Material, ...] = Field(default=(), max_length=MAX_MATERIALS)

    @model_validator(mode="before")
    @classmethod
    def _bounded_tree(cls, data: object) -> object:
        """The bill of materials' depth and size and its rule texts, checked on the input as sent, before any
        material is validated or rule parsed: 300 levels of sub_materials cost 36 ms to validate, and 120
        in-house parts with 1,800-character rules (one 220 KiB body) held the event loop for 4 s."""
        if not isinstance(data, dict):
            return data
        shape = _shape(data)
        if shape.depth > MAX_DEPTH:
            raise PydanticCustomError("bill_of_materials", "sub_materials may nest at most {depth} levels deep", {"depth": MAX_DEPTH})
        if shape.materials > MAX_MATERIALS:
            raise PydanticCustomError("bill_of_materials", "at most {count} materials in total, sub_materials included", {"count": MAX_MATERIALS})
        if shape.rule_characters > MAX_RULE_CHARACTERS:
            raise PydanticCustomError(
                "rule_text",
                "the rule texts of one request (its rule and every material's rule) may have at most {limit} characters together",
                {"limit": MAX_RULE_CHARACTERS},
            )
        return data

    @model_validator(mode="after")
    def _values_within_their_whole(self) -> AssessmentRequest:
        overvalued = _overvalued(self.__dict__["materials"], self.product.__dict__["ex_works_price"], "materials")
        if overvalued is not None:
            raise PydanticCustomError(
                "material_value",
                "{path}.value is more than the value of what the material goes into (the product's ex-works price, or the "
                "in-house part's value); that value includes the value of all materials used in it",
                {"path": overvalued},
            )
        return self


class _Shape(NamedTuple):
    depth: int
    materials: int
    rule_characters: int


def _shape(request: dict[object, object]) -> _Shape:
    """Depth and size of the bill of materials and the characters of all its `rule` strings, on the request as
    sent (before validation), walking level by level without recursion."""
    depth = materials = characters = 0
    level: list[dict[object, object]] = [request]
    children = "materials"
    while level:
        below: list[dict[object, object]] = []
        for node in level:
            # most materials have neither: `is not None` spares them an isinstance call, the walk's main cost
            rule = node.get("rule")
            if rule is not None and isinstance(rule, str):
                characters += len(rule)
            items = node.get(children)
            if items is not None and isinstance(items, (list, tuple)):  # a tuple: `list | tuple` would build a union per node
                below += [item for item in items if isinstance(item, dict)]
        if below:
            depth += 1
            materials += len(below)
        level, children = below, "sub_materials"
    return _Shape(depth, materials, characters)


def _overvalued(materials: tuple[Material, ...], whole: Decimal, path: str) -> str | None:
    """The path of the first material worth more than what it goes into (its share would pass 100 %)."""
    for index, material in enumerate(materials):
        fields = material.__dict__  # a dict subscript costs less than a pydantic attribute
        if fields["value"] > whole:
            return f"{path}[{index}]"
        if fields["sub_materials"]:
            inner = _overvalued(fields["sub_materials"], fields["value"], f"{path}[{index}].sub_materials")
            if inner is not None:
                return inner
    return None
