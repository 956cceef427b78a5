"""Assess whether a product originates under an agreement: the engine's entry point.

Order of the assessment: pick the rule (given, or the most specific one in the rules data in force
on the assessment date), settle each material's originating status (in-house parts with their own
bill of materials are assessed recursively and, when they qualify, absorbed as wholly originating),
evaluate every alternative of the rule, and finally let the insufficient-operations article override
a met rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from app.engine.criteria import Subject, evaluate_alternative
from app.engine.memory import forgotten_in_forked_children
from app.engine.money import ZERO, percent_of, share
from app.engine.origin_status import OriginStatus, classify
from app.engine.parser import Alternatives, rule_alternatives, rule_reading
from app.engine.proofs import UnresolvedDeclarationError
from app.engine.report import (
    AlternativeResult,
    AssessmentReport,
    MaterialResult,
    OperationsCheck,
    ProductFacts,
    RuleUsed,
    ToleranceInfo,
)
from app.engine.request import AssessmentRequest, Material
from app.engine.rulebook import Agreement, ProductRule, RuleSource

Loc = tuple[str | int, ...]


class EngineInputError(ValueError):
    """The request is well-formed but cannot be assessed; `loc` names the field to fix."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


UNVERIFIED_SETTING = "origin.allowUnverifiedRules"


class UnverifiedRulesRefused(EngineInputError):
    """The assessment would rest on UNVERIFIED rules data and the deployment does not allow that."""


@dataclass(slots=True)  # not frozen: built once per calculation, and freezing costs a setattr per field
class _Context:
    source: RuleSource
    agreement: Agreement
    assessment_date: date
    allow_unverified: bool


def assess(request: AssessmentRequest, source: RuleSource, *, allow_unverified: bool = True) -> AssessmentReport:
    """The assessment report; `allow_unverified=False` (setting origin.allowUnverifiedRules) refuses a request
    whose result would rest on rules data marked UNVERIFIED instead of answering with a warning."""
    # the models' fields read from their __dict__ (see _assess_product)
    fields, given = request.__dict__, request.product.__dict__
    code, on = fields["agreement"], fields["assessment_date"]
    agreement = source.agreement(code)
    if on < agreement.in_force_from:
        raise EngineInputError(("assessment_date",), f"{agreement.code} applies from {agreement.in_force_from}; {on} is earlier")
    if agreement.unverified is not None and not allow_unverified:
        raise UnverifiedRulesRefused(
            ("agreement",),
            f"the rules data for {agreement.code} is UNVERIFIED (not compared with the official text) and this deployment "
            f"refuses unverified rules ({UNVERIFIED_SETTING} is false)",
        )
    context = _Context(source, agreement, on, allow_unverified)
    if fields["rule"] is not None:
        alternatives, rule_used = _given_rule(fields["rule"], agreement)
    else:
        found = source.find_rule(code, given["hs_code"], on)
        if found is None:
            raise EngineInputError(
                ("rule",),
                f"no product-specific rule for {given['hs_code']} under {code} in force on {on} in the rules data; give the rule in 'rule'",
            )
        alternatives, rule_used = _data_rule(context, found, ("rule",))
    product = ProductFacts(given["hs_code"], given["ex_works_price"], given["fob_price"], given["description"])
    operations = tuple(dict.fromkeys(fields["operations"]))
    report = _assess_product(context, product, operations, alternatives, rule_used, fields["materials"], ("materials",))
    if agreement.unverified is None:
        return report
    warning = (
        f"UNVERIFIED: the {agreement.name} parameters used here were not checked: {agreement.unverified}. "
        "Confirm the result against the official text before relying on it."
    )
    return report.model_copy(update={"warnings": (warning, *report.warnings)})


def _given_rule(text: str, agreement: Agreement) -> tuple[Alternatives, RuleUsed]:
    return rule_alternatives(text), RuleUsed(
        legal_text=text, text=rule_reading(text), source="request", legal_source=f"given in the request; general provisions: {agreement.legal_source}"
    )


def _data_rule(context: _Context, rule: ProductRule, loc: Loc) -> tuple[Alternatives, RuleUsed]:
    if not context.allow_unverified and rule.unverified:  # the setting first: `unverified` is a property
        raise UnverifiedRulesRefused(
            loc,
            f"the product-specific rule for {rule.hs} under {context.agreement.code} in the rules data is UNVERIFIED (not compared "
            f"with the official text) and this deployment refuses unverified rules ({UNVERIFIED_SETTING} is false); "
            "give the rule from the official text in 'rule'",
        )
    known = _DATA_RULES.get(id(rule))
    if known is not None and known[0] is rule:
        return known[1]
    read = _read_data_rule(rule)
    if len(_DATA_RULES) >= DATA_RULES_REMEMBERED:
        _DATA_RULES.clear()
    _DATA_RULES[id(rule)] = (rule, read)
    return read


# Data rules as the engine reads them, by identity (the entry holds the rule, so its id stays its own); a
# report's RuleUsed is shared between the reports of one rule, since nothing changes a report once built.
DATA_RULES_REMEMBERED = 4096
_DATA_RULES: dict[int, tuple[ProductRule, tuple[Alternatives, RuleUsed]]] = {}
forgotten_in_forked_children(_DATA_RULES.clear)


def _read_data_rule(rule: ProductRule) -> tuple[Alternatives, RuleUsed]:
    return rule_alternatives(rule.rule), RuleUsed(
        legal_text=rule.rule,
        text=rule_reading(rule.rule),
        source="rules_data",
        legal_source=rule.legal_source,
        unverified=rule.unverified,
        hs_range=rule.hs,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        checked_against=rule.checked_against,
    )


def _rule_warnings(rule: RuleUsed, agreement: Agreement, nested: list[str]) -> tuple[str, ...]:
    """UNVERIFIED warnings of this rule and of the rules its in-house parts were assessed under (`nested`)."""
    if not rule.unverified:
        return tuple(dict.fromkeys(nested)) if nested else ()
    own = (
        f"UNVERIFIED: the product-specific rule for {rule.hs_range} under {agreement.code} ({rule.legal_source}) was not "
        "compared with the official text; confirm it before relying on this result."
    )
    return tuple(dict.fromkeys((own, *nested)))


def _assess_product(
    context: _Context,
    product: ProductFacts,
    operations: tuple[str, ...],
    alternatives: Alternatives,
    rule_used: RuleUsed,
    materials: tuple[Material, ...],
    loc: Loc,
) -> AssessmentReport:
    agreement = context.agreement
    on = context.assessment_date
    member_states = context.source.eu_member_states
    paths = _paths(loc, len(materials))
    results: list[MaterialResult] = []
    non_originating: list[MaterialResult] = []
    non_originating_value = ZERO
    nested_warnings: list[str] = []
    remembered_status = _STATUSES.get  # bound once, not looked up per material
    for index, material in enumerate(materials):
        # the model's fields read from its __dict__: a pydantic attribute costs several times a dict subscript
        fields = material.__dict__
        if fields["in_house"] and fields["sub_materials"]:
            result = _in_house_result(context, material, loc + (index,), paths[index])
            if result.sub_assessment is not None:
                nested_warnings += result.sub_assessment.warnings
        else:
            # the status, remembered across calculations: it depends only on the origin, proof and dispatch date,
            # the agreement (compared by identity), the EU's member states and the assessment date, and bills of
            # materials repeat the same suppliers' proofs (the proof's fields, not the model: hashing a pydantic
            # model costs more)
            origin, proof = fields["origin"], fields["proof"]
            key = (origin, fields["dispatch_date"], on) if proof is None else (origin, fields["dispatch_date"], on, *proof.__dict__.values())
            known = remembered_status(key)
            if known is not None and known[0] is agreement and known[1] is member_states:
                status = known[2]
            else:
                status = _classified(context, material, key, loc + (index,))
            # fields: path, hs_code, origin, value, originating, basis, cumulation, reason
            result = MaterialResult(
                paths[index],
                fields["hs_code"],
                origin,
                fields["value"],
                status.originating,
                status.basis,
                status.cumulation,
                IN_HOUSE_WITHOUT_PARTS + status.reason if fields["in_house"] else status.reason,
            )
        results.append(result)
        if not result.originating:
            non_originating.append(result)
            non_originating_value += result.value
    tolerance = _tolerance(agreement, product)
    # fields: hs_code, ex_works_price, fob_price, operations, non_originating, non_originating_value,
    # tolerance_percent, tolerance_limit, tolerance_refusal, non_originating_percent
    subject = Subject(
        product.hs_code,
        product.ex_works_price,
        product.fob_price,
        frozenset(operations),
        tuple(non_originating),
        non_originating_value,
        tolerance.percent,
        tolerance.limit if tolerance.available else None,
        tolerance.reason,
        percent_of(non_originating_value, product.ex_works_price),
    )
    evaluated = tuple([evaluate_alternative(criteria, text, subject) for criteria, text in alternatives])
    listed = agreement.insufficient_operations
    listed_codes = listed.codes  # read once: a pydantic attribute, not once per operation
    insufficient = tuple([op for op in operations if op in listed_codes]) if operations else ()
    # fields: performed, insufficient, all_insufficient, legal_source
    check = OperationsCheck(operations, insufficient, bool(operations) and len(insufficient) == len(operations), listed.legal_source)
    originating = not check.all_insufficient and any(a.met for a in evaluated)
    reasons = _reasons(agreement, originating, rule_used, evaluated, check, subject, len(results), product)
    # fields: originating, agreement, agreement_name, assessment_date, product, rule, alternatives, materials,
    # non_originating_value, tolerance, operations, reasons, warnings
    return AssessmentReport(
        originating,
        agreement.code,
        agreement.name,
        on,
        product,
        rule_used,
        evaluated,
        tuple(results),
        non_originating_value,
        tolerance,
        check,
        reasons,
        _rule_warnings(rule_used, agreement, nested_warnings),
    )


IN_HOUSE_WITHOUT_PARTS = "in-house part without sub_materials, judged by its origin and proof: "


@lru_cache(maxsize=256)
def _paths(loc: Loc, count: int) -> tuple[str, ...]:
    """The report paths of the first `count` materials at `loc` ('materials[0]', ...), built once per bill shape."""
    prefix = field_path(loc)
    return tuple([f"{prefix}[{index}]" for index in range(count)])


forgotten_in_forked_children(_paths.cache_clear)


def _classified(context: _Context, material: Material, key: tuple[object, ...], loc: Loc) -> OriginStatus:
    """The material's status, classified and remembered under `key` (see _assess_product)."""
    agreement, member_states = context.agreement, context.source.eu_member_states
    try:
        status = classify(material, agreement, member_states, context.assessment_date)
    except UnresolvedDeclarationError as error:
        raise EngineInputError(loc + ("proof", "declaration_id"), f"{error}; give the proof type and dates instead") from None
    if len(_STATUSES) >= STATUSES_REMEMBERED:
        _STATUSES.clear()
    _STATUSES[key] = (agreement, member_states, status)
    return status


# Statuses already classified, bounded in count (a few megabytes at most) and cleared when full.
STATUSES_REMEMBERED = 4096
_STATUSES: dict[tuple[object, ...], tuple[Agreement, frozenset[str], OriginStatus]] = {}
forgotten_in_forked_children(_STATUSES.clear)


def _in_house_result(context: _Context, material: Material, loc: Loc, path: str) -> MaterialResult:
    """The in-house part at `loc`, shown as `path`."""
    agreement = context.agreement
    fields = material.__dict__  # a dict subscript costs less than a pydantic attribute
    if fields["value"] <= 0:
        raise EngineInputError(loc + ("value",), "an in-house part with sub_materials needs a value above 0 (its ex-works cost)")
    if fields["rule"] is not None:
        alternatives, rule_used = _given_rule(fields["rule"], agreement)
    else:
        found = context.source.find_rule(agreement.code, fields["hs_code"], context.assessment_date)
        if found is None:
            return _non_originating_part(
                material,
                path,
                f"in-house part: no product-specific rule for {material.hs_code} under {agreement.code}, so it cannot "
                "acquire origin; counted at its full value as non-originating",
            )
        alternatives, rule_used = _data_rule(context, found, loc + ("rule",))
    rule_key = (rule_used.legal_text, rule_used.source, rule_used.legal_source, rule_used.hs_range, rule_used.valid_from, rule_used.valid_until, rule_used.unverified)
    if len(fields["sub_materials"]) > PART_SIZE_REMEMBERED:
        return _assess_part(context, material, loc, path, alternatives, rule_used)
    key = (_part_key(material), loc, context.assessment_date, context.allow_unverified, rule_key)
    known = _PARTS.get(key)
    if known is not None and known[0] is agreement:
        return known[1]
    result = _assess_part(context, material, loc, path, alternatives, rule_used)
    if len(_PARTS) >= PARTS_REMEMBERED:
        _PARTS.clear()
    _PARTS[key] = (agreement, result)
    return result


# In-house parts already assessed, by part, position, date, refusal setting and rule (the agreement is
# compared by identity): a manufacturer's sub-assemblies recur across the products it assesses, and a
# part's assessment is a pure function of these. Bounded in count and in the size of a part remembered
# (at most a few megabytes); cleared when full.
PARTS_REMEMBERED = 512
PART_SIZE_REMEMBERED = 20
_PARTS: dict[tuple[object, ...], tuple[Agreement, MaterialResult]] = {}
forgotten_in_forked_children(_PARTS.clear)


def _part_key(material: Material) -> tuple[object, ...]:
    """Every field of the material, its sub-materials' recursively: cheaper to build and hash than the model, and
    exact where the model's equality is not (Decimal("30.0") == Decimal("30.00"), but a report shows the value
    as given, so amounts are compared as their text)."""
    fields = material.__dict__  # a dict subscript costs less than a pydantic attribute
    proof, sub_materials = fields["proof"], fields["sub_materials"]
    return (
        fields["hs_code"],
        fields["origin"],
        str(fields["value"]),
        None if proof is None else tuple(proof.__dict__.values()),
        fields["dispatch_date"],
        fields["in_house"],
        fields["rule"],
        tuple([_part_key(sub) for sub in sub_materials]) if sub_materials else (),
        fields["description"],
    )


def _assess_part(
    context: _Context, material: Material, loc: Loc, path: str, alternatives: Alternatives, rule_used: RuleUsed
) -> MaterialResult:
    fields = material.__dict__  # a dict subscript costs less than a pydantic attribute
    product = ProductFacts(fields["hs_code"], fields["value"], None, fields["description"])
    sub = _assess_product(context, product, (), alternatives, rule_used, fields["sub_materials"], loc + ("sub_materials",))
    if sub.originating:
        reason = f"in-house part meets its own rule ({rule_used.text}), so it counts as wholly originating (absorption)"
    else:
        reason = f"in-house part does not meet its own rule ({rule_used.text}); counted at its full value as non-originating"
    # fields: path, hs_code, origin, value, originating, basis, cumulation, reason, sub_assessment
    return MaterialResult(
        path, fields["hs_code"], fields["origin"], fields["value"], sub.originating, "absorption" if sub.originating else None, False, reason, sub
    )


def _non_originating_part(material: Material, path: str, reason: str) -> MaterialResult:
    return MaterialResult(
        path=path,
        hs_code=material.hs_code,
        origin=material.origin,
        value=material.value,
        originating=False,
        basis=None,
        cumulation=False,
        reason=reason,
    )


def _tolerance(agreement: Agreement, product: ProductFacts) -> ToleranceInfo:
    rule = agreement.tolerance
    percent = rule.percent  # read once: a pydantic attribute
    limit = share(product.ex_works_price, percent)
    # fields: percent, limit, available, legal_source, reason
    if rule.excluded(product.hs_code):
        chapters = ", ".join(rule.excluded_chapters)
        reason = f"the general tolerance does not apply to products of chapters {chapters} (textile products follow their own notes)"
        return ToleranceInfo(percent, limit, False, rule.legal_source, reason)
    reason = f"non-originating materials worth up to {percent!s}% of the ex-works price ({limit!s}) may fail a tariff-shift requirement"
    return ToleranceInfo(percent, limit, True, rule.legal_source, reason)


def _reasons(
    agreement: Agreement,
    originating: bool,
    rule: RuleUsed,
    evaluated: tuple[AlternativeResult, ...],
    check: OperationsCheck,
    subject: Subject,
    material_count: int,
    product: ProductFacts,
) -> tuple[str, ...]:
    verdict = "originating" if originating else "not originating"
    reasons = [f"The product {product.hs_code} is {verdict} under the {agreement.name} (rule: {rule.text})."]
    if check.all_insufficient:
        reasons.append(
            f"Only insufficient operations were performed ({', '.join(check.performed)}); they never confer origin "
            f"({check.legal_source}), whatever the product-specific rule says."
        )
    met = [a.text for a in evaluated if a.met]
    if met:
        reasons.append("Met: " + "; ".join(met) + ".")
    else:
        for alternative in evaluated:
            first = next(c for c in alternative.criteria if not c.met)
            reasons.append(f"Not met: {alternative.text}, because {first.reason}.")
    if material_count:
        reasons.append(
            f"{len(subject.non_originating)} of {material_count} materials are non-originating, worth {subject.non_originating_value!s} "
            f"({subject.non_originating_percent!s}% of the ex-works price)."
        )
    return tuple(reasons)


def field_path(loc: Loc) -> str:
    """('materials', 0, 'proof') -> 'materials[0].proof', the notation used in reports and messages."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

