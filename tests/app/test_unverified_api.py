"""UNVERIFIED rules data over HTTP: every result that rests on it carries the warnings in its JSON, and a
deployment with origin.allowUnverifiedRules false (PSRA_ORIGIN_ALLOW_UNVERIFIED_RULES) refuses it with a 422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from tests.app.cases import material, request

pytestmark = pytest.mark.servers

PEM_MOTOR = request("PEM", "850110", "100.00", [material("850300", "CN", "40.00")])
EU_JP_MOTOR = request("EU-JP", "850110", "100.00", [material("850300", "CN", "40.00")])


def test_results_resting_on_unverified_rules_carry_the_warnings(api, psra_realm):
    alice = psra_realm.headers("alice")
    created = api.post("/v1/origin/calculations", json=PEM_MOTOR, headers=alice)
    assert created.status_code == 201, created.text
    result = created.json()["result"]
    assert result["rule"]["unverified"] is True
    assert [warning[:11] for warning in result["warnings"]] == ["UNVERIFIED:", "UNVERIFIED:"]
    assert result["rule"]["legal_text"] == "CTH, except from non-originating materials of heading 85.03; or MaxNOM 50 % (EXW)."
    stored = api.get(f"/v1/origin/calculations/{created.json()['id']}", headers=alice).json()
    assert stored["result"]["warnings"] == result["warnings"]
    verified = api.post("/v1/origin/calculations", json=EU_JP_MOTOR, headers=alice).json()["result"]
    assert verified["warnings"] == [] and verified["rule"]["unverified"] is False


def test_a_deployment_can_refuse_unverified_rules(api, app_settings, psra_realm):
    alice = psra_realm.headers("alice")
    # assessed (and its report cached) where unverified rules are allowed: the strict deployment still refuses it
    assert api.post("/v1/origin/calculations", json=PEM_MOTOR, headers=alice).status_code == 201
    strict = app_settings.model_copy(update={"origin_allow_unverified_rules": False})
    with TestClient(create_app(strict)) as client:
        refused = client.post("/v1/origin/calculations", json=PEM_MOTOR, headers=alice)
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", "agreement"]
        assert error["msg"] == (
            "the rules data for PEM is UNVERIFIED (not compared with the official text) and this deployment refuses unverified rules "
            "(origin.allowUnverifiedRules is false)"
        )
        assert client.post("/v1/origin/calculations", json=EU_JP_MOTOR, headers=alice).status_code == 201
