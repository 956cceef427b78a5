"""Validity of suppliers' declarations, long-term suppliers' declarations (LTSD) and statements on origin.

LTSD rules: Implementing Regulation (EU) 2015/2447 Art. 62 as amended by Regulation (EU) 2017/989 and
Annex 22-16: the start date may be at most 12 months before or 6 months after the issue date, the end
date at most 24 months after the start date, and only consignments dispatched within the period are
covered. The same window check guards the API when a declaration is stored.
"""

from __future__ import annotations

import calendar
from datetime import date
from functools import lru_cache

from app.engine.memory import forgotten_in_forked_children
from app.engine.request import AgreementCode, Proof

LTSD_SOURCE = "Implementing Regulation (EU) 2015/2447 Art. 62 (as amended by Regulation (EU) 2017/989), Annex 22-16"
SUPPLIER_DECLARATION_SOURCE = "Implementing Regulation (EU) 2015/2447 Art. 61, Annex 22-15"

PROOF_NAMES = {"ltsd": "LTSD", "supplier_declaration": "supplier's declaration", "statement_on_origin": "statement on origin"}

MAX_PERIOD_MONTHS = 24
MAX_START_BEFORE_ISSUE_MONTHS = 12
MAX_START_AFTER_ISSUE_MONTHS = 6


class UnresolvedDeclarationError(ValueError):
    """A proof names a stored declaration that nobody looked up (e.g. in the offline CLI)."""


@lru_cache(maxsize=4096)
def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb) and
    saturating at the ends of the calendar."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if year < date.min.year:
        return date.min
    if year > date.max.year:
        return date.max
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


forgotten_in_forked_children(add_months.cache_clear)


def ltsd_window_problems(issue_date: date, valid_from: date, valid_until: date) -> list[str]:
    """Why an LTSD's dates make it unusable; empty when the window is lawful."""
    problems = []
    if valid_until < valid_from:
        problems.append(f"its period ends ({valid_until}) before it starts ({valid_from})")
    elif valid_until > add_months(valid_from, MAX_PERIOD_MONTHS):
        problems.append(f"its period {valid_from} to {valid_until} exceeds {MAX_PERIOD_MONTHS} months")
    if valid_from < add_months(issue_date, -MAX_START_BEFORE_ISSUE_MONTHS):
        problems.append(f"it starts ({valid_from}) more than {MAX_START_BEFORE_ISSUE_MONTHS} months before its issue date ({issue_date})")
    if valid_from > add_months(issue_date, MAX_START_AFTER_ISSUE_MONTHS):
        problems.append(f"it starts ({valid_from}) more than {MAX_START_AFTER_ISSUE_MONTHS} months after its issue date ({issue_date})")
    return problems


def proof_problem(
    proof: Proof,
    *,
    agreement: AgreementCode,
    covers: date,
    assessment_date: date,
    statement_validity_months: int,
) -> str | None:
    """Why the proof cannot be relied on for a material dispatched on `covers`; None when it holds.

    The proof's type must be known (a declaration reference resolved by the caller); its dates are there,
    since a proof without the dates its type requires does not validate (request.REQUIRED_DATES)."""
    if proof.agreements is not None and agreement not in proof.agreements:
        return f"the declaration names {', '.join(proof.agreements)}, not {agreement}"
    if proof.withdrawn_on is not None and proof.withdrawn_on <= assessment_date:
        return f"the supplier withdrew the declaration on {proof.withdrawn_on}"
    assert proof.issue_date is not None
    if proof.issue_date > assessment_date:
        return f"it is issued on {proof.issue_date}, after the assessment date {assessment_date}"
    if proof.type == "ltsd":
        return _ltsd_problem(proof, proof.issue_date, covers)
    if proof.type == "statement_on_origin":
        expiry = add_months(proof.issue_date, statement_validity_months)
        if covers > expiry:
            return f"the statement on origin of {proof.issue_date} was valid for {statement_validity_months} months (until {expiry}), not on {covers}"
    return None


def _ltsd_problem(proof: Proof, issue_date: date, covers: date) -> str | None:
    assert proof.valid_from is not None and proof.valid_until is not None
    problems = ltsd_window_problems(issue_date, proof.valid_from, proof.valid_until)
    if problems:
        return "the LTSD is invalid: " + "; ".join(problems) + f" ({LTSD_SOURCE})"
    if not proof.valid_from <= covers <= proof.valid_until:
        return f"the LTSD covers consignments dispatched {proof.valid_from} to {proof.valid_until}, not on {covers}"
    return None
