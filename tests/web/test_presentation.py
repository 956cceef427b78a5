"""The report in words for people: every criterion kind has figures (none makes the result page fail),
materials are numbered as a person reads them."""

from __future__ import annotations

import typing
from decimal import Decimal

from app.engine.report import CriterionResult, WeightLimitResult
from app.web.presentation import criterion_figures, material_name


def test_every_criterion_kind_has_figures() -> None:
    kinds = typing.get_args(typing.get_args(CriterionResult)[0])
    assert WeightLimitResult in kinds
    weight = WeightLimitResult(text="weight 40%", met=True, reason="r", threshold_percent=Decimal("40"), restricted_to="chapters 50-63")
    assert criterion_figures(weight) == [("limit", "40.00 %"), ("counts only", "chapters 50-63")]


def test_material_names() -> None:
    assert material_name("materials[0]") == "Material 1"
    assert material_name("materials[2].sub_materials[0]") == "Material 3 › 1"
