"""Originating status of a bought material from its origin and proof.

EU origin counts only with a valid supplier's declaration or LTSD; partner origin counts through
the agreement's cumulation when proven; everything else, UNKNOWN included, is non-originating
(materials of undetermined origin: EU-JP Art. 3.1(f)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.engine.proofs import PROOF_NAMES, UnresolvedDeclarationError, proof_problem
from app.engine.report import Basis
from app.engine.request import Material
from app.engine.rulebook import Agreement


@dataclass(frozen=True)
class OriginStatus:
    originating: bool
    basis: Basis | None
    cumulation: bool
    reason: str


def classify(material: Material, agreement: Agreement, eu_member_states: frozenset[str], assessment_date: date) -> OriginStatus:
    covers = material.dispatch_date or assessment_date
    origin = material.origin
    if origin == "UNKNOWN":
        return OriginStatus(False, None, False, "origin undetermined: treated as non-originating")
    is_eu = origin == "EU" or origin in eu_member_states
    is_partner = not is_eu and origin in agreement.cumulation.partners
    if not (is_eu or is_partner):
        partners = ", ".join(agreement.cumulation.partners)
        return OriginStatus(False, None, False, f"{origin} is neither the EU nor a cumulation partner under {agreement.code} ({partners})")
    proof = material.proof
    if proof is None:
        needed = "a supplier's declaration or LTSD" if is_eu else "proof of origin"
        return OriginStatus(False, None, False, f"{origin} origin without {needed}: treated as non-originating")
    if proof.type is None:
        raise UnresolvedDeclarationError(f"declaration {proof.declaration_id} was not resolved to its type and dates")
    if is_eu and proof.type == "statement_on_origin":
        reason = "a statement on origin does not prove EU origin of a supplied material; a supplier's declaration or LTSD is needed"
        return OriginStatus(False, None, False, reason)
    problem = proof_problem(
        proof,
        agreement=agreement.code,
        covers=covers,
        assessment_date=assessment_date,
        statement_validity_months=agreement.statement_on_origin_validity_months,
    )
    if problem is not None:
        return OriginStatus(False, None, False, f"{origin} origin, but {problem}: treated as non-originating")
    kind = PROOF_NAMES[proof.type]
    if is_eu:
        when = f"dispatched {material.dispatch_date}" if material.dispatch_date else f"on the assessment date {assessment_date}"
        return OriginStatus(True, proof.type, False, f"EU origin proven by a valid {kind} {when}")
    return OriginStatus(
        True,
        proof.type,
        True,
        f"originating in {origin}, counted as originating through {agreement.cumulation.kind} cumulation "
        f"({agreement.cumulation.legal_source}); proven by {kind}",
    )
