"""Builders for assessment requests used by the engine, CLI and HTTP tests."""

from __future__ import annotations

from typing import Any

from app.engine.report import AssessmentReport


def ltsd(issue: str, start: str, end: str) -> dict[str, str]:
    return {"type": "ltsd", "issue_date": issue, "valid_from": start, "valid_until": end}


def statement(issue: str) -> dict[str, str]:
    return {"type": "statement_on_origin", "issue_date": issue}


def material(hs: str, origin: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"hs_code": hs, "origin": origin, "value": value, **extra}


def request(
    agreement: str,
    hs: str,
    exw: str,
    materials: list[dict[str, Any]] | None = None,
    *,
    fob: str | None = None,
    rule: str | None = None,
    operations: list[str] | None = None,
    date: str = "2025-03-01",
) -> dict[str, Any]:
    product: dict[str, Any] = {"hs_code": hs, "ex_works_price": exw}
    if fob is not None:
        product["fob_price"] = fob
    body: dict[str, Any] = {"agreement": agreement, "assessment_date": date, "product": product, "materials": materials or []}
    if rule is not None:
        body["rule"] = rule
    if operations is not None:
        body["operations"] = operations
    return body


def criterion(report: AssessmentReport, alternative: str, kind: str) -> Any:
    """The criterion of `kind` inside the alternative whose text is `alternative`."""
    for alt in report.alternatives:
        if alt.text == alternative:
            return next(c for c in alt.criteria if c.kind == kind)
    raise KeyError(f"no alternative {alternative!r}; have {[a.text for a in report.alternatives]}")
