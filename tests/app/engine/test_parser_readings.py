"""What the parser reads from each form of rule text, node for node: subdivided rows, described goods,
fabric and weight limits, nested conditions, and the percentage and code-range boundaries."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.engine.expression import AllOf, AnyOf, CodeRange, CodeSet, MaxNom, Operation, Rvc, TariffShift, WeightLimit
from app.engine.parser import TEXTILE_MATERIALS, parse_rule

GARMENTS = (
    "Garments obtained by sewing together or otherwise assembling two or more pieces of knitted or crocheted fabric cut to form "
    "or obtained directly to form"
)


def codes(*spans: tuple[str, str]) -> CodeSet:
    return CodeSet(tuple(CodeRange(start, end) for start, end in spans))


@pytest.mark.parametrize(
    ("rule", "node"),
    [
        # a row split by product descriptions reads as the union of its parts; one part reads as itself
        ("Others: CTH", TariffShift("CTH")),
        (f"{GARMENTS}: CTH. Others: OP(dyeing).", AnyOf((TariffShift("CTH"), Operation("dyeing")))),
        (
            f"Others: CTH. Other (knit to shape products): CC. {GARMENTS}: RVC 40% (FOB)",
            AnyOf((TariffShift("CTH"), TariffShift("CC"), Rvc(D(40)))),
        ),
        # nested conjunctions are flattened, so a rule and its canonical text read alike
        ("(CTH and CC) and RVC 40% (FOB)", AllOf((TariffShift("CTH"), TariffShift("CC"), Rvc(D(40))))),
        ("(CTH or CC) or RVC 40% (FOB)", AnyOf((TariffShift("CTH"), TariffShift("CC"), Rvc(D(40))))),
        # goods that must be originating: any heading, except the codes the words name (a range and a single code)
        ("battery packs of heading 85.07 must be originating", TariffShift("ANY", codes(("850750", "850780")))),
        ("battery packs of subheadings 8507.50 through 8507.80 must be originating", TariffShift("ANY", codes(("850750", "850780")))),
        (
            ("Battery packs of heading 85.07 of a kind used as the primary source of electrical power for propulsion of the vehicle "
            "must be originating"),
            TariffShift("ANY", codes(("850750", "850780"))),
        ),
        ("CTH; however, welded angles, shapes and sections of heading 73.01 may not be used", TariffShift("CTH", codes(("730120", "730120")))),
        (
            "CTH except from assemblies of uppers affixed to inner soles of heading 64.06",
            TariffShift("CTH", codes(("640690", "640690"))),
        ),
        # a limit on the unprinted fabric is a limit on non-originating materials of chapters 50-60
        (
            ("weaving combined with making-up (including cutting), provided that the value of the unprinted fabric used does not exceed "
            "47.5 % of the ex-works price of the product"),
            AllOf((Operation("weaving_and_making_up"), MaxNom(D("47.5"), TEXTILE_MATERIALS))),
        ),
        ("chemical reaction, purification", AnyOf((Operation("chemical_reaction"), Operation("purification")))),
        ("chemical reaction", Operation("chemical_reaction")),
        # net weight limits, with and without the materials they count
        (
            "the net weight of non-originating materials of heading 39.02 does not exceed 50 % of the net weight of the product",
            WeightLimit(D(50), codes(("3902", "3902"))),
        ),
        ("the net weight of non-originating materials does not exceed 50 % of the net weight of the product", WeightLimit(D(50))),
        # a range may start and end on the same code
        ("CTH except from 8501-8501", TariffShift("CTH", codes(("8501", "8501")))),
        ("CTH except from 8501 and from 8503", TariffShift("CTH", codes(("8501", "8501"), ("8503", "8503")))),
    ],
)
def test_reads(rule, node):
    assert parse_rule(rule) == node


def test_textile_materials_are_chapters_50_to_60():
    assert TEXTILE_MATERIALS == codes(("50", "60"))


@pytest.mark.parametrize(
    ("rule", "percent"),
    [
        ("MaxNOM 0.5% (EXW)", D("0.5")),
        ("MaxNOM 1% (EXW)", D(1)),
        ("MaxNOM 100% (EXW)", D(100)),
        ("RVC 0.01% (FOB)", D("0.01")),
        ("RVC 100% (FOB)", D(100)),
    ],
)
def test_percentages_above_0_up_to_100_are_read(rule, percent):
    assert parse_rule(rule).percent == percent
