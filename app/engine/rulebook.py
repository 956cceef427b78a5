"""Rules as data: agreement parameters and product-specific rules loaded from app/data and validated.

Nothing here knows a heading: the YAML files carry every rule with its legal source and validity
dates (the OpenFisca way), and a lookup picks the most specific rule in force on a date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Literal, Protocol

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.engine.memory import forgotten_in_forked_children
from app.engine.parser import RuleSyntaxError, parse_rule
from app.engine.request import AgreementCode, printable_text

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def _rule_text(value: str) -> str:
    try:
        parse_rule(value)
    except RuleSyntaxError as error:
        raise ValueError(error.describe()) from None
    return value


def _hs_span(value: str) -> str:
    parts = value.split("-")
    if len(parts) > 2 or any(not (p.isdigit() and len(p) in (2, 4, 6)) for p in parts) or len({len(p) for p in parts}) != 1:
        raise ValueError(f"{value!r} is not a 2/4/6-digit code or a range of equal-length codes")
    if parts[0] > parts[-1]:
        raise ValueError(f"range {value!r} runs backwards")
    return value


HsSpan = Annotated[str, AfterValidator(_hs_span)]
DataText = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(printable_text)]
RuleText = Annotated[str, Field(max_length=2000), AfterValidator(_rule_text)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tolerance(_Data):
    percent: Decimal = Field(gt=0, le=100)
    excluded_chapters: tuple[HsSpan, ...] = ()
    legal_source: str

    def excluded(self, hs_code: str) -> bool:
        return _in_spans(self.excluded_chapters, hs_code)


class Cumulation(_Data):
    kind: Literal["bilateral", "diagonal"]
    partners: tuple[str, ...]
    legal_source: str


class InsufficientOperations(_Data):
    legal_source: str
    codes: dict[str, str] = Field(description="operation code -> restated description of the listed operation")


class Agreement(_Data):
    code: AgreementCode
    name: str
    legal_source: str
    in_force_from: date
    partner_country: str | None
    tolerance: Tolerance
    cumulation: Cumulation
    insufficient_operations: InsufficientOperations
    statement_on_origin_validity_months: int = Field(gt=0)
    statement_on_origin_legal_source: str
    unverified: str | None = Field(default=None, description="why these parameters are UNVERIFIED; None when they were checked")


class ProductRule(_Data):
    """One product-specific rule for a code or range of codes, valid for a period."""

    hs: HsSpan
    rule: RuleText = Field(description="the rule as the annex prints it (its legal text); the engine reads this text")
    text: DataText | None = Field(default=None, description="a plain-language restatement, where the legal text needs one")
    legal_source: DataText = Field(description="where the rule is printed: agreement, annex, chapter and heading")
    valid_from: date
    valid_until: date | None = None
    checked_against: DataText | None = Field(default=None, description="public transcription this rule was compared with")
    note: DataText | None = None

    @model_validator(mode="after")
    def _ordered_dates(self) -> ProductRule:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(f"valid_until {self.valid_until} is before valid_from {self.valid_from}")
        return self

    @property
    def hs_from(self) -> str:
        return self.hs.split("-")[0]

    @property
    def hs_to(self) -> str:
        return self.hs.split("-")[-1]

    @property
    def unverified(self) -> bool:
        """Not compared with the official text or a public transcription of it."""
        return self.checked_against is None

    def covers(self, hs_code: str, on: date) -> bool:
        return _span_contains(self.hs, hs_code) and self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)

    def specificity(self) -> tuple[int, int]:
        """Longer codes first, then narrower ranges: '850110' beats '8501' beats '8501-8502'."""
        return (-len(self.hs_from), int(self.hs_to) - int(self.hs_from))


class AgreementRules(_Data):
    agreement: AgreementCode
    annex: str
    rules: tuple[ProductRule, ...]


class AgreementsFile(_Data):
    eu_member_states: frozenset[str]
    agreements: tuple[Agreement, ...]

    @model_validator(mode="after")
    def _unique(self) -> AgreementsFile:
        codes = [a.code for a in self.agreements]
        if len(codes) != len(set(codes)):
            raise ValueError("agreement codes must be unique")
        return self


@lru_cache(maxsize=4096)
def _in_spans(spans: tuple[str, ...], hs_code: str) -> bool:
    """Whether a span covers the code; remembered, since every assessed product asks it of its agreement's spans."""
    return any(_span_contains(span, hs_code) for span in spans)


forgotten_in_forked_children(_in_spans.cache_clear)


def _span_contains(span: str, hs_code: str) -> bool:
    first, _, last = span.partition("-")
    prefix = hs_code[: len(first)]
    return first <= prefix <= (last or first)


def most_specific(rules: Iterable[ProductRule], hs_code: str, on: date) -> ProductRule | None:
    candidates = [r for r in rules if r.covers(hs_code, on)]
    return min(candidates, key=ProductRule.specificity, default=None)


class RuleSource(Protocol):
    """Where the engine gets agreement parameters and product-specific rules."""

    eu_member_states: frozenset[str]

    def agreement(self, code: AgreementCode) -> Agreement: ...

    def find_rule(self, agreement: AgreementCode, hs_code: str, on: date) -> ProductRule | None: ...


class RuleBook:
    """The rules data files, validated once; implements RuleSource.

    Look-ups go through an index by agreement and 6-digit subheading (every HS span of the data is a
    chapter, heading or subheading, so the subheading decides which spans cover a code), holding the
    covering rules most specific first; a look-up then only checks dates."""

    INDEX_SIZE = 8192

    def __init__(self, agreements: AgreementsFile, rules: Iterable[AgreementRules]) -> None:
        self.eu_member_states = agreements.eu_member_states
        self._agreements = {a.code: a for a in agreements.agreements}
        self._rules: dict[str, tuple[ProductRule, ...]] = {}
        for block in rules:
            if block.agreement not in self._agreements:
                raise ValueError(f"rules for unknown agreement {block.agreement}")
            self._rules[block.agreement] = self._rules.get(block.agreement, ()) + block.rules
        self._index: dict[tuple[str, str], tuple[ProductRule, ...]] = {}

    @classmethod
    def load(cls, data_dir: Path = DATA_DIR) -> RuleBook:
        agreements = AgreementsFile.model_validate(_yaml(data_dir / "agreements.yaml"))
        rules = [AgreementRules.model_validate(_yaml(path)) for path in sorted((data_dir / "psr").glob("*.yaml"))]
        return cls(agreements, rules)

    def agreement(self, code: AgreementCode) -> Agreement:
        return self._agreements[code]

    def agreements(self) -> tuple[Agreement, ...]:
        return tuple(self._agreements.values())

    def rules(self, agreement: AgreementCode) -> tuple[ProductRule, ...]:
        return self._rules.get(agreement, ())

    def find_rule(self, agreement: AgreementCode, hs_code: str, on: date) -> ProductRule | None:
        key = (agreement, hs_code[:6])
        covering = self._index.get(key)
        if covering is None:
            if len(self._index) >= self.INDEX_SIZE:
                self._index.clear()
            candidates = (rule for rule in self.rules(agreement) if _span_contains(rule.hs, hs_code))
            covering = self._index[key] = tuple(sorted(candidates, key=ProductRule.specificity))
        for rule in covering:
            dates = rule.__dict__  # a dict subscript costs less than a pydantic attribute: every assessment looks rules up
            if dates["valid_from"] <= on and (dates["valid_until"] is None or on <= dates["valid_until"]):
                return rule
        return None


def _yaml(path: Path) -> object:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@cache
def default_rulebook() -> RuleBook:
    """The bundled rules data, loaded and validated once per process; a forked child starts with an empty rule
    index (see app.engine.memory)."""
    book = RuleBook.load()
    forgotten_in_forked_children(book._index.clear)
    return book
