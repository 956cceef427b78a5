"""Every proof carries the dates the law attaches to it: an LTSD its issue date and period, a supplier's
declaration its issue date, a statement on origin its date. Without one the request is refused, naming
the field (request validation, HTTP 422, CLI exit 2) — it is never silently read as "no proof"."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli import origin_app
from app.engine.request import REQUIRED_DATES, AssessmentRequest
from tests.app.cases import ltsd, material, request, statement

LTSD = ltsd("2025-01-01", "2025-01-01", "2025-12-31")
SUPPLIER_DECLARATION = {"type": "supplier_declaration", "issue_date": "2025-02-10"}
STATEMENT = statement("2025-01-15")
PROOFS = {"ltsd": LTSD, "supplier_declaration": SUPPLIER_DECLARATION, "statement_on_origin": STATEMENT}
MISSING = [(kind, field) for kind, fields in REQUIRED_DATES.items() for field in fields]


def _body(proof: dict[str, str]) -> dict:
    origin = "JP" if proof.get("type") == "statement_on_origin" else "DE"
    return request("EU-JP", "850110", "100.00", [material("850300", origin, "60.00", dispatch_date="2025-02-01", proof=proof)])


def _without(kind: str, field: str) -> dict[str, str]:
    return {key: value for key, value in PROOFS[kind].items() if key != field}


@pytest.mark.parametrize(("kind", "field"), MISSING)
def test_a_proof_without_a_required_date_is_refused_naming_the_field(kind, field):
    with pytest.raises(ValidationError) as raised:
        AssessmentRequest.model_validate(_body(_without(kind, field)))
    (error,) = raised.value.errors(include_url=False)
    assert error["loc"] == ("materials", 0, "proof", field)
    assert error["type"] == "proof_date_missing"
    assert error["msg"] == REQUIRED_DATES[kind][field]


@pytest.mark.parametrize(("kind", "field"), MISSING)
def test_an_explicit_null_date_is_refused_too(kind, field):
    with pytest.raises(ValidationError) as raised:
        AssessmentRequest.model_validate(_body({**PROOFS[kind], field: None}))
    assert [e["loc"][-1] for e in raised.value.errors()] == [field]


def test_the_messages_name_field_and_legal_source():
    assert REQUIRED_DATES["ltsd"]["issue_date"] == "an LTSD needs its issue date (issue_date; Implementing Regulation (EU) 2015/2447 Annex 22-16)"
    assert REQUIRED_DATES["supplier_declaration"] == {
        "issue_date": "a supplier's declaration needs its issue date (issue_date; Implementing Regulation (EU) 2015/2447 Annex 22-15)"
    }
    assert REQUIRED_DATES["statement_on_origin"] == {
        "issue_date": "a statement on origin needs the date it was made out (issue_date); its validity runs from that date"
    }


def test_an_ltsd_without_any_date_names_all_three_fields():
    with pytest.raises(ValidationError) as raised:
        AssessmentRequest.model_validate(_body({"type": "ltsd"}))
    assert [e["loc"][-1] for e in raised.value.errors()] == ["issue_date", "valid_from", "valid_until"]


def test_complete_proofs_and_declaration_references_validate(run):
    for proof in PROOFS.values():
        AssessmentRequest.model_validate(_body(proof))
    # a stored declaration supplies its own type and dates (resolved by the API)
    AssessmentRequest.model_validate(_body({"declaration_id": str(uuid.uuid4())}))
    # and each complete proof is used: the material counts as originating
    for kind, proof in PROOFS.items():
        assert run(_body(proof)).materials[0].basis == kind


ROOT = typer.Typer()
ROOT.add_typer(origin_app, name="origin")


def test_cli_exits_2_naming_the_missing_date(tmp_path: Path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(_body(_without("statement_on_origin", "issue_date"))), encoding="utf-8")
    result = CliRunner().invoke(ROOT, ["origin", "check", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (
        "invalid request:\n"
        "  materials[0].proof.issue_date: a statement on origin needs the date it was made out (issue_date); its validity runs from that date\n"
    )


def test_openapi_documents_each_proof_types_required_dates():
    schema = AssessmentRequest.model_json_schema()["$defs"]["Proof"]
    clauses = {clause["if"]["properties"]["type"]["const"]: clause["then"]["required"] for clause in schema["allOf"]}
    assert clauses == {"ltsd": ["issue_date", "valid_from", "valid_until"], "supplier_declaration": ["issue_date"], "statement_on_origin": ["issue_date"]}
    assert {example.get("type") for example in schema["examples"]} == {"ltsd", "supplier_declaration", "statement_on_origin", None}
    for example in schema["examples"]:
        AssessmentRequest.model_validate(_body(example))


@pytest.mark.servers
class TestApi:
    @pytest.mark.parametrize(("kind", "field"), MISSING)
    def test_missing_date_is_422_naming_the_field(self, api, psra_realm, kind, field):
        response = api.post("/v1/origin/calculations", json=_body(_without(kind, field)), headers=psra_realm.headers("alice"))
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "materials", 0, "proof", field]
        assert error["msg"] == REQUIRED_DATES[kind][field]

    def test_openapi_schema_shows_the_required_dates_and_examples(self, api):
        proof = api.app.openapi()["components"]["schemas"]["Proof"]
        assert {clause["if"]["properties"]["type"]["const"] for clause in proof["allOf"]} == set(REQUIRED_DATES)
        assert len(proof["examples"]) == 4
