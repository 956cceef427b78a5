"""Money helpers: exact decisions at the threshold, half-up display rounding, cents shown only when exact."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.engine.money import at_most_percent, percent_of, share, total


def test_total_of_nothing_is_an_exact_decimal_zero():
    assert total([]) == 0 and isinstance(total([]), D)
    assert str(total([])) == "0"


def test_total_adds_exactly():
    assert total([D("0.10"), D("0.20")]) == D("0.30")
    assert str(total(iter([D("1.25"), D(2), D(0)]))) == "3.25"


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        ("50.00", "100.00", "50.00"),
        ("1", "3", "33.33"),
        ("2", "3", "66.67"),
        ("0.00125", "1", "0.13"),  # half-up: half-even would show 0.12
        ("0.00135", "1", "0.14"),
        ("0", "7", "0.00"),
        ("120", "80", "150.00"),
    ],
)
def test_percent_of_rounds_half_up_to_two_decimals(part, whole, shown):
    assert str(percent_of(D(part), D(whole))) == shown


@pytest.mark.parametrize(
    ("part", "whole", "percent", "within"),
    [
        ("50.00", "100.00", "50", True),  # equality passes: "does not exceed"
        ("50.01", "100.00", "50", False),
        ("49.99", "100.00", "50", True),
        ("0", "100.00", "0", True),
        ("0.01", "100.00", "0", False),
        ("100.00", "100.00", "100", True),
        ("10", "30", "33.34", True),  # 33.33...% exactly, no rounding involved
        ("10", "30", "33.33", False),
    ],
)
def test_at_most_percent_from_both_sides(part, whole, percent, within):
    assert at_most_percent(D(part), D(whole), D(percent)) is within


@pytest.mark.parametrize(
    ("whole", "percent", "shown"),
    [
        ("100.00", "10", "10.00"),
        ("100", "10", "10.00"),  # exact, shown with cents
        ("200.00", "15", "30.00"),
        ("0.05", "15", "0.0075"),  # cents would lose the exact value
        ("33.33", "10", "3.333"),
        ("0", "10", "0.00"),
    ],
)
def test_share_is_exact_and_shows_cents_when_that_loses_nothing(whole, percent, shown):
    assert str(share(D(whole), D(percent))) == shown
