"""Parsed rule nodes: code ranges from both ends, canonical texts, and the disjunctive normal form with its
size limit (64 alternatives pass, 65 are refused)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.engine.expression import (
    MAX_ALTERNATIVES,
    AllOf,
    AnyOf,
    CodeRange,
    CodeSet,
    MaxNom,
    Operation,
    RuleTooComplexError,
    Rvc,
    TariffShift,
    WeightLimit,
    alternatives,
)

CODES = ("850099", "850100", "850250", "850399", "850400", "85", "8502")


def test_code_range_contains_both_ends_and_nothing_outside():
    headings = CodeRange("8501", "8503")
    assert [headings.contains(code) for code in CODES] == [
        False,
        True,
        True,
        True,
        False,
        False,
        True,
    ]
    single = CodeRange("850300", "850300")
    assert [
        single.contains(code) for code in ("850299", "850300", "8503001000", "850301")
    ] == [False, True, True, False]
    assert (headings.text(), single.text(), CodeRange("85", "85").text()) == (
        "8501-8503",
        "850300",
        "85",
    )


def test_code_set_matches_any_item_and_lists_them():
    codes = CodeSet(
        (
            CodeRange("8501", "8502"),
            CodeRange("850400", "850400"),
            CodeRange("72", "72"),
        )
    )
    found = [
        codes.contains(code)
        for code in (
            "850099",
            "850100",
            "850299",
            "850300",
            "850399",
            "850400",
            "850401",
            "720917",
            "730000",
        )
    ]
    assert found == [False, True, True, False, False, True, False, True, False]
    assert codes.text() == "8501-8502, 850400, 72"
    assert CodeSet(()).contains("850110") is False and CodeSet(()).text() == ""


def test_tariff_shift_levels_and_texts():
    assert [TariffShift(level).digits for level in ("CC", "CTH", "CTSH", "ANY")] == [
        2,
        4,
        6,
        0,
    ]
    assert TariffShift("CTH").text() == "CTH"
    assert (
        TariffShift("CTSH", CodeSet((CodeRange("8503", "8503"),))).text()
        == "CTSH except from 8503"
    )
    assert TariffShift("ANY").text() == "manufacture from materials of any heading"
    assert (
        TariffShift("ANY", CodeSet((CodeRange("640690", "640690"),))).text()
        == "manufacture from materials of any heading except from 640690"
    )


def test_value_criteria_texts():
    scope = CodeSet((CodeRange("50", "60"),))
    assert MaxNom(D("47.5")).text() == "MaxNOM 47.5% (EXW)"
    assert MaxNom(D(50), scope).text() == "MaxNOM 50% (EXW) of 50-60"
    assert Rvc(D(55)).text() == "RVC 55% (FOB)"
    assert (
        WeightLimit(D(50)).text()
        == "the net weight of non-originating materials does not exceed 50 % of the net weight of the product"
    )
    assert WeightLimit(D(50), scope).text() == (
        "the net weight of non-originating materials of 50-60 does not exceed 50 % of the net weight of the product"
    )
    assert Operation("chemical_reaction").text() == "OP(chemical_reaction)"


def test_nested_texts_are_parenthesised_only_where_needed():
    cc, cth, ctsh = TariffShift("CC"), TariffShift("CTH"), TariffShift("CTSH")
    assert AllOf((AnyOf((cc, cth)), ctsh)).text() == "(CC or CTH) and CTSH"
    assert AnyOf((AllOf((cc, cth)), ctsh)).text() == "(CC and CTH) or CTSH"
    assert AllOf((AllOf((cc, cth)), ctsh)).text() == "CC and CTH and CTSH"
    assert AnyOf((AnyOf((cc, cth)), ctsh)).text() == "CC or CTH or CTSH"


def test_alternatives_distribute_and_over_or_in_order():
    cc, cth, ctsh, op = (
        TariffShift("CC"),
        TariffShift("CTH"),
        TariffShift("CTSH"),
        Operation("x"),
    )
    assert alternatives(cc) == [(cc,)]
    assert alternatives(AnyOf((cc, AllOf((cth, op))))) == [(cc,), (cth, op)]
    assert alternatives(AllOf((AnyOf((cc, cth)), AnyOf((ctsh, op))))) == [
        (cc, ctsh),
        (cc, op),
        (cth, ctsh),
        (cth, op),
    ]


def _choices(count: int) -> AnyOf:
    return AnyOf(tuple(Operation(f"op{index}") for index in range(count)))


def test_at_most_64_alternatives():
    assert MAX_ALTERNATIVES == 64
    assert len(alternatives(_choices(64))) == 64
    assert len(alternatives(AllOf((_choices(8), _choices(8))))) == 64
    assert (
        len(
            alternatives(
                AllOf(
                    (
                        _choices(2),
                        _choices(2),
                        _choices(2),
                        _choices(2),
                        _choices(2),
                        _choices(2),
                    )
                )
            )
        )
        == 64
    )


@pytest.mark.parametrize(
    "node",
    [
        _choices(65),
        AllOf((_choices(13), _choices(5))),
        AllOf((_choices(5), _choices(13))),
        AnyOf((_choices(64), TariffShift("CC"))),
    ],
)
def test_65_alternatives_are_refused(node):
    with pytest.raises(RuleTooComplexError) as raised:
        alternatives(node)
    assert str(raised.value) == "the rule expands into more than 64 alternatives"


def test_a_conjunction_too_large_is_refused_before_it_is_expanded(monkeypatch):
    """64**3 combinations would be built and then refused without the count taken first."""
    from app.engine import expression

    expanded: list[int] = []
    monkeypatch.setattr(
        expression,
        "product",
        lambda *factors: expanded.append(len(factors)) or iter(()),
    )
    with pytest.raises(RuleTooComplexError):
        alternatives(AllOf((_choices(64), _choices(64), _choices(64))))
    with pytest.raises(RuleTooComplexError):
        alternatives(AllOf((_choices(2), _choices(33))))
    assert expanded == []
