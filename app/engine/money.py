"""Exact money arithmetic helpers: decisions compare exact Decimals, only displays are rounded."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)  # Decimal * int converts the int to a new Decimal on every call


def total(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))


def percent_of(part: Decimal, whole: Decimal) -> Decimal:
    """part / whole * 100, rounded half-up to two decimals for display."""
    return (part * HUNDRED / whole).quantize(CENT, ROUND_HALF_UP)  # positional: a keyword costs a dict per call


def at_most_percent(part: Decimal, whole: Decimal, percent: Decimal) -> bool:
    """part <= percent % of whole, decided without division ("does not exceed": equality passes)."""
    return part * HUNDRED <= percent * whole


def share(whole: Decimal, percent: Decimal) -> Decimal:
    """percent % of whole, exact, shown with two decimals when that loses nothing."""
    exact = whole * percent / HUNDRED
    cents = exact.quantize(CENT)
    return cents if cents == exact else exact
