"""Rules data look-up and validation: the first and last day a rule is in force, the most specific rule, the
HS spans a data file may name, and the messages that reject a bad file."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from app.engine.rulebook import (
    DATA_DIR,
    AgreementRules,
    AgreementsFile,
    ProductRule,
    RuleBook,
    Tolerance,
    default_rulebook,
    most_specific,
)

D = date.fromisoformat


def _rule(
    hs: str,
    rule: str = "CTH",
    valid_from: str = "2024-01-01",
    valid_until: str | None = None,
    **extra: Any,
) -> ProductRule:
    return ProductRule(
        hs=hs,
        rule=rule,
        legal_source=f"annex row {hs}",
        valid_from=D(valid_from),
        valid_until=valid_until and D(valid_until),
        **extra,
    )


def _book(*rules: ProductRule, agreement: str = "EU-JP") -> RuleBook:
    bundled = default_rulebook()
    agreements = AgreementsFile(
        eu_member_states=bundled.eu_member_states,
        agreements=(bundled.agreement(agreement),),
    )
    return RuleBook(
        agreements,
        [AgreementRules(agreement=agreement, annex="test annex", rules=rules)],
    )


def _rejection(model: type, **fields: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        model(**fields)
    return raised.value.errors()[0]["msg"]


class TestInForce:
    BOUNDED = _rule("8501", valid_from="2024-01-01", valid_until="2024-12-31")

    @pytest.mark.parametrize(
        ("on", "found"),
        [
            ("2023-12-31", False),
            ("2024-01-01", True),
            ("2024-12-31", True),
            ("2025-01-01", False),
        ],
    )
    def test_first_and_last_day_are_inclusive(self, on, found):
        assert self.BOUNDED.covers("850110", D(on)) is found
        assert (
            _book(self.BOUNDED).find_rule("EU-JP", "850110", D(on)) is self.BOUNDED
        ) is found
        assert (most_specific([self.BOUNDED], "850110", D(on)) is self.BOUNDED) is found

    def test_open_ended_rule_stays_in_force(self):
        rule = _rule("8501", valid_from="2024-01-01")
        assert rule.covers("850110", date.max) and not rule.covers(
            "850110", D("2023-12-31")
        )
        assert _book(rule).find_rule("EU-JP", "850110", date.max) is rule

    def test_successor_takes_over_on_its_first_day(self):
        old = _rule("8501", "CTH", valid_from="2020-01-01", valid_until="2026-12-31")
        new = _rule("8501", "CTSH", valid_from="2027-01-01")
        book = _book(old, new)
        assert book.find_rule("EU-JP", "850110", D("2026-12-31")) is old
        assert book.find_rule("EU-JP", "850110", D("2027-01-01")) is new
        assert most_specific([old, new], "850110", D("2027-01-01")) is new

    def test_a_specific_rule_out_of_force_gives_way_to_the_broader_one(self):
        broad = _rule("85", "CC", valid_from="2020-01-01")
        narrow = _rule("850110", "CTSH", valid_from="2025-01-01")
        book = _book(narrow, broad)
        assert book.find_rule("EU-JP", "850110", D("2024-12-31")) is broad
        assert book.find_rule("EU-JP", "850110", D("2025-01-01")) is narrow
        assert book.find_rule("EU-JP", "850120", D("2025-01-01")) is broad
        assert book.find_rule("EU-JP", "860110", D("2025-01-01")) is None


class TestSpecificity:
    def test_longer_codes_then_narrower_ranges(self):
        rules = [
            _rule("84-86"),
            _rule("85"),
            _rule("8501-8503"),
            _rule("8501-8502"),
            _rule("8501"),
            _rule("850110-850190"),
            _rule("850110"),
        ]
        assert [r.specificity() for r in rules] == [
            (-2, 2),
            (-2, 0),
            (-4, 2),
            (-4, 1),
            (-4, 0),
            (-6, 80),
            (-6, 0),
        ]
        on = D("2024-06-01")
        for count in range(1, len(rules) + 1):  # each rule wins over every broader one
            assert most_specific(rules[:count], "850110", on) is rules[count - 1]
            assert (
                _book(*rules[:count]).find_rule("EU-JP", "850110", on)
                is rules[count - 1]
            )

    def test_span_ends_are_inclusive(self):
        span = _rule("8501-8503")
        assert (span.hs_from, span.hs_to) == ("8501", "8503")
        assert [
            span.covers(code, D("2024-06-01"))
            for code in ("850099", "850100", "850399", "850400")
        ] == [False, True, True, False]
        single = _rule("850110")
        assert (single.hs_from, single.hs_to) == ("850110", "850110")
        assert [
            single.covers(code, D("2024-06-01"))
            for code in ("850109", "850110", "85011000", "850111")
        ] == [False, True, True, False]

    def test_look_ups_agree_when_the_index_is_cleared(self):
        book = _book(_rule("8501"), _rule("85", "CC"))
        book.INDEX_SIZE = 2
        found = [
            book.find_rule("EU-JP", code, D("2024-06-01")).hs
            for code in ("850110", "850120", "850210", "850110", "850120")
        ]
        assert found == ["8501", "8501", "85", "8501", "8501"]
        assert len(book._index) <= 2


class TestValidation:
    @pytest.mark.parametrize(
        "hs",
        ["85", "8501", "850110", "85-86", "8501-8503", "850110-850190", "8501-8501"],
    )
    def test_lawful_spans(self, hs):
        assert _rule(hs).hs == hs

    @pytest.mark.parametrize(
        "hs",
        [
            "8",
            "850",
            "85011",
            "8501100",
            "85a1",
            "",
            "85-8501",
            "8501-85",
            "85-86-87",
            "8501-",
        ],
    )
    def test_spans_that_are_not_codes(self, hs):
        message = _rejection(
            ProductRule, hs=hs, rule="CTH", legal_source="x", valid_from=D("2024-01-01")
        )
        assert (
            message
            == f"Value error, {hs!r} is not a 2/4/6-digit code or a range of equal-length codes"
        )

    def test_backward_range(self):
        message = _rejection(
            ProductRule,
            hs="8503-8501",
            rule="CTH",
            legal_source="x",
            valid_from=D("2024-01-01"),
        )
        assert message == "Value error, range '8503-8501' runs backwards"

    def test_rule_that_does_not_parse(self):
        message = _rejection(
            ProductRule,
            hs="8501",
            rule="CTH except 8503",
            legal_source="x",
            valid_from=D("2024-01-01"),
        )
        assert message.startswith(
            "Value error, unexpected '8503' at column 12; expected 'from'"
        )

    def test_validity_dates_may_meet_not_cross(self):
        assert _rule(
            "8501", valid_from="2024-01-01", valid_until="2024-01-01"
        ).valid_until == D("2024-01-01")
        message = _rejection(
            ProductRule,
            hs="8501",
            rule="CTH",
            legal_source="x",
            valid_from=D("2024-01-02"),
            valid_until=D("2024-01-01"),
        )
        assert (
            message
            == "Value error, valid_until 2024-01-01 is before valid_from 2024-01-02"
        )

    def test_unverified_is_the_absence_of_a_comparison(self):
        assert _rule("8501").unverified is True
        assert _rule("8501", checked_against="a transcription @abc").unverified is False

    @pytest.mark.parametrize(
        ("percent", "valid"),
        [("0", False), ("0.01", True), ("100", True), ("100.01", False)],
    )
    def test_tolerance_percent_bounds(self, percent, valid):
        fields = {"percent": percent, "legal_source": "x"}
        if valid:
            assert str(Tolerance(**fields).percent) == percent
        else:
            assert _rejection(Tolerance, **fields).startswith("Input should be")

    def test_tolerance_excluded_chapters(self):
        tolerance = Tolerance(
            percent="10", excluded_chapters=("50-63", "6406"), legal_source="x"
        )
        assert [tolerance.excluded(code) for code in ("490199", "500100", "631090", "640110", "640610", "640690")] == [
            False, True, True, False, True, True,
        ]  # fmt: skip
        assert Tolerance(percent="10", legal_source="x").excluded("500100") is False

    def test_agreement_codes_must_be_unique(self):
        agreement = default_rulebook().agreement("EU-JP")
        message = _rejection(
            AgreementsFile,
            eu_member_states=frozenset({"DE"}),
            agreements=(agreement, agreement),
        )
        assert message == "Value error, agreement codes must be unique"

    def test_rules_for_an_unknown_agreement_are_refused(self):
        bundled = default_rulebook()
        agreements = AgreementsFile(
            eu_member_states=bundled.eu_member_states,
            agreements=(bundled.agreement("EU-JP"),),
        )
        with pytest.raises(ValueError, match="^rules for unknown agreement CETA$"):
            RuleBook(
                agreements, [AgreementRules(agreement="CETA", annex="x", rules=())]
            )

    def test_blocks_of_one_agreement_add_up(self):
        bundled = default_rulebook()
        agreements = AgreementsFile(
            eu_member_states=bundled.eu_member_states,
            agreements=(bundled.agreement("EU-JP"),),
        )
        first, second = _rule("8501"), _rule("8502")
        book = RuleBook(
            agreements,
            [
                AgreementRules(agreement="EU-JP", annex="a", rules=(first,)),
                AgreementRules(agreement="EU-JP", annex="b", rules=(second,)),
            ],
        )
        assert book.rules("EU-JP") == (first, second)
        assert book.rules("CETA") == ()
        assert book.find_rule("CETA", "850110", D("2024-06-01")) is None
        assert book.agreements() == (bundled.agreement("EU-JP"),)
        assert book.eu_member_states == bundled.eu_member_states


def test_the_bundled_files_load_into_a_rule_book():
    # loaded afresh (default_rulebook() is loaded once per process, before any test could look)
    book = RuleBook.load(DATA_DIR)
    assert [a.code for a in book.agreements()] == [
        "EU-JP",
        "EU-UK",
        "CETA",
        "EU-KR",
        "PEM",
    ]
    assert {"DE", "FR", "EL", "GR"} <= book.eu_member_states and len(
        book.eu_member_states
    ) == 28
    assert {code: len(book.rules(code)) for code in ("EU-JP", "EU-UK", "CETA", "EU-KR", "PEM")} == {
        "EU-JP": 22, "EU-UK": 17, "CETA": 36, "EU-KR": 14, "PEM": 14,
    }  # fmt: skip
    assert book.find_rule("EU-JP", "850110", D("2025-03-01")).hs == "8501-8502"
    assert book.agreement("PEM").tolerance.percent == 15


def test_a_subheading_is_scanned_once(monkeypatch):
    """The index promises that a look-up only checks dates once the subheading was seen."""
    book = _book(_rule("8501"), _rule("85", "CC"))
    scans: list[str] = []
    every_rule = book.rules
    monkeypatch.setattr(
        book,
        "rules",
        lambda agreement: scans.append(agreement) or every_rule(agreement),
    )
    found = [
        book.find_rule("EU-JP", code, D("2024-06-01")).hs
        for code in ("85011010", "85011020", "850110", "850120")
    ]
    assert found == ["8501", "8501", "8501", "8501"]
    assert scans == ["EU-JP", "EU-JP"]
    assert sorted(book._index) == [("EU-JP", "850110"), ("EU-JP", "850120")]
