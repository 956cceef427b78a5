"""The SDK shims of the offline plan change its speed, never its result, and end with the run."""

from __future__ import annotations

import gc

import pulumi
import pytest
from pulumi import _types as pulumi_types
from pulumi.runtime import resource as pulumi_resource_runtime
from pulumi.runtime import rpc as pulumi_rpc

import infra.plan.lean_sdk as lean
from infra.plan.document import dumps
from infra.plan.offline import plan_stack, run_program


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_the_plan_is_byte_identical_with_and_without_the_shims(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lean_document = dumps(plan_stack(stack).document)
    monkeypatch.setattr(lean, "PINNED_PULUMI", "another version")  # the SDK untouched
    assert dumps(plan_stack(stack).document) == lean_document


def sdk() -> tuple[object, ...]:
    """Every SDK function the shims replace, as the SDK has it now."""
    return (
        pulumi_rpc.transfer_properties,
        pulumi_types.unwrap_type,
        pulumi_resource_runtime.create_urn,
        pulumi_resource_runtime._get_stack_trace,
        *(getattr(pulumi_types, name) for name in lean.PER_CLASS),
    )


def test_the_sdk_is_as_shipped_after_a_run_and_within_it_only_on_the_pinned_version(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = sdk()
    seen: list[tuple[tuple[object, ...], bool]] = []

    def program() -> None:
        seen.append((sdk(), gc.isenabled()))

    run_program(program, project="p", stack="s")
    assert all(now is not before for now, before in zip(seen[0][0], shipped, strict=True))
    assert seen[0][1] is False
    assert sdk() == shipped
    assert gc.isenabled()
    monkeypatch.setattr(lean, "PINNED_PULUMI", "another version")
    run_program(program, project="p", stack="s")
    assert seen[1] == (shipped, True)


def test_property_outputs_resolve_to_the_same_values_secrecy_and_dependencies_as_the_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    def program() -> None:
        network = pulumi.CustomResource("docker:index/network:Network", "n", {"name": "net", "labels": None})
        password = pulumi.CustomResource(
            "random:index/randomPassword:RandomPassword", "p", {"length": 8, "result": None},
            opts=pulumi.ResourceOptions(additional_secret_outputs=["result"]),
        )
        pulumi.CustomResource("docker:index/volume:Volume", "v", {"name": network.name, "driver": password.result})  # type: ignore[attr-defined]
        pulumi.export("name", network.name)  # type: ignore[attr-defined]
        pulumi.export("password", password.result)  # type: ignore[attr-defined]

    def outcome() -> tuple[dict, dict]:
        run = run_program(program, project="p", stack="s")
        (volume,) = [r for r in run.registrations if r.name == "v"]
        return run.stack_outputs, {"inputs": volume.inputs, "dependencies": volume.property_dependencies}

    lean_outputs, lean_volume = outcome()
    assert lean_outputs["name"] == "net"
    assert lean_outputs["password"]["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
    assert lean_volume["dependencies"] == {
        "name": ["urn:pulumi:s::p::docker:index/network:Network::n"],
        "driver": ["urn:pulumi:s::p::random:index/randomPassword:RandomPassword::p"],
    }
    monkeypatch.setattr(lean, "PINNED_PULUMI", "another version")
    assert outcome() == (lean_outputs, lean_volume)
