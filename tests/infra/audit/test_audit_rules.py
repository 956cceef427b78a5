"""Every audit rule fires on its broken platform, naming the right resource, and accepts its
near miss; the compliant platform has no finding at all."""

from __future__ import annotations

import pytest

from infra.audit import RULES, RULES_BY_ID, audit, monitoring, openbao
from infra.audit.model import Finding
from infra.audit.resources import Resources
from infra.plan.document import parse_export
from tests.infra.audit.crafted import compliant_document, container
from tests.infra.audit.rule_cases import CASES
from tests.infra.audit.rule_conditions import ACCEPTED, VIOLATIONS, Accepted, Violation


def findings(document: dict) -> list[Finding]:
    return audit(parse_export(document), "crafted").findings


def rule_findings(document: dict, rule_id: str) -> list[Finding]:
    """One rule's findings only: each rule is tried on its own, so a test covers the code it means to."""
    return RULES_BY_ID[rule_id].check(Resources(parse_export(document)))


def test_rules_are_many_and_drawn_from_the_invariants() -> None:
    families = {rule.family for rule in RULES}
    assert len(RULES) >= 40
    assert families == {"CR", "NW", "HOST", "TLS", "TR", "KC", "BAO", "SEC", "BK", "MON", "DOC"}
    assert all(rule.title and rule.fix and rule.source for rule in RULES)


def test_every_rule_has_a_case() -> None:
    assert sorted(CASES) == sorted(RULES_BY_ID)


def test_compliant_platform_has_no_findings() -> None:
    assert [f"{f.rule} {f.message}" for f in findings(compliant_document())] == []


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_its_violation(rule_id: str) -> None:
    document = compliant_document()
    urn = CASES[rule_id].fire(document)
    fired = rule_findings(document, rule_id)
    assert fired, f"{rule_id} did not fire"
    assert urn in {f.urn for f in fired}, f"{rule_id} named {[f.urn for f in fired]}, expected {urn}"
    assert all(f.severity == RULES_BY_ID[rule_id].severity and f.fix == RULES_BY_ID[rule_id].fix for f in fired)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_accepts_its_near_miss(rule_id: str) -> None:
    document = compliant_document()
    CASES[rule_id].near_miss(document)
    assert [f.message for f in rule_findings(document, rule_id)] == []


def test_every_rule_has_a_near_miss_and_a_case_per_condition() -> None:
    """No rule is tried on one side only: each has a near miss, a message-checked violation and an accepted boundary."""
    assert all(callable(CASES[rule_id].near_miss) for rule_id in RULES_BY_ID)
    assert {v.rule for v in VIOLATIONS} == set(RULES_BY_ID) and {a.rule for a in ACCEPTED} == set(RULES_BY_ID)
    assert len({v.id for v in VIOLATIONS}) == len(VIOLATIONS) and len({a.id for a in ACCEPTED}) == len(ACCEPTED)


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: v.id)
def test_each_condition_gives_its_exact_findings(violation: Violation) -> None:
    document = compliant_document()
    violation.edit(document)
    fired = rule_findings(document, violation.rule)
    assert sorted((f.urn.rsplit("::", 1)[-1], f.message) for f in fired) == sorted(violation.findings)


@pytest.mark.parametrize("accepted", ACCEPTED, ids=lambda a: a.id)
def test_each_boundary_is_accepted(accepted: Accepted) -> None:
    document = compliant_document()
    accepted.edit(document)
    assert [f.message for f in rule_findings(document, accepted.rule)] == []


def test_the_material_selector_names_keys_files_and_properties_never_file_settings() -> None:
    """BAO-07's subjects (built once, at import): env keys but *_FILE ones, file names (not their folders),
    property keys by their last segment and named by their whole path, in inputs and outputs alike."""
    document = compliant_document()
    backup = container(document, "backup")
    backup["inputs"]["envs"] += ["BAO_UNSEAL_KEY_FILE=/run/secrets/keys", "RECOVERY_KEYS=x"]
    backup["inputs"]["uploads"] += [
        {"file": "/etc/unseal/config.json", "content": "{}"},
        {"file": "/run/secrets/unseal-keys.json", "content": "{}"},
        {"file": "notes.txt", "content": "x"},
    ]
    realm = next(r for r in document["deployment"]["resources"] if r["type"].endswith("realm:Realm"))
    realm["inputs"]["config"] = {"unseal": {"enabled": True}}
    realm["outputs"]["seal"] = {"unsealKeys": ["x"], "shares": [{"keySharesB64": "x"}]}
    found = openbao._material(openbao.UNSEAL_MATERIAL)(Resources(parse_export(document)))
    assert sorted((location.urn.rsplit("::", 1)[-1], location.where) for location in found) == [
        ("backup-container", "env RECOVERY_KEYS"),
        ("backup-container", "file /run/secrets/unseal-keys.json"),
        ("realm", "property config.unseal"),
        ("realm", "property seal.shares.0.keySharesB64"),
        ("realm", "property seal.unsealKeys"),
    ]


def test_a_required_alert_check_names_each_missing_alert() -> None:
    """MON-*'s checks (built once, at import): one message per wanted alert no declared alert matches."""
    resources = Resources(parse_export(compliant_document()))
    prometheus = resources.with_role("prometheus")[0]
    check = monitoring._requires(("named Watchdog", lambda a: a.get("alert") == "Watchdog"), ("named Nothing", lambda a: False), ("x", bool))
    assert list(check(prometheus, resources)) == ["Prometheus prometheus has no alert named Nothing"]


def test_unknown_values_are_not_violations() -> None:
    """A value unknown at preview (fact 4) is skipped, not reported."""
    document = compliant_document()
    container(document, "psra-frontend")["inputs"]["privileged"] = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
    container(document, "psra-frontend")["inputs"]["memory"] = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
    assert [f.rule for f in findings(document) if "psra-frontend" in f.urn] == []


def test_secret_findings_never_show_the_value() -> None:
    document = compliant_document()
    CASES["SEC-01"].fire(document)
    CASES["SEC-03"].fire(document)
    CASES["SEC-04"].fire(document)
    messages = " ".join(f.message for f in findings(document))
    assert "hunter2" not in messages
    assert "POSTGRES_PASSWORD" in messages


def test_an_openbao_provider_holding_a_token_is_a_root_token_finding() -> None:
    """BAO-04 also covers Pulumi's own access: providers log in as the provisioner, they hold no token."""
    document = compliant_document()
    resources = document["deployment"]["resources"]
    stack = next(r for r in resources if r["type"] == "pulumi:pulumi:Stack")
    urn = stack["urn"].replace("pulumi:pulumi:Stack", "pulumi:providers:vault").rsplit("::", 1)[0] + "::static-token"
    token = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:crafted:x"}
    resources.append({"urn": urn, "custom": True, "type": "pulumi:providers:vault", "inputs": {"address": "http://openbao:8200", "token": token}})
    fired = [f for f in findings(document) if f.rule == "BAO-04"]
    assert [(f.urn, f.message) for f in fired] == [(urn, "found in provider input token")]
