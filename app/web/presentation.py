"""The report in words and figures for people, shared by the result page and the PDF: the verdict in plain
language, each criterion's numbers, the materials (sub-materials of in-house parts indented)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from app.engine.report import AssessmentReport, CriterionResult, MaterialResult, MaxNomResult, OperationResult, RvcResult, TariffShiftResult

BASIS_NAMES = {
    "supplier_declaration": "supplier's declaration",
    "ltsd": "long-term supplier's declaration",
    "statement_on_origin": "statement on origin",
    "absorption": "in-house part that originates (absorbed)",
}


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f} %"


def verdict(report: AssessmentReport) -> str:
    product = f"The product {report.product.hs_code}" + (f" ({report.product.description})" if report.product.description else "")
    if report.originating:
        return f"{product} originates in the EU under the {report.agreement_name} on {report.assessment_date}: it qualifies for the preferential tariff."
    return f"{product} does not originate in the EU under the {report.agreement_name} on {report.assessment_date}: it does not qualify for the preferential tariff."


def criterion_figures(criterion: CriterionResult) -> list[tuple[str, str]]:
    """(label, value) pairs with the criterion's numbers."""
    if isinstance(criterion, MaxNomResult):
        figures = [
            ("non-originating value (NOM)", money(criterion.nom_value)),
            ("NOM share of the ex-works price", percent(criterion.nom_percent)),
            ("limit", percent(criterion.threshold_percent)),
            ("ex-works price", money(criterion.ex_works_price)),
        ]
        if criterion.restricted_to:
            figures.append(("counts only", criterion.restricted_to))
        return figures
    if isinstance(criterion, RvcResult):
        return [
            ("regional value content (RVC)", percent(criterion.rvc_percent)),
            ("required at least", percent(criterion.threshold_percent)),
            ("non-originating value (VNM)", money(criterion.vnm_value)),
            ("FOB price", money(criterion.fob_price)),
        ]
    if isinstance(criterion, TariffShiftResult):
        figures = [("materials without the required tariff change", str(len(criterion.failing_materials))), ("their value", money(criterion.failing_value))]
        if criterion.tolerance_applied or criterion.tolerance_limit is not None:
            figures += [("tolerance used", money(criterion.tolerance_used)), ("tolerance limit", money(criterion.tolerance_limit))]
        return figures
    if isinstance(criterion, OperationResult):
        return [("operation required", criterion.operation)]
    # other kinds (e.g. a weight limit on textile materials): the limit and what it counts, where they have them
    threshold: Decimal | None = getattr(criterion, "threshold_percent", None)
    restricted: str | None = getattr(criterion, "restricted_to", None)
    return ([("limit", percent(threshold))] if threshold is not None else []) + ([("counts only", restricted)] if restricted else [])


def material_name(path: str) -> str:
    """'materials[0].sub_materials[1]' -> 'Material 1 › 2': the numbering a person reads."""
    numbers = [str(int(index) + 1) for index in re.findall(r"\[(\d+)\]", path)]
    return "Material " + " › ".join(numbers) if numbers else path


@dataclass(frozen=True)
class MaterialLine:
    depth: int
    material: MaterialResult

    @property
    def name(self) -> str:
        return material_name(self.material.path)

    @property
    def status(self) -> str:
        return "originating" if self.material.originating else "non-originating"

    @property
    def basis(self) -> str:
        basis = self.material.basis
        return BASIS_NAMES[basis] if basis is not None else ("cumulation" if self.material.cumulation else "—")


def material_lines(report: AssessmentReport, depth: int = 0) -> Iterator[MaterialLine]:
    for material in report.materials:
        yield MaterialLine(depth, material)
        if material.sub_assessment is not None:
            yield from material_lines(material.sub_assessment, depth + 1)
