"""Evaluate one alternative of a rule (a conjunction of criteria) against a product and its materials.

Only non-originating materials are tested by tariff shifts and counted in MaxNOM and RVC. The general
tolerance is applied per alternative: the non-originating materials failing any of its tariff-shift
criteria pass together when their total value is within the tolerance; it never touches a MaxNOM or
RVC threshold, so materials rescued by it still count there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.engine.expression import Leaf, MaxNom, Operation, Rvc, TariffShift, WeightLimit
from app.engine.money import at_most_percent, percent_of, total
from app.engine.report import (
    AlternativeResult,
    CriterionResult,
    FailingMaterial,
    MaterialResult,
    MaxNomResult,
    OperationResult,
    RvcResult,
    TariffShiftResult,
    WeightLimitResult,
)

LEVEL_NAMES = {"CC": "chapter", "CTH": "heading", "CTSH": "subheading", "ANY": "heading"}


@dataclass(slots=True)  # not frozen: built twice per calculation, and freezing costs a setattr per field
class Subject:
    """What the criteria look at: the product's facts and its non-originating materials (the only ones
    any criterion counts), with their total value computed once."""

    hs_code: str
    ex_works_price: Decimal
    fob_price: Decimal | None
    operations: frozenset[str]
    non_originating: tuple[MaterialResult, ...]
    non_originating_value: Decimal
    tolerance_percent: Decimal
    tolerance_limit: Decimal | None
    tolerance_refusal: str


def evaluate_alternative(leaves: tuple[Leaf, ...], text: str, subject: Subject) -> AlternativeResult:
    failures = {id(leaf): _shift_failures(leaf, subject) for leaf in leaves if isinstance(leaf, TariffShift)}
    failing = {f.path: f for found in failures.values() for f in found}
    failing_value = total(f.value for f in failing.values())
    tolerated = bool(failing) and subject.tolerance_limit is not None and failing_value <= subject.tolerance_limit
    criteria: list[CriterionResult] = []
    for leaf in leaves:
        if isinstance(leaf, TariffShift):
            criteria.append(_shift_result(leaf, failures[id(leaf)], subject, tolerated, failing_value))
        elif isinstance(leaf, MaxNom):
            criteria.append(_maxnom_result(leaf, subject))
        elif isinstance(leaf, Rvc):
            criteria.append(_rvc_result(leaf, subject))
        elif isinstance(leaf, WeightLimit):
            criteria.append(_weight_result(leaf))
        else:
            criteria.append(_operation_result(leaf, subject))
    return AlternativeResult(
        text=text,
        met=all(c.met for c in criteria),
        criteria=tuple(criteria),
    )


def _shift_failures(leaf: TariffShift, subject: Subject) -> tuple[FailingMaterial, ...]:
    digits = leaf.digits
    own = subject.hs_code[:digits]
    found = []
    for material in subject.non_originating:
        if digits and material.hs_code[:digits] == own:
            why = f"same {LEVEL_NAMES[leaf.level]} {own} as the product"
        elif leaf.except_from is not None and leaf.except_from.contains(material.hs_code):
            why = f"excepted code ({leaf.except_from.text()})"
        else:
            continue
        found.append(FailingMaterial(path=material.path, hs_code=material.hs_code, value=material.value, why=why))
    return tuple(found)


def _shift_result(
    leaf: TariffShift, failing: tuple[FailingMaterial, ...], subject: Subject, tolerated: bool, alternative_failing_value: Decimal
) -> TariffShiftResult:
    own = subject.hs_code[: leaf.digits]
    value = total(f.value for f in failing)
    if not subject.non_originating:
        met, reason = True, "no non-originating materials are used"
    elif not failing:
        if leaf.level == "ANY":
            excepted = leaf.except_from.text() if leaf.except_from else "an excepted code"
            met, reason = True, f"no change of classification is required and no non-originating material is of {excepted}"
        else:
            exception = f" and none is of {leaf.except_from.text()}" if leaf.except_from else ""
            met, reason = True, f"every non-originating material is classified outside {LEVEL_NAMES[leaf.level]} {own}{exception}"
    else:
        listed = "; ".join(f"{f.path} ({f.hs_code}, {f.value}): {f.why}" for f in failing)
        if tolerated:
            met = True
            reason = (
                f"{listed}; but the materials failing the tariff-shift criteria of this alternative are worth "
                f"{alternative_failing_value}, within the general tolerance of {subject.tolerance_limit} "
                f"({subject.tolerance_percent}% of the ex-works price)"
            )
        elif subject.tolerance_limit is None:
            met, reason = False, f"{listed}; {subject.tolerance_refusal}"
        else:
            met = False
            reason = (
                f"{listed}; the failing materials are worth {alternative_failing_value}, above the general tolerance of "
                f"{subject.tolerance_limit} ({subject.tolerance_percent}% of the ex-works price)"
            )
    return TariffShiftResult(
        kind=leaf.level,
        text=leaf.text(),
        met=met,
        reason=reason,
        failing_materials=failing,
        failing_value=value,
        tolerance_applied=bool(failing) and tolerated,
        tolerance_used=alternative_failing_value if (failing and tolerated) else Decimal(0),
        tolerance_limit=subject.tolerance_limit,
    )


def _maxnom_result(leaf: MaxNom, subject: Subject) -> MaxNomResult:
    counted = subject.non_originating if leaf.of is None else [m for m in subject.non_originating if leaf.of.contains(m.hs_code)]
    nom = subject.non_originating_value if leaf.of is None else total(m.value for m in counted)
    met = at_most_percent(nom, subject.ex_works_price, leaf.percent)
    scope = f" of {leaf.of.text()}" if leaf.of else ""
    nom_percent = percent_of(nom, subject.ex_works_price)
    reason = (
        f"non-originating materials{scope} are worth {nom}, {nom_percent}% of the ex-works price {subject.ex_works_price}; "
        f"{'within' if met else 'above'} the maximum of {leaf.percent}%"
    )
    return MaxNomResult(
        text=leaf.text(),
        met=met,
        reason=reason,
        threshold_percent=leaf.percent,
        restricted_to=leaf.of.text() if leaf.of else None,
        nom_value=nom,
        nom_percent=nom_percent,
        ex_works_price=subject.ex_works_price,
        counted_materials=tuple(m.path for m in counted),
    )


def _rvc_result(leaf: Rvc, subject: Subject) -> RvcResult:
    vnm = subject.non_originating_value
    fob = subject.fob_price
    if fob is None:
        return RvcResult(
            text=leaf.text(),
            met=False,
            reason="RVC is measured on the FOB price and the product has no fob_price, so this criterion is not met",
            threshold_percent=leaf.percent,
            fob_price=None,
            vnm_value=vnm,
            rvc_percent=None,
        )
    met = (fob - vnm) * 100 >= leaf.percent * fob
    rvc = percent_of(fob - vnm, fob)
    return RvcResult(
        text=leaf.text(),
        met=met,
        reason=f"RVC = (FOB {fob} - VNM {vnm}) / FOB = {rvc}%; {'at least' if met else 'below'} the required {leaf.percent}%",
        threshold_percent=leaf.percent,
        fob_price=fob,
        vnm_value=vnm,
        rvc_percent=rvc,
    )


def _weight_result(leaf: WeightLimit) -> WeightLimitResult:
    return WeightLimitResult(
        text=leaf.text(),
        met=False,
        reason="a limit on net weight cannot be assessed: requests carry values, not net weights, so this criterion is not met",
        threshold_percent=leaf.percent,
        restricted_to=leaf.of.text() if leaf.of else None,
    )


def _operation_result(leaf: Operation, subject: Subject) -> OperationResult:
    met = leaf.code in subject.operations
    performed = ", ".join(sorted(subject.operations)) or "none"
    reason = f"operation {leaf.code} was performed" if met else f"operation {leaf.code} is not among the operations performed ({performed})"
    return OperationResult(text=leaf.text(), met=met, reason=reason, operation=leaf.code)
