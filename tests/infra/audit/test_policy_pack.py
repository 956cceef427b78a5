"""The CrossGuard pack runs the audit rules: validate functions called directly, with the
resources shaped as the engine hands them over (decrypted values, unknown-checking proxies)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationArgs
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
)
from pulumi_policy.proxy import unknown_checking_proxy

from infra.audit import RULES
from infra.audit.model import is_secret
from policy.policies import POLICIES, plain
from tests.infra.audit.crafted import compliant_document, container
from tests.infra.audit.rule_cases import CASES

UNKNOWN_BOOLEAN = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
POLICY_BY_NAME = {policy.name: policy for policy in POLICIES}


def _engine_view(value: Any) -> Any:
    """Policies see secrets decrypted (pulumi-policy#241): a placeholder stands in here."""
    if is_secret(value):
        return "decrypted-secret"
    if isinstance(value, dict):
        return {key: _engine_view(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_engine_view(item) for item in value]
    return value


def stack_args(document: dict[str, Any]) -> StackValidationArgs:
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    resources: dict[str, PolicyResource] = {}
    for entry in document["deployment"]["resources"]:
        props = unknown_checking_proxy(deserialize_properties(_engine_view(entry.get("inputs") or {})))
        resources[entry["urn"]] = PolicyResource(
            entry["type"],
            props,
            entry["urn"],
            entry["urn"].rsplit("::", 1)[-1],
            options,
            None,
            resources.get(entry.get("parent", "")),
            [resources[u] for u in entry.get("dependencies", []) if u in resources],
            {},
        )
    return StackValidationArgs(list(resources.values()))


def violations(policy_name: str, document: dict[str, Any]) -> list[tuple[str, str | None]]:
    reported: list[tuple[str, str | None]] = []
    POLICY_BY_NAME[policy_name].validate(stack_args(document), lambda message, urn=None: reported.append((message, urn)))
    return reported


def test_pack_has_one_policy_per_rule_except_the_export_only_ones() -> None:
    assert set(POLICY_BY_NAME) == {rule.id.lower() for rule in RULES if not rule.export_only}
    assert not {"sec-01", "sec-02", "sec-03", "sec-04", "bk-01"} & set(POLICY_BY_NAME)
    assert POLICY_BY_NAME["cr-01"].enforcement_level == EnforcementLevel.MANDATORY
    assert POLICY_BY_NAME["cr-08"].enforcement_level == EnforcementLevel.ADVISORY


def test_compliant_platform_passes_every_policy() -> None:
    document = compliant_document()
    assert {name: violations(name, document) for name in POLICY_BY_NAME if violations(name, document)} == {}


def test_a_violation_is_reported_on_the_resource() -> None:
    for rule_id in ("CR-01", "NW-01", "KC-04", "BAO-03", "TR-05"):
        document = compliant_document()
        urn = CASES[rule_id].fire(document)
        reported = violations(rule_id.lower(), document)
        assert urn in {u for _, u in reported}, (rule_id, reported)
        assert all("(fix: " in message for message, _ in reported)


def test_public_routes_recognised_without_stack_outputs() -> None:
    """The engine's view may lack the stack's `domain` output; routed hostnames stand in."""
    document = compliant_document()
    stack = document["deployment"]["resources"][0]
    stack["outputs"] = {}
    assert violations("tr-05", document) == []


def test_values_unknown_at_preview_are_not_violations() -> None:
    document = compliant_document()
    container(document, "psra-frontend")["inputs"]["privileged"] = UNKNOWN_BOOLEAN
    container(document, "psra-frontend")["inputs"]["capabilities"] = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
    assert violations("cr-01", document) == []
    assert violations("cr-02", document) == []


def test_plain_unwraps_the_engine_proxies() -> None:
    proxied = unknown_checking_proxy({"a": [{"b": UNKNOWN_BOOLEAN}], "c": "d"})
    assert plain(proxied) == {"a": [{"b": UNKNOWN_BOOLEAN}], "c": "d"}
