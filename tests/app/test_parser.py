"""The PSR expression grammar: structure, precedence, canonical text, and error positions."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.engine.expression import (
    AllOf,
    AnyOf,
    CodeRange,
    CodeSet,
    MaxNom,
    Operation,
    Rvc,
    TariffShift,
    alternatives,
)
from app.engine.parser import RuleSyntaxError, parse_rule


def test_full_eu_jp_rule():
    node = parse_rule("CTH except from 8503 or MaxNOM 50% (EXW) or RVC 55% (FOB)")
    assert isinstance(node, AnyOf)
    shift, maxnom, rvc = node.parts
    assert shift == TariffShift("CTH", CodeSet((CodeRange("8503", "8503"),)))
    assert maxnom == MaxNom(D("50"))
    assert rvc == Rvc(D("55"))


def test_and_binds_tighter_than_or_and_semicolon_is_or():
    node = parse_rule("CTSH; CTH and MaxNOM 40% (EXW)")
    assert isinstance(node, AnyOf) and isinstance(node.parts[1], AllOf)
    assert [tuple(leaf.text() for leaf in alt) for alt in alternatives(node)] == [("CTSH",), ("CTH", "MaxNOM 40% (EXW)")]


def test_and_ends_a_code_list():
    node = parse_rule("CTH except from 6401-6405, 640690 and MaxNOM 50% (EXW)")
    assert isinstance(node, AllOf)
    shift = node.parts[0]
    assert shift.except_from.items == (CodeRange("6401", "6405"), CodeRange("640690", "640690"))
    assert shift.except_from.contains("640319") and shift.except_from.contains("640690")
    assert not shift.except_from.contains("640620")


def test_parentheses_distribute_into_alternatives():
    node = parse_rule("(CC or CTH) and (OP(weaving_and_making_up) or RVC 40.5% (FOB))")
    assert [tuple(leaf.text() for leaf in alt) for alt in alternatives(node)] == [
        ("CC", "OP(weaving_and_making_up)"),
        ("CC", "RVC 40.5% (FOB)"),
        ("CTH", "OP(weaving_and_making_up)"),
        ("CTH", "RVC 40.5% (FOB)"),
    ]


def test_keywords_are_case_insensitive_and_text_is_canonical():
    node = parse_rule("cth EXCEPT from 85 Or maxnom 50 % (exw) OF 8501,8503")
    assert node.text() == "CTH except from 85 or MaxNOM 50% (EXW) of 8501, 8503"
    assert parse_rule(node.text()) == node


@pytest.mark.parametrize(("written", "digits"), [("85", "85"), ("8503", "8503"), ("85.03", "8503"), ("850300", "850300"), ("8503.00", "850300")])
def test_every_way_the_annexes_write_a_code_is_read(written, digits):
    assert parse_rule(f"CC except from {written}") == parse_rule(f"CC except from {digits}")


def test_restricted_maxnom_and_operation():
    node = parse_rule("MaxNOM 10% (EXW) of 8503 and OP(chemical_reaction)")
    assert node == AllOf((MaxNom(D("10"), CodeSet((CodeRange("8503", "8503"),))), Operation("chemical_reaction")))
    assert node.parts[0].of.contains("850300") and not node.parts[0].of.contains("850110")


@pytest.mark.parametrize(
    ("rule", "column", "fragment"),
    [
        ("CTH except 8503", 12, "expected 'from'"),
        ("CTH except from 850", 17, "must have 2, 4 or 6 digits"),
        # four digits, but not as the law writes a heading: it was read as 8503
        ("CTH except from 85.0.3", 17, "is written 8503 or 85.03 (heading), 850300 or 8503.00 (subheading)"),
        ("CTH except from 850.3", 17, "is written 8503 or 85.03"),
        ("CTSH except from 85.03.00", 18, "is written 8503 or 85.03"),
        ("CTH except from 8505-8501", 17, "runs backwards"),
        ("CTH except from 85-8501", 20, "different lengths"),
        ("MaxNOM 150% (EXW)", 8, "at most 100"),
        ("MaxNOM 50 (EXW)", 11, "expected '%'"),
        ("MaxNOM 50% (FOB)", 13, "expected EXW"),
        ("CTH or", 7, "ends too early"),
        ("CTH and (CC", 12, "ends too early"),
        ("CTX", 1, "unexpected 'C'"),
        ("OP(Bad)", 4, "snake_case operation code"),
        ("CTH CTSH", 5, "unexpected 'CTSH'"),
        ("", 1, "empty"),
    ],
)
def test_errors_point_at_the_offending_position(rule, column, fragment):
    with pytest.raises(RuleSyntaxError) as raised:
        parse_rule(rule)
    assert raised.value.column == column, raised.value.describe()
    assert raised.value.position == column - 1
    assert fragment in raised.value.describe()


def test_error_message_marks_the_position():
    with pytest.raises(RuleSyntaxError) as raised:
        parse_rule("CTH except 8503")
    assert raised.value.describe() == (
        "unexpected '8503' at column 12; expected 'from'; the nearest form it reads is 'CTH except from heading 85.03': CTH except \u21928503"
    )


def test_explosive_rules_are_refused():
    rule = " and ".join(["(CC or CTH or CTSH)"] * 5)
    with pytest.raises(RuleSyntaxError, match="more than 64 alternatives"):
        parse_rule(rule)
