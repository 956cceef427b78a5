"""Evaluate one alternative of a rule (a conjunction of criteria) against a product and its materials.

Only non-originating materials are tested by tariff shifts and counted in MaxNOM and RVC. The general
tolerance is applied per alternative: the non-originating materials failing any of its tariff-shift
criteria pass together when their total value is within the tolerance; it never touches a MaxNOM or
RVC threshold, so materials rescued by it still count there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.engine.expression import Leaf, MaxNom, Operation, Rvc, TariffShift, WeightLimit
from app.engine.money import HUNDRED, ZERO, at_most_percent, percent_of, total
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

# Decimals go into reasons as {value!s}: str() gives the same text as format() with an empty spec, at a third of the cost.


@dataclass(slots=True)  # not frozen: built twice per calculation, and freezing costs a setattr per field
class Subject:
    """What the criteria look at: the product's facts and its non-originating materials (the only ones
    any criterion counts), with their total value and its share of the ex-works price computed once
    (`non_originating_percent`: percent_of(non_originating_value, ex_works_price), None to compute it here)."""

    hs_code: str
    ex_works_price: Decimal
    fob_price: Decimal | None
    operations: frozenset[str]
    non_originating: tuple[MaterialResult, ...]
    non_originating_value: Decimal
    tolerance_percent: Decimal
    tolerance_limit: Decimal | None
    tolerance_refusal: str
    non_originating_percent: Decimal | None = None


def evaluate_alternative(criteria: tuple[tuple[Leaf, str], ...], text: str, subject: Subject) -> AlternativeResult:
    """`criteria`: the alternative's leaves with their texts (parser.rule_alternatives)."""
    if len(criteria) == 1:
        # most alternatives have one criterion: no failures of several tariff shifts to merge
        leaf, leaf_text = criteria[0]
        if isinstance(leaf, TariffShift):
            found = _shift_failures(leaf, subject)
            tolerated, failing_value = _against_tolerance(found, subject)
            result: CriterionResult = _shift_result(leaf, leaf_text, found, subject, tolerated, failing_value)
        else:
            result = _RESULTS[type(leaf)](leaf, leaf_text, subject)
        return AlternativeResult(text, result.met, (result,))
    # the failures of every tariff shift, by position; a material failing several counts once against the tolerance
    failures: list[tuple[FailingMaterial, ...]] = []
    failing: dict[str, FailingMaterial] = {}
    for leaf, _ in criteria:
        found = _shift_failures(leaf, subject) if isinstance(leaf, TariffShift) else ()
        failures.append(found)
        for failure in found:
            failing[failure.path] = failure
    tolerated, failing_value = _against_tolerance(tuple(failing.values()), subject)
    results: list[CriterionResult] = []
    met = True
    for (leaf, leaf_text), found in zip(criteria, failures, strict=True):
        if isinstance(leaf, TariffShift):
            result = _shift_result(leaf, leaf_text, found, subject, tolerated, failing_value)
        else:
            result = _RESULTS[type(leaf)](leaf, leaf_text, subject)
        met = met and result.met
        results.append(result)
    return AlternativeResult(text, met, tuple(results))


def _against_tolerance(failing: tuple[FailingMaterial, ...], subject: Subject) -> tuple[bool, Decimal]:
    """(whether the general tolerance covers them, their total value) for the materials failing an alternative's
    tariff shifts, each once."""
    if not failing:
        return False, ZERO
    value = total(f.value for f in failing)
    return subject.tolerance_limit is not None and value <= subject.tolerance_limit, value


def _shift_failures(leaf: TariffShift, subject: Subject) -> tuple[FailingMaterial, ...]:
    if not subject.non_originating:
        return ()
    digits = leaf.digits
    own = subject.hs_code[:digits]
    excepted = leaf.except_from
    found = []
    for material in subject.non_originating:
        if digits and material.hs_code[:digits] == own:
            why = f"same {LEVEL_NAMES[leaf.level]} {own} as the product"
        elif excepted is not None and excepted.contains(material.hs_code):
            why = f"excepted code ({excepted.text()})"
        else:
            continue
        found.append(FailingMaterial(material.path, material.hs_code, material.value, why))
    return tuple(found)


def _shift_result(
    leaf: TariffShift, text: str, failing: tuple[FailingMaterial, ...], subject: Subject, tolerated: bool, alternative_failing_value: Decimal
) -> TariffShiftResult:
    own = subject.hs_code[: leaf.digits]
    value = total(f.value for f in failing) if failing else ZERO
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
        listed = "; ".join(f"{f.path} ({f.hs_code}, {f.value!s}): {f.why}" for f in failing)
        if tolerated:
            met = True
            reason = (
                f"{listed}; but the materials failing the tariff-shift criteria of this alternative are worth "
                f"{alternative_failing_value!s}, within the general tolerance of {subject.tolerance_limit!s} "
                f"({subject.tolerance_percent!s}% of the ex-works price)"
            )
        elif subject.tolerance_limit is None:
            met, reason = False, f"{listed}; {subject.tolerance_refusal}"
        else:
            met = False
            reason = (
                f"{listed}; the failing materials are worth {alternative_failing_value!s}, above the general tolerance of "
                f"{subject.tolerance_limit!s} ({subject.tolerance_percent!s}% of the ex-works price)"
            )
    applied = bool(failing) and tolerated
    # fields: kind, text, met, reason, failing_materials, failing_value, tolerance_applied, tolerance_used, tolerance_limit
    return TariffShiftResult(
        leaf.level, text, met, reason, failing, value, applied, alternative_failing_value if applied else ZERO, subject.tolerance_limit
    )


def _maxnom_result(leaf: MaxNom, text: str, subject: Subject) -> MaxNomResult:
    scope = leaf.of
    if scope is None:
        counted: tuple[MaterialResult, ...] | list[MaterialResult] = subject.non_originating
        nom = subject.non_originating_value
        nom_percent = subject.non_originating_percent
        if nom_percent is None:
            nom_percent = percent_of(nom, subject.ex_works_price)
    else:
        counted = [m for m in subject.non_originating if scope.contains(m.hs_code)]
        nom = total(m.value for m in counted)
        nom_percent = percent_of(nom, subject.ex_works_price)
    met = at_most_percent(nom, subject.ex_works_price, leaf.percent)
    scope_text = f" of {scope.text()}" if scope else ""
    reason = (
        f"non-originating materials{scope_text} are worth {nom!s}, {nom_percent!s}% of the ex-works price {subject.ex_works_price!s}; "
        f"{'within' if met else 'above'} the maximum of {leaf.percent!s}%"
    )
    # fields: text, met, reason, threshold_percent, restricted_to, nom_value, nom_percent, ex_works_price, counted_materials
    return MaxNomResult(
        text,
        met,
        reason,
        leaf.percent,
        scope.text() if scope else None,
        nom,
        nom_percent,
        subject.ex_works_price,
        tuple([m.path for m in counted]),
    )


def _rvc_result(leaf: Rvc, text: str, subject: Subject) -> RvcResult:
    vnm = subject.non_originating_value
    fob = subject.fob_price
    if fob is None:
        reason = "RVC is measured on the FOB price and the product has no fob_price, so this criterion is not met"
        # fields: text, met, reason, threshold_percent, fob_price, vnm_value, rvc_percent
        return RvcResult(text, False, reason, leaf.percent, None, vnm, None)
    originating_value = fob - vnm
    met = originating_value * HUNDRED >= leaf.percent * fob
    rvc = percent_of(originating_value, fob)
    reason = f"RVC = (FOB {fob!s} - VNM {vnm!s}) / FOB = {rvc!s}%; {'at least' if met else 'below'} the required {leaf.percent!s}%"
    return RvcResult(text, met, reason, leaf.percent, fob, vnm, rvc)


def _weight_result(leaf: WeightLimit, text: str, _: Subject) -> WeightLimitResult:
    return WeightLimitResult(
        text=text,
        met=False,
        reason="a limit on net weight cannot be assessed: requests carry values, not net weights, so this criterion is not met",
        threshold_percent=leaf.percent,
        restricted_to=leaf.of.text() if leaf.of else None,
    )


def _operation_result(leaf: Operation, text: str, subject: Subject) -> OperationResult:
    met = leaf.code in subject.operations
    performed = ", ".join(sorted(subject.operations)) or "none"
    reason = f"operation {leaf.code} was performed" if met else f"operation {leaf.code} is not among the operations performed ({performed})"
    return OperationResult(text=text, met=met, reason=reason, operation=leaf.code)


# The result of every criterion but a tariff shift (which also needs the alternative's failures), by leaf type.
_RESULTS: dict[type, Callable[[Any, str, Subject], CriterionResult]] = {
    MaxNom: _maxnom_result,
    Rvc: _rvc_result,
    WeightLimit: _weight_result,
    Operation: _operation_result,
}
