"""The SDK shims of the offline plan change its speed, never its result, and end with the run."""

from __future__ import annotations

import asyncio
import enum
import gc
import inspect
import logging
import sys
import threading
import types
import typing

import pulumi
import pulumi_docker
import pulumi_vault
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi import _types as pulumi_types
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource_runtime
from pulumi.runtime import rpc as pulumi_rpc

import infra.plan.lean_sdk as lean
from infra.plan.document import SECRET_SIG, SECRET_VALUE, dumps
from infra.plan.offline import PlanMocks, mock_secret, plan_stack, run_program, struct_values


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_the_plan_is_byte_identical_with_and_without_the_shims(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lean_document = dumps(plan_stack(stack).document)
    monkeypatch.setattr(lean, "PINNED_PULUMI", "another version")  # the SDK untouched
    assert dumps(plan_stack(stack).document) == lean_document


def sdk() -> tuple[object, ...]:
    """Every SDK function the shims replace, as the SDK has it now."""
    return (
        pulumi_rpc.transfer_properties,
        pulumi_rpc.serialize_property,
        pulumi_rpc.contains_unknowns,
        pulumi_rpc.deserialize_properties,
        pulumi_types.unwrap_type,
        pulumi_resource_runtime.create_urn,
        pulumi_resource_runtime._get_stack_trace,
        pulumi_types._types_from_py_properties,
        pulumi_types.resource_types,
        pulumi.log.debug,
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



def test_what_a_run_made_joins_the_oldest_generation_instead_of_filling_the_youngest() -> None:
    """No collection during the run; after it, no young collection that walks all the run made."""
    made: list[list[int]] = []
    run_program(lambda: made.append([1]), project="p", stack="s")
    assert any(obj is made[0] for obj in gc.get_objects(generation=2))
    assert not any(obj is made[0] for obj in gc.get_objects(generation=0))

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



class EchoMocks(PlanMocks):
    """The plan's mocks, but for the resource named `converted` an output only the SDK's serializer
    converts (a tuple); records the thread each registration runs on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        self.threads.add(threading.get_ident())
        id_, outputs = super().new_resource(args)
        if args.name == "converted":
            outputs["pair"] = ("a", 1)
        return id_, outputs


def _registering(token: str, name: str, props: dict) -> pulumi.CustomResource:
    """A resource whose every property the stack exports, as the program reads it back."""
    resource = pulumi.CustomResource(token, name, props)
    pulumi.export(name, pulumi.Output.all(**{key: getattr(resource, key) for key in props}))
    return resource


def test_the_mock_monitor_answers_every_kind_of_value_as_the_sdks_own_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    def program() -> None:
        password = pulumi.CustomResource(
            "random:index/randomPassword:RandomPassword", "p", {"length": 12, "result": None},
            opts=pulumi.ResourceOptions(additional_secret_outputs=["result"]),
        )
        secret = password.result  # type: ignore[attr-defined]
        mixed = _registering("docker:index/container:Container", "mixed", {
            "envs": ["PLAIN=1", secret.apply(lambda value: f"KEY={value}")],
            "labels": [{"label": "a", "value": secret}, {"label": "b", "value": None}],
            "healthcheck": {"tests": ["CMD", "true"], "retries": 3, "interval": 1.5, "gone": None, "on": True},
            "ports": [None, {"internal": 80}],
            "image": None,
        })
        _registering("docker:index/image:Image", "asset", {"build": pulumi.StringAsset("FROM scratch")})
        _registering("docker:index/volume:Volume", "reference", {"driver": mixed, "name": "v"})
        _registering("docker:index/network:Network", "converted", {"name": "n", "pair": None})

    def outcome() -> tuple[dict, list]:
        mocks = EchoMocks()
        run = run_program(program, project="p", stack="s", mocks=mocks)
        assert mocks.threads == {threading.get_ident()}  # the monitor answers on the loop's thread
        return run.stack_outputs, sorted((r.urn, r.inputs, r.outputs, r.property_dependencies) for r in run.registrations)

    lean_outputs, lean_registrations = outcome()
    mixed = next(outputs for urn, _, outputs, _ in lean_registrations if urn.endswith("::mixed"))
    password = mock_secret("p", "random:index/randomPassword:RandomPassword.result")
    assert mixed["envs"] == {SECRET_SIG: SECRET_VALUE, "value": ["PLAIN=1", f"KEY={password}"]}  # a list holding a secret is one
    assert mixed["labels"] == {SECRET_SIG: SECRET_VALUE, "value": [{"label": "a", "value": password}, {"label": "b"}]}
    assert mixed["healthcheck"] == {"tests": ["CMD", "true"], "retries": 3, "interval": 1.5, "on": True}  # nulls dropped
    assert mixed["ports"] == [None, {"internal": 80}]
    assert "image" not in mixed
    assert lean_outputs["converted"]["pair"] == ["a", 1]
    monkeypatch.setattr(lean, "PINNED_PULUMI", "another version")
    assert outcome() == (lean_outputs, lean_registrations)



class Getters(pulumi.CustomResource):
    """Getters the SDK's table leaves out: `Output` without a type."""

    @property
    @pulumi.getter(name="kept")
    def kept(self) -> pulumi.Output[str]: ...

    @property
    @pulumi.getter(name="bare")
    def bare(self) -> pulumi.Output: ...  # type: ignore[type-arg]


class MoreGetters(Getters):
    """The same Pulumi names again: one without a return type (the base's stays), one typed."""

    @property
    @pulumi.getter(name="kept")
    def kept_again(self): ...  # type: ignore[no-untyped-def]

    @property
    @pulumi.getter(name="bare")
    def bare_again(self) -> pulumi.Output[int]: ...


@pytest.mark.parametrize(
    "cls",
    [Getters, MoreGetters, pulumi_docker.Container, pulumi_docker.ContainerPortArgs, pulumi_docker.outputs.ContainerHealthcheck, pulumi_vault.database.SecretsMount, pulumi.CustomResource],
)
def test_type_tables_read_one_property_at_a_time_hold_what_the_sdks_whole_tables_hold(cls: type) -> None:
    shipped_properties, shipped_resource = pulumi_types._types_from_py_properties, pulumi_types.resource_types
    with lean.lean_sdk():
        lazy = lean.PropertyTypes(cls)
        first = next(iter(shipped_properties(cls)), None)
        if first is not None:  # one property read before the table is whole: its type alone
            assert lazy[first] == shipped_properties(cls)[first] and len(lazy._known) == 1
        assert "no such property" not in lazy and lazy.get("no such property") is None
        assert dict(lazy) == shipped_properties(cls)
        if issubclass(cls, Getters):
            assert lazy["kept"] is str and lazy.get("bare") is {MoreGetters: int}.get(cls)
        if issubclass(cls, pulumi.Resource):
            assert dict(lean.ResourceTypes(cls)) == shipped_resource(cls)


def _getters_module(name: str, target: str, monkeypatch: pytest.MonkeyPatch) -> type:
    """A module whose `Target` is `target`'s type, with a class whose getter returns `Output['Target']`."""
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(  # noqa: S102 - the test's own source
        f"import pulumi\nTarget = {target}\n"
        "class Holder(pulumi.CustomResource):\n"
        "    @property\n"
        "    @pulumi.getter(name='value')\n"
        "    def value(self) -> pulumi.Output['Target']: ...\n",
        module.__dict__,
    )
    return module.Holder


def test_a_return_hint_worked_out_once_is_shared_only_by_classes_of_the_same_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Output['Target']` is one annotation object in both modules (typing caches it), with two meanings."""
    texts, numbers, more_texts = (_getters_module(f"lean_hints_{n}", t, monkeypatch) for n, t in (("a", "str"), ("b", "int"), ("a", "str")))
    with lean.lean_sdk():
        assert lean.PropertyTypes(texts)["value"] is str
        assert lean.PropertyTypes(numbers)["value"] is int
        assert lean.PropertyTypes(more_texts)["value"] is str
        assert pulumi_types._types_from_py_properties(numbers) == {"value": int}
    assert lean._RETURN_HINTS[texts.value.fget.__annotations__["return"]][lean.PropertyTypes(texts)._modules] == pulumi.Output[str]


def test_a_return_hint_that_reads_no_global_is_worked_out_once_for_classes_of_any_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi.Input[str]` holds a forward reference, `'Output[T]'`, that the SDK's locals resolve."""
    holders = [_getters_module(f"lean_locals_{n}", "int", monkeypatch) for n in "ab"]
    for holder in holders:  # as a provider declares it: evaluated where it is written
        monkeypatch.setattr(holder.value.fget, "__annotations__", {"return": typing.Optional[pulumi.Input[str]]})
    worked_out: list[object] = []
    shipped = typing.get_type_hints
    monkeypatch.setattr(typing, "get_type_hints", lambda getter, **scopes: worked_out.append(getter) or shipped(getter, **scopes))
    with lean.lean_sdk():
        hints = [lean.PropertyTypes(holder)["value"] for holder in holders]
    assert len(worked_out) == 1
    assert hints == [pulumi_types._types_from_py_properties(holder)["value"] for holder in holders] == [str, str]
    assert not lean._reads_globals(pulumi.Input[str]) and lean._reads_globals(pulumi.Output["Target"])


class Colour(str, enum.Enum):
    RED = "red"


def test_plain_values_serialize_as_the_sdk_serializes_them_and_the_shim_takes_the_sdks_arguments() -> None:
    shipped = pulumi_rpc.serialize_property
    values = ["text", "", 3, 2.5, True, None, Colour.RED, [1, "a"], {"key": ["v", None]}]

    async def serialize_all(serialize: object) -> list[object]:
        deps: list[pulumi.Resource] = []
        return [
            *[await serialize(value, deps, "key") for value in values],  # type: ignore[operator]
            *[await serialize(value, deps, "key", None, None, None, False, False, True) for value in ("text", 3, None)],  # type: ignore[operator]
        ]

    def serialized() -> list[object]:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(serialize_all(pulumi_rpc.serialize_property))
        finally:
            loop.close()

    expected = serialized()
    with lean.lean_sdk():
        shim = pulumi_rpc.serialize_property
        assert shim is not shipped
        assert serialized() == expected
    assert [(p.name, p.kind, p.default) for p in inspect.signature(shim).parameters.values()] == [
        (p.name, p.kind, p.default) for p in inspect.signature(shipped).parameters.values()
    ]
    assert expected[:7] == ["text", "", 3, 2.5, True, None, "red"] and isinstance(expected[-1], struct_pb2.Value)


def test_a_plain_value_holds_no_unknown_and_any_other_is_asked_of_the_sdk() -> None:
    unknown = pulumi.output.UNKNOWN
    values = ["text", 3, 2.5, False, None, Colour.RED, unknown, [1, unknown], {"a": {"b": unknown}}, {"a": [1]}]
    expected = [pulumi_rpc.contains_unknowns(value) for value in values]
    with lean.lean_sdk():
        assert [pulumi_rpc.contains_unknowns(value) for value in values] == expected
    assert expected == [False] * 6 + [True] * 3 + [False]


def test_debug_messages_reach_a_mock_engine_logger_that_takes_them_and_are_not_made_for_one_that_drops_them(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[str] = []
    request = pulumi_mocks.engine_pb2.LogRequest
    monkeypatch.setattr(pulumi_mocks.engine_pb2, "LogRequest", lambda **fields: made.append(fields["message"]) or request(**fields))

    def program() -> None:  # the plan's mock engine logs to the root logger
        for level in (logging.WARNING, logging.DEBUG, logging.WARNING):
            logging.getLogger().setLevel(level)
            pulumi.log.debug(f"at {logging.getLevelName(level)}")

    with caplog.at_level(logging.DEBUG):
        run_program(program, project="p", stack="s")
    logged = [record.getMessage() for record in caplog.records]
    assert [message for message in made if message.startswith("at ")] == [message for message in logged if message.startswith("at ")] == ["at DEBUG"]


def _typed(value: object) -> object:
    """`value` with the type of every scalar in it (3 and 3.0 differ)."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return type(value).__name__, value


def test_a_struct_reads_as_json_formats_dict_of_it() -> None:
    struct = struct_pb2.Struct()
    struct.update({"s": "text", "n": 3, "f": 2.5, "b": False, "z": None, "l": [1, "a", None, [True], {"k": {}}], "m": {"x": {"y": [0.1]}}, "e": {}, "el": []})
    values = struct_values(struct)
    assert _typed(values) == _typed(json_format.MessageToDict(struct)) and list(values) == list(json_format.MessageToDict(struct))
    assert struct_values(struct_pb2.Struct()) == {}
    struct["inf"] = float("inf")
    with pytest.raises(ValueError, match="Infinity"):
        struct_values(struct)


def test_a_response_is_read_from_the_monitors_json_values_as_the_sdk_reads_its_struct() -> None:
    shipped = pulumi_rpc.deserialize_properties
    compared: list[bool] = []

    def program() -> None:
        shim = pulumi_rpc.deserialize_properties  # the run puts the shipped one back after it

        def checked(struct: struct_pb2.Struct, keep_unknowns: object = None, keep_internal: object = True) -> object:
            noted = id(struct) in lean._READ
            ours = shim(struct, keep_unknowns, keep_internal)
            if noted:
                compared.append(_typed(ours) == _typed(shipped(struct, keep_unknowns, keep_internal)))
            return ours

        pulumi_rpc.deserialize_properties = checked
        password = pulumi.CustomResource(
            "random:index/randomPassword:RandomPassword", "p", {"length": 12, "result": None},
            opts=pulumi.ResourceOptions(additional_secret_outputs=["result"]),
        )
        _registering("docker:index/container:Container", "c", {
            "envs": ["PLAIN=1", password.result.apply(lambda value: f"KEY={value}")],  # type: ignore[attr-defined]
            "labels": [{"label": "a", "value": password.result}, {"label": "b", "value": None}],  # type: ignore[attr-defined]
            "healthcheck": {"tests": ["CMD", "true"], "retries": 3, "interval": 1.5, "gone": None, "on": True},
            "ports": [None, {"internal": 80}],
            "image": None,
        })

    run_program(program, project="p", stack="s")
    assert len(compared) == 2 and all(compared)
    assert pulumi_rpc.deserialize_properties is shipped
    assert not lean._READ
