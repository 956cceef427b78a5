"""The parser's refusals, word for word: the message, the column, what it expected and the nearest form it
reads are part of the product (API and CLI show them as they are), so every one is asserted exactly."""

from __future__ import annotations

import pytest
from lark.exceptions import UnexpectedEOF, UnexpectedInput

from app.engine.parser import (
    RuleSyntaxError,
    _expected,
    _syntax_error,
    nearest_form,
    parse_rule,
)

WITHIN = "a change within the heading must be combined with a condition ('provided that ...')"

# What the grammar expects where a rule (or an alternative after 'or') begins.
AT_START = (
    "'('",
    "'A change from any other heading'",
    "'A change from within heading'",
    "'Manufacture from materials of any heading'",
    "'No change in tariff classification is required'",
    "'the net weight of non-originating materials'",
    "'the same change'",
    "'the value of non-originating materials'",
    "CC/CTH/CTSH",
    "MaxNOM",
    "OP",
    "RVC",
)
PROCESS = "a specific process as the annexes name it (e.g. 'chemical reaction')"
GOODS = "goods as the annexes describe them"
SUBDIVISION = "a product description ending in ':'"
AFTER_SHIFT = ("')'", "'.'", "'and'", "'except'", "'however'", "'or' or ';'", SUBDIVISION)


def refusal(rule: str) -> RuleSyntaxError:
    with pytest.raises(RuleSyntaxError) as raised:
        parse_rule(rule)
    return raised.value


class TestRuleSyntaxError:
    def test_carries_rule_position_column_message_expected_and_nearest(self):
        error = RuleSyntaxError("CTH x", 4, "unexpected 'x'", ("'and'", "'or'"), "CTH")
        assert (error.rule, error.position, error.column, error.message) == ("CTH x", 4, 5, "unexpected 'x'")
        assert (error.expected, error.nearest) == (("'and'", "'or'"), "CTH")
        assert str(error) == error.describe() == "unexpected 'x' at column 5; expected 'and', 'or'; the nearest form it reads is 'CTH': CTH \u2192x"

    def test_without_expected_or_nearest_the_message_says_neither(self):
        error = RuleSyntaxError("CTH x", 4, "unexpected 'x'")
        assert (error.expected, error.nearest) == ((), None)
        assert error.describe() == "unexpected 'x' at column 5: CTH \u2192x"

    def test_expected_alone_and_nearest_alone(self):
        assert RuleSyntaxError("ab", 1, "m", ("'x'",)).describe() == "m at column 2; expected 'x': a\u2192b"
        assert RuleSyntaxError("ab", 1, "m", (), "CC").describe() == "m at column 2; the nearest form it reads is 'CC': a\u2192b"


@pytest.mark.parametrize(
    ("rule", "describe"),
    [
        ("", "the rule is empty at column 1: \u2192"),
        ("  ", "the rule is empty at column 1: \u2192  "),
        ("CTH except from 850", "HS code 850 must have 2, 4 or 6 digits at column 17: CTH except from \u2192850"),
        ("CTH except from 8501234", "HS code 8501234 must have 2, 4 or 6 digits at column 17: CTH except from \u21928501234"),
        ("CTH except from 8", "HS code 8 must have 2, 4 or 6 digits at column 17: CTH except from \u21928"),
        ("CTH except from 85013", "HS code 85013 must have 2, 4 or 6 digits at column 17: CTH except from \u219285013"),
        ("CTH except from 8505-8501", "range 8505-8501 runs backwards at column 17: CTH except from \u21928505-8501"),
        ("CTH except from 85-8501", "range 85-8501 mixes codes of different lengths at column 20: CTH except from 85-\u21928501"),
        ("MaxNOM 150% (EXW)", "percentage 150 must be above 0 and at most 100 at column 8: MaxNOM \u2192150% (EXW)"),
        ("MaxNOM 100.5% (EXW)", "percentage 100.5 must be above 0 and at most 100 at column 8: MaxNOM \u2192100.5% (EXW)"),
        ("MaxNOM 0% (EXW)", "percentage 0 must be above 0 and at most 100 at column 8: MaxNOM \u21920% (EXW)"),
        ("RVC 0% (FOB)", "percentage 0 must be above 0 and at most 100 at column 5: RVC \u21920% (FOB)"),
        (
            "the net weight of non-originating materials does not exceed 101 % of the net weight of the product",
            ("percentage 101 must be above 0 and at most 100 at column 61: the net weight of non-originating materials does not exceed "
            "\u2192101 % of the net weight of the product"),
        ),
        (
            "CTH except from heading 8503.00",
            "heading codes have 4 digits: 850300 at column 17: CTH except from \u2192heading 8503.00",
        ),
        (
            "CTH except from headings 85.01 through 85.04 or 12",
            "heading codes have 4 digits: 8501-8504, 12 at column 17: CTH except from \u2192headings 85.01 through 85.04 or 12",
        ),
        ("MaxNOM 50% (EXW) of chapter 8501", "chapter codes have 2 digits: 8501 at column 21: MaxNOM 50% (EXW) of \u2192chapter 8501"),
        (
            "CTH; however, welded angles, shapes and sections of heading 73.08 may not be used",
            "the goods described lie outside 7308 at column 15: CTH; however, \u2192welded angles, shapes and sections of heading 73.08 may not be used",
        ),
        # the goods at the very start of the rule: column 1
        ("battery packs of heading 73.08 must be originating", "the goods described lie outside 7308 at column 1: \u2192battery packs of heading 73.08 must be originating"),
        # battery packs are 8507.50-8507.80: a written range holding only their first or only their last code is refused
        (
            "battery packs of subheadings 8507.50 through 8507.60 must be originating",
            "the goods described lie outside 850750-850760 at column 1: \u2192battery packs of subheadings 8507.50 through 8507.60 must be originating",
        ),
        (
            "battery packs of subheadings 8507.60 through 8507.80 must be originating",
            "the goods described lie outside 850760-850780 at column 1: \u2192battery packs of subheadings 8507.60 through 8507.80 must be originating",
        ),
        ("No change in tariff classification is required", f"{WITHIN} at column 1: \u2192No change in tariff classification is required"),
        (
            "No change in tariff classification is required and the same change",
            f"{WITHIN} at column 1: \u2192No change in tariff classification is required and the same change",
        ),
        ("A change from within heading 39.01", f"{WITHIN} at column 1: \u2192A change from within heading 39.01"),
        ("CTH or the same change", f"{WITHIN} at column 8: CTH or \u2192the same change"),
        ("Others: the same change", f"{WITHIN} at column 9: Others: \u2192the same change"),
        ("OP(Bad)", "unexpected 'B' at column 4; expected a snake_case operation code: OP(\u2192Bad)"),
    ],
)
def test_refusals_word_for_word(rule, describe):
    assert refusal(rule).describe() == describe


def test_expected_terms_and_nearest_form_word_for_word():
    error = refusal("CTH except 8503")
    assert (error.position, error.message, error.expected, error.nearest) == (11, "unexpected '8503'", ("'from'",), "CTH except from heading 85.03")

    error = refusal(") CTH")  # a token the grammar knows, in the wrong place, at offset 0
    assert (error.position, error.message, error.nearest) == (0, "unexpected ')'", "CTH")
    assert error.expected == (*AT_START, SUBDIVISION, PROCESS, GOODS)

    error = refusal("CTH or")
    assert (error.position, error.message, error.expected, error.nearest) == (6, "the rule ends too early", (*AT_START, PROCESS, GOODS), "CTH")
    assert error.describe() == (
        f"the rule ends too early at column 7; expected {', '.join((*AT_START, PROCESS, GOODS))}; the nearest form it reads is 'CTH': CTH or\u2192"
    )

    error = refusal("CTH and (CC")
    assert error.describe() == "the rule ends too early at column 12; expected ')'; the nearest form it reads is 'CC': CTH and (CC\u2192"

    # a separator at offset 0 leaves no clause to compare
    error = refusal("; CTH")
    assert (error.position, error.message, error.nearest) == (0, "unexpected ';'", None)


def test_an_unexpected_token_is_quoted_up_to_40_characters():
    error = refusal("CTH knitting or crocheting combined with making-up including cutting of fabric")
    assert error.message == "unexpected 'knitting or crocheting combined with mak'"
    assert (error.position, error.expected, error.nearest) == (4, AFTER_SHIFT, None)


class TestLarkErrorsTheLalrParserDoesNotRaise:
    """Other lark parsers end early with UnexpectedEOF or raise other UnexpectedInput kinds: still refused with a message."""

    def test_end_of_input(self):
        error = _syntax_error("CTH or", UnexpectedEOF(["SHIFT", "LPAR"]))
        assert (error.rule, error.position, error.message, error.expected, error.nearest) == ("CTH or", 6, "the rule ends too early", ("'('", "CC/CTH/CTSH"), "CTH")

    def test_any_other_unexpected_input(self):
        error = _syntax_error("CTH", UnexpectedInput("lark gave up"))
        assert (error.rule, error.position, error.message, error.expected, error.nearest) == ("CTH", 0, "lark gave up", (), None)
        assert error.describe() == "lark gave up at column 1: \u2192CTH"


def test_expected_terminals_are_named_for_people_and_unknown_ones_by_their_own_name():
    assert _expected({"SHIFT", "RPAR", "NEW_TERMINAL"}) == ("')'", "CC/CTH/CTSH", "NEW_TERMINAL")


@pytest.mark.parametrize(
    ("rule", "position", "nearest"),
    [
        ("CX.", 0, "CC"),  # trailing punctuation is not compared; 'cx' is as close to 'cc' as the cutoff allows
        ("MAXNOX", 0, "MaxNOM 50 % (EXW)"),
        ("CXX", 0, None),
        ("; CTH", 0, None),
        # the clause around the position: from the last ';', ' or ', ' and ' before it to the first after it
        ("CTH; MaxNOM 50 pct (EXW)", 5, "MaxNOM 50 % (EXW)"),
        ("CTH; CC; MaxNOM 50 pct (EXW)", 9, "MaxNOM 50 % (EXW)"),
        ("CTH and MaxNOM 50 pct (EXW)", 15, "MaxNOM 50 % (EXW)"),
        (" and CX", 6, "CC"),
        (" or CX", 5, "CC"),
        ("CTX or CC", 0, "CTH"),
        ("CTX or CC or CTH", 0, "CTH"),
        ("CC or CTX or CC", 6, "CTH"),
        # every number counts as one digit, however long
        ("MaxNOM " + "7" * 40 + " % (EXW)", 0, "MaxNOM 50 % (EXW)"),
        # the clause is compared on its first 200 characters
        ("CTH except from headings " + "7" * 169 + ".01 through 85.04", 0, "CTH except from heading 85.03"),
    ],
)
def test_nearest_form(rule, position, nearest):
    assert nearest_form(rule, position) == nearest
