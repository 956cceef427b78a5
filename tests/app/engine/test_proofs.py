"""Proof validity: every date boundary of LTSDs, supplier's declarations and statements on origin, from both
sides (first and last day in force), and the exact messages an auditor reads."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

import pytest

from app.engine.proofs import (
    LTSD_SOURCE,
    add_months,
    ltsd_window_problems,
    proof_problem,
)
from app.engine.request import Proof

D = date.fromisoformat


def _proof(**fields: Any) -> Proof:
    return Proof.model_validate(fields)


def _problem(
    proof: Proof,
    covers: str,
    *,
    on: str = "2025-06-01",
    agreement: str = "EU-JP",
    months: int = 12,
) -> str | None:
    return proof_problem(
        proof,
        agreement=agreement,
        covers=D(covers),
        assessment_date=D(on),
        statement_validity_months=months,
    )


class TestAddMonths:
    @pytest.mark.parametrize(
        ("day", "months", "expected"),
        [
            ("2023-01-31", 1, "2023-02-28"),
            ("2024-01-31", 1, "2024-02-29"),
            ("2024-03-31", -1, "2024-02-29"),
            ("2024-12-15", 1, "2025-01-15"),
            ("2024-01-15", -1, "2023-12-15"),
            ("2024-01-01", 24, "2026-01-01"),
            ("2024-06-30", -12, "2023-06-30"),
            ("2024-05-31", 0, "2024-05-31"),
            ("9999-11-30", 1, "9999-12-30"),
            ("0001-02-10", -1, "0001-01-10"),
        ],
    )
    def test_calendar_months_clamp_to_the_last_day(self, day, months, expected):
        assert add_months(D(day), months) == D(expected)

    def test_saturates_at_the_ends_of_the_calendar(self):
        assert add_months(date(9999, 12, 1), 1) == date.max
        assert add_months(date(9999, 12, 31), 120) == date.max
        assert add_months(date(1, 1, 31), -1) == date.min
        assert add_months(date(1, 3, 1), -30) == date.min


class TestLtsdWindow:
    ISSUE = D("2024-06-15")

    def test_lawful_windows_have_no_problem(self):
        assert (
            ltsd_window_problems(self.ISSUE, D("2024-06-15"), D("2024-06-15")) == []
        )  # one day
        assert (
            ltsd_window_problems(self.ISSUE, D("2024-06-15"), D("2026-06-15")) == []
        )  # exactly 24 months
        assert (
            ltsd_window_problems(self.ISSUE, D("2023-06-15"), D("2024-06-14")) == []
        )  # starts exactly 12 months before
        assert (
            ltsd_window_problems(self.ISSUE, D("2024-12-15"), D("2025-12-14")) == []
        )  # starts exactly 6 months after

    def test_period_ending_before_it_starts(self):
        assert ltsd_window_problems(self.ISSUE, D("2024-06-15"), D("2024-06-14")) == [
            "its period ends (2024-06-14) before it starts (2024-06-15)"
        ]

    def test_period_one_day_longer_than_24_months(self):
        assert ltsd_window_problems(self.ISSUE, D("2024-06-15"), D("2026-06-16")) == [
            "its period 2024-06-15 to 2026-06-16 exceeds 24 months"
        ]

    def test_start_one_day_more_than_12_months_before_issue(self):
        assert ltsd_window_problems(self.ISSUE, D("2023-06-14"), D("2024-06-14")) == [
            "it starts (2023-06-14) more than 12 months before its issue date (2024-06-15)"
        ]

    def test_start_one_day_more_than_6_months_after_issue(self):
        assert ltsd_window_problems(self.ISSUE, D("2024-12-16"), D("2025-12-15")) == [
            "it starts (2024-12-16) more than 6 months after its issue date (2024-06-15)"
        ]

    def test_every_problem_is_listed(self):
        assert ltsd_window_problems(self.ISSUE, D("2025-01-01"), D("2024-01-01")) == [
            "its period ends (2024-01-01) before it starts (2025-01-01)",
            "it starts (2025-01-01) more than 6 months after its issue date (2024-06-15)",
        ]
        assert ltsd_window_problems(self.ISSUE, D("2020-01-01"), D("2024-01-01")) == [
            "its period 2020-01-01 to 2024-01-01 exceeds 24 months",
            "it starts (2020-01-01) more than 12 months before its issue date (2024-06-15)",
        ]


class TestProofProblem:
    LTSD: ClassVar[dict[str, str]] = {
        "type": "ltsd",
        "issue_date": "2024-01-01",
        "valid_from": "2024-01-01",
        "valid_until": "2024-12-31",
    }

    def test_ltsd_covers_its_first_and_last_day_only(self):
        proof = _proof(**self.LTSD)
        assert _problem(proof, "2024-01-01") is None
        assert _problem(proof, "2024-12-31") is None
        assert (
            _problem(proof, "2023-12-31")
            == "the LTSD covers consignments dispatched 2024-01-01 to 2024-12-31, not on 2023-12-31"
        )
        assert (
            _problem(proof, "2025-01-01")
            == "the LTSD covers consignments dispatched 2024-01-01 to 2024-12-31, not on 2025-01-01"
        )

    def test_invalid_ltsd_names_every_problem_and_the_legal_source(self):
        proof = _proof(
            type="ltsd",
            issue_date="2024-01-01",
            valid_from="2024-07-02",
            valid_until="2024-07-01",
        )
        assert _problem(proof, "2024-07-01") == (
            "the LTSD is invalid: its period ends (2024-07-01) before it starts (2024-07-02); "
            f"it starts (2024-07-02) more than 6 months after its issue date (2024-01-01) ({LTSD_SOURCE})"
        )

    def test_issue_date_on_the_assessment_date_counts_the_day_after_does_not(self):
        declaration = {"type": "supplier_declaration", "issue_date": "2025-06-01"}
        assert _problem(_proof(**declaration), "2025-06-01", on="2025-06-01") is None
        assert _problem(_proof(**declaration), "2025-06-01", on="2025-05-31") == (
            "it is issued on 2025-06-01, after the assessment date 2025-05-31"
        )

    def test_supplier_declaration_has_no_period(self):
        proof = _proof(type="supplier_declaration", issue_date="2020-01-01")
        assert _problem(proof, "2025-06-01") is None

    def test_withdrawal_counts_from_its_own_day(self):
        proof = {**self.LTSD, "withdrawn_on": "2024-06-01"}
        assert _problem(_proof(**proof), "2024-05-01", on="2024-05-31") is None
        assert (
            _problem(_proof(**proof), "2024-05-01", on="2024-06-01")
            == "the supplier withdrew the declaration on 2024-06-01"
        )
        assert (
            _problem(_proof(**proof), "2024-05-01", on="2024-06-02")
            == "the supplier withdrew the declaration on 2024-06-01"
        )

    def test_named_agreements(self):
        assert _problem(_proof(**self.LTSD, agreements=["EU-JP"]), "2024-05-01") is None
        assert (
            _problem(_proof(**self.LTSD, agreements=["CETA", "EU-JP"]), "2024-05-01")
            is None
        )
        assert (
            _problem(_proof(**self.LTSD, agreements=["CETA", "EU-KR"]), "2024-05-01")
            == "the declaration names CETA, EU-KR, not EU-JP"
        )

    def test_statement_on_origin_valid_through_its_last_day(self):
        proof = _proof(type="statement_on_origin", issue_date="2024-01-31")
        assert _problem(proof, "2025-01-31") is None  # 12 months after 31 Jan
        assert _problem(proof, "2025-02-01") == (
            "the statement on origin of 2024-01-31 was valid for 12 months (until 2025-01-31), not on 2025-02-01"
        )
        assert _problem(proof, "2024-03-01", months=1) == (
            "the statement on origin of 2024-01-31 was valid for 1 months (until 2024-02-29), not on 2024-03-01"
        )
