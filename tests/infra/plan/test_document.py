"""The offline plan document has the shape of `pulumi stack export` and is deterministic."""

from __future__ import annotations

import json

import pulumi
import pulumi_random as random

from infra.plan.document import (
    SECRET_SIG,
    SECRET_VALUE,
    build_export,
    dumps,
    parse_export,
)
from infra.plan.offline import run_program
from tests.harness import plan_config, plan_function

URN_PREFIX = "urn:pulumi:prod::platform::"


def test_document_shape(prod_plan) -> None:
    document = prod_plan.document
    assert document["version"] == 3
    assert set(document["deployment"]) >= {"manifest", "resources"}
    for resource in document["deployment"]["resources"]:
        assert {"urn", "custom", "type", "inputs", "outputs", "dependencies"} <= set(resource)
        assert resource["urn"].startswith(URN_PREFIX)
        if resource["type"] != "pulumi:pulumi:Stack":
            assert resource["parent"].startswith(URN_PREFIX)
        if resource["custom"] and not resource["type"].startswith("pulumi:providers:"):
            provider_urn, provider_id = resource["provider"].rsplit("::", 1)
            assert provider_urn.startswith(URN_PREFIX + "pulumi:providers:")
            assert provider_id


def test_urns_carry_the_parent_type_chain(prod_plan) -> None:
    network = prod_plan.get("docker:index/network:Network", "networks-psra-net")
    assert network.urn == URN_PREFIX + "sevensa:platform:Networks$docker:index/network:Network::networks-psra-net"
    assert network.parent == URN_PREFIX + "sevensa:platform:Networks::networks"


def test_resources_come_after_their_parents_and_dependencies(prod_plan) -> None:
    seen: set[str] = set()
    for resource in prod_plan.document["deployment"]["resources"]:
        for before in [resource.get("parent"), *resource["dependencies"]]:
            assert before is None or before in seen, (resource["urn"], before)
        if resource.get("provider"):
            assert resource["provider"].rsplit("::", 1)[0] in seen
        seen.add(resource["urn"])


def test_two_runs_are_byte_identical() -> None:
    assert dumps(plan_config(stack="prod").document) == dumps(plan_config(stack="prod").document)


def test_every_seed_network_is_a_docker_network_with_its_subnet(prod_plan) -> None:
    by_name = {r.inputs["name"]: r.inputs for r in prod_plan.of_type("docker:index/network:Network")}
    assert by_name["psra-db-net"]["ipamConfigs"][0]["subnet"] == "172.20.4.0/24"
    assert by_name["psra-db-net"]["internal"] is True
    assert by_name["traefik-net"]["internal"] is False


def test_secrets_are_sealed_in_the_envelope_and_never_plaintext() -> None:
    def program() -> None:
        password = random.RandomPassword("db-password", length=32)
        pulumi.export("connection", pulumi.Output.concat("postgres://psra:", password.result, "@db"))

    planned = plan_function(program)
    text = json.dumps(planned.document)
    resource = planned.get("random:index/randomPassword:RandomPassword", "db-password")
    sealed = resource.outputs["result"]
    assert sealed[SECRET_SIG] == SECRET_VALUE and sealed["ciphertext"].startswith("v1:")
    stack = next(r for r in planned.resources if r.type == "pulumi:pulumi:Stack")
    assert stack.outputs["connection"][SECRET_SIG] == SECRET_VALUE
    assert "postgres://psra:" not in text
    assert "mock-" not in text  # no stand-in secret value leaks anywhere


def test_secret_config_stays_secret() -> None:
    run = run_program(
        lambda: pulumi.export("token", pulumi.Config("platform").require_secret("rootToken")),
        project="p",
        stack="s",
        config={"platform:rootToken": "s3cr3t-root"},
        secret_keys=["platform:rootToken"],
    )
    document = build_export(run)
    assert "s3cr3t-root" not in json.dumps(document)
    stack = parse_export(document)[0]
    assert stack.outputs["token"][SECRET_SIG] == SECRET_VALUE


def test_runs_are_isolated_from_each_other() -> None:
    first = plan_function(lambda: random.RandomId("one", byte_length=8))
    second = plan_function(lambda: random.RandomId("two", byte_length=8))
    assert [r.name for r in first.of_type("random:index/randomId:RandomId")] == ["one"]
    assert [r.name for r in second.of_type("random:index/randomId:RandomId")] == ["two"]
