"""A bought material's originating status: each branch of the decision with the whole status (originating,
basis, cumulation, reason), and the date a proof must cover."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.engine.origin_status import OriginStatus, classify
from app.engine.proofs import UnresolvedDeclarationError
from app.engine.request import Material
from app.engine.rulebook import Agreement, Cumulation, default_rulebook

ON = date(2025, 6, 1)
MEMBERS = frozenset({"DE", "FR"})
LTSD = {
    "type": "ltsd",
    "issue_date": "2025-01-01",
    "valid_from": "2025-01-01",
    "valid_until": "2025-12-31",
}
STATEMENT = {"type": "statement_on_origin", "issue_date": "2025-01-15"}


def _agreement() -> Agreement:
    cumulation = Cumulation(
        kind="diagonal", partners=("JP", "KR"), legal_source="Art. X (cumulation)"
    )
    return (
        default_rulebook()
        .agreement("EU-JP")
        .model_copy(update={"cumulation": cumulation})
    )


def _status(
    origin: str, proof: dict[str, Any] | None = None, **extra: Any
) -> OriginStatus:
    material = Material.model_validate(
        {
            "hs_code": "850300",
            "origin": origin,
            "value": "10.00",
            "proof": proof,
            **extra,
        }
    )
    return classify(material, _agreement(), MEMBERS, ON)


def test_unknown_origin():
    assert _status("UNKNOWN", LTSD) == OriginStatus(
        False, None, False, "origin undetermined: treated as non-originating"
    )


def test_third_country_names_the_partners():
    assert _status("CN", STATEMENT) == OriginStatus(
        False,
        None,
        False,
        "CN is neither the EU nor a cumulation partner under EU-JP (JP, KR)",
    )
    # a member state's code is EU origin only when it is in the member states given
    assert (
        _status("IT", LTSD).reason
        == "IT is neither the EU nor a cumulation partner under EU-JP (JP, KR)"
    )


@pytest.mark.parametrize(
    ("origin", "needed"),
    [
        ("EU", "a supplier's declaration or LTSD"),
        ("DE", "a supplier's declaration or LTSD"),
        ("KR", "proof of origin"),
    ],
)
def test_no_proof(origin, needed):
    assert _status(origin) == OriginStatus(
        False,
        None,
        False,
        f"{origin} origin without {needed}: treated as non-originating",
    )


def test_unresolved_declaration_reference():
    with pytest.raises(UnresolvedDeclarationError) as raised:
        _status("DE", {"declaration_id": "6f1c3f9e-6f7a-4a53-9a39-d5a6f4f0d0aa"})
    assert (
        str(raised.value)
        == "declaration 6f1c3f9e-6f7a-4a53-9a39-d5a6f4f0d0aa was not resolved to its type and dates"
    )


def test_statement_on_origin_does_not_prove_eu_origin():
    reason = "a statement on origin does not prove EU origin of a supplied material; a supplier's declaration or LTSD is needed"
    assert _status("FR", STATEMENT) == OriginStatus(False, None, False, reason)
    assert _status("EU", STATEMENT) == OriginStatus(False, None, False, reason)


def test_eu_origin_proven_on_the_dispatch_date_or_the_assessment_date():
    assert _status("DE", LTSD, dispatch_date="2025-03-01") == OriginStatus(
        True, "ltsd", False, "EU origin proven by a valid LTSD dispatched 2025-03-01"
    )
    assert _status(
        "EU", {"type": "supplier_declaration", "issue_date": "2025-05-01"}
    ) == OriginStatus(
        True,
        "supplier_declaration",
        False,
        "EU origin proven by a valid supplier's declaration on the assessment date 2025-06-01",
    )


def test_the_proof_must_cover_the_dispatch_date_else_the_assessment_date():
    # the LTSD ends 2025-12-31: a dispatch on 2026-01-01 is not covered although the assessment date is
    assert _status("DE", LTSD, dispatch_date="2026-01-01") == OriginStatus(
        False,
        None,
        False,
        "DE origin, but the LTSD covers consignments dispatched 2025-01-01 to 2025-12-31, not on 2026-01-01: treated as non-originating",
    )
    early = {
        **LTSD,
        "issue_date": "2025-06-01",
        "valid_from": "2025-06-02",
        "valid_until": "2025-12-31",
    }
    assert _status("DE", early).reason == (
        "DE origin, but the LTSD covers consignments dispatched 2025-06-02 to 2025-12-31, not on 2025-06-01: treated as non-originating"
    )
    assert _status("DE", early, dispatch_date="2025-06-02").originating is True


def test_partner_origin_counts_through_cumulation():
    assert _status("JP", STATEMENT) == OriginStatus(
        True,
        "statement_on_origin",
        True,
        "originating in JP, counted as originating through diagonal cumulation (Art. X (cumulation)); proven by statement on origin",
    )
    assert (
        _status("KR", LTSD).cumulation is True and _status("KR", LTSD).basis == "ltsd"
    )


def test_partner_proof_that_does_not_hold():
    expired = {"type": "statement_on_origin", "issue_date": "2024-01-15"}
    assert _status("JP", expired, dispatch_date="2025-01-16") == OriginStatus(
        False,
        None,
        False,
        "JP origin, but the statement on origin of 2024-01-15 was valid for 12 months (until 2025-01-15), not on 2025-01-16: "
        "treated as non-originating",
    )
    assert _status("JP", expired, dispatch_date="2025-01-15").originating is True
