"""The export document built from a plan run, value for value: every secret sealed into Pulumi's
envelope (a keyed hash, never the value), outputs secret where their input was or where the
resource says so, default providers, the fixed manifest and the resource order.

The run is made by hand (no program, no mocks) so the whole document can be compared at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pulumi
import pytest
from pulumi.runtime import rpc

from infra.plan.document import SECRET_SIG, SECRET_VALUE, _ordered, _Sealer, build_export, dumps, is_secret
from infra.plan.offline import plan_stack
from infra.plan.record import PlanRun, Registration

STACK_URN = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
PASSWORD_URN = f"urn:pulumi:dev::proj::{PASSWORD_TYPE}::pw"
COMPONENT_URN = "urn:pulumi:dev::proj::my:app:Component::app"
NETWORK_URN = "urn:pulumi:dev::proj::my:app:Component$docker:index/network:Network::net"
DOCKER_PROVIDER_URN = "urn:pulumi:dev::proj::pulumi:providers:docker::remote"
RANDOM_PROVIDER_URN = "urn:pulumi:dev::proj::pulumi:providers:random::default_4_16_0"
RANDOM_PROVIDER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, RANDOM_PROVIDER_URN))
VOLUME_URN = "urn:pulumi:dev::proj::docker:index/volume:Volume::data"
VOLUME_PROVIDER_URN = "urn:pulumi:dev::proj::pulumi:providers:docker::default"
VOLUME_PROVIDER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, VOLUME_PROVIDER_URN))


def wire(value):
    """A secret as the program registers it (Pulumi's wire form)."""
    return {SECRET_SIG: SECRET_VALUE, "value": value}


def envelope(value, stack: str = "dev"):
    """A secret as the export holds it: the keyed hash documented in `infra.plan.document`."""
    key = hashlib.sha256(f"offline-plan:{stack}".encode()).digest()
    digest = hmac.new(key, json.dumps(value, sort_keys=True).encode(), hashlib.sha256).digest()
    return {SECRET_SIG: SECRET_VALUE, "ciphertext": "v1:offline-plan:" + base64.b64encode(digest).decode()}


def test_the_envelope_signature_is_pulumis() -> None:
    assert (SECRET_SIG, SECRET_VALUE) == (rpc._special_sig_key, rpc._special_secret_sig)


@pytest.mark.parametrize(
    "value",
    [wire("x"), {SECRET_SIG: SECRET_VALUE, "ciphertext": "v1:abc"}, {SECRET_SIG: SECRET_VALUE}],
)
def test_is_secret_recognises_the_envelope(value) -> None:
    assert is_secret(value) is True


@pytest.mark.parametrize(
    "value",
    [
        {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44271", "value": "x"},  # another signature value (an asset, say)
        {SECRET_SIG: None, "value": "x"},
        {"value": "x"},
        {},
        [SECRET_SIG, SECRET_VALUE],
        f"{SECRET_SIG}={SECRET_VALUE}",
        None,
    ],
)
def test_is_secret_near_misses(value) -> None:
    assert is_secret(value) is False


def test_the_ciphertext_is_a_keyed_hash_per_stack_and_value() -> None:
    sealer = _Sealer("dev")
    assert sealer.ciphertext("hunter2") == "v1:offline-plan:r0Pxo2TainDElixZqVbltMWqTTSwGABbG3AwqvikVEs="
    assert sealer.ciphertext("hunter2") == envelope("hunter2")["ciphertext"]
    assert _Sealer("prod").ciphertext("hunter2") == envelope("hunter2", "prod")["ciphertext"] != sealer.ciphertext("hunter2")
    assert sealer.ciphertext("hunter3") != sealer.ciphertext("hunter2")
    assert sealer.ciphertext({"b": 1, "a": 2}) == sealer.ciphertext({"a": 2, "b": 1}) == envelope({"a": 2, "b": 1})["ciphertext"]


def test_seal_replaces_every_secret_at_any_depth_and_keeps_the_rest() -> None:
    value = {"plain": "x", "n": 3, "flag": None, "secret": wire("s1"), "list": ["a", wire("s2"), {"deep": wire({"k": "s3"})}]}
    assert _Sealer("dev").seal(value) == {
        "plain": "x",
        "n": 3,
        "flag": None,
        "secret": envelope("s1"),
        "list": ["a", envelope("s2"), {"deep": envelope({"k": "s3"})}],
    }
    assert _Sealer("dev").seal(wire("s1")) == envelope("s1")
    assert _Sealer("dev").seal("s1") == "s1"


def test_a_secret_is_sealed_whole_not_its_inside() -> None:
    """A secret holding a mapping becomes one envelope; its keys are not walked into plaintext."""
    sealed = _Sealer("dev").seal(wire({"user": "u", "password": "p"}))
    assert sealed == envelope({"user": "u", "password": "p"})
    assert set(sealed) == {SECRET_SIG, "ciphertext"}


def test_an_unsealed_sealer_keeps_the_wire_form_for_the_lab() -> None:
    value = {"secret": wire("s1"), "list": [wire("s2")], "plain": "x"}
    assert _Sealer("dev", sealed=False).seal(value) == value
    assert _Sealer("dev", sealed=True).seal(value) != value


def registration(**fields) -> Registration:
    defaults = {"urn": PASSWORD_URN, "type": PASSWORD_TYPE, "name": "pw", "custom": True, "parent": "", "provider": "", "id": "pw-id"}
    return Registration(**{**defaults, **fields})


def test_outputs_are_secret_where_the_input_was_or_the_resource_declares_them() -> None:
    reg = registration(
        inputs={"length": 16, "overrideSpecial": wire("!@")},
        outputs={"length": 16, "overrideSpecial": "!@", "result": "p4ss", "already": wire("a"), "special": True},
        additional_secret_outputs=["result", "already"],
    )
    assert _Sealer("dev").seal_outputs(reg) == {
        "length": 16,
        "overrideSpecial": envelope("!@"),
        "result": envelope("p4ss"),
        "already": envelope("a"),
        "special": True,
    }
    assert _Sealer("dev", sealed=False).seal_outputs(reg) == {
        "length": 16,
        "overrideSpecial": wire("!@"),
        "result": wire("p4ss"),
        "already": wire("a"),
        "special": True,
    }


def plan_run() -> PlanRun:
    return PlanRun(
        project="proj",
        stack="dev",
        stack_outputs={"url": "https://app.example.org", "token": wire("root-token")},
        registrations=[
            registration(
                inputs={"length": 16, "keepers": {"salt": wire("pepper")}},
                # the SDK hoists a nested secret: the provider's output of `keepers` is secret whole
                outputs={"length": 16, "result": "p4ss", "keepers": wire({"salt": "pepper"})},
                additional_secret_outputs=["result"],
                version="4.16.0",
            ),
            registration(urn=COMPONENT_URN, type="my:app:Component", name="app", custom=False, id="", inputs={}, outputs={"ready": True}),
            registration(
                urn=DOCKER_PROVIDER_URN, type="pulumi:providers:docker", name="remote", id="prov-1",
                inputs={"host": "ssh://deploy@host"}, outputs={"host": "ssh://deploy@host"},
            ),
            registration(
                urn=NETWORK_URN, type="docker:index/network:Network", name="net", parent=COMPONENT_URN,
                provider=f"{DOCKER_PROVIDER_URN}::prov-1", id="net-id",
                inputs={"name": "app-net"}, outputs={"name": "app-net"},
                dependencies=[PASSWORD_URN], property_dependencies={"name": [PASSWORD_URN]},
                delete_before_replace=True, protect=True,
            ),
            registration(urn=VOLUME_URN, type="docker:index/volume:Volume", name="data", id="data", inputs={"name": "data"}, outputs={"name": "data"}),
        ],
    )


def test_the_built_document_value_for_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Order: the stack, then whatever is ready with the smallest URN (`my:` before `pulumi:`),
    each resource after its parent, provider and dependencies."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    document = build_export(plan_run())
    assert document == {
        "version": 3,
        "deployment": {
            "manifest": {
                "time": "1970-01-01T00:00:00Z",
                "magic": hashlib.sha256(b"proj:dev").hexdigest(),
                "version": "offline-plan",
            },
            "secrets_providers": {
                "type": "offline-plan",
                "state": {"note": "plan ciphertexts are keyed hashes of stand-in values; nothing here decrypts"},
            },
            "resources": [
                {
                    "urn": STACK_URN, "custom": False, "type": "pulumi:pulumi:Stack", "inputs": {},
                    "outputs": {"url": "https://app.example.org", "token": envelope("root-token")}, "dependencies": [],
                },
                {
                    "urn": COMPONENT_URN, "custom": False, "type": "my:app:Component",
                    "inputs": {}, "outputs": {"ready": True}, "parent": STACK_URN, "dependencies": [],
                },
                {
                    "urn": VOLUME_PROVIDER_URN, "custom": True, "id": VOLUME_PROVIDER_ID, "type": "pulumi:providers:docker",
                    "inputs": {"version": ""}, "outputs": {"version": ""}, "parent": STACK_URN, "dependencies": [],
                },
                {
                    "urn": VOLUME_URN, "custom": True, "type": "docker:index/volume:Volume", "id": "data",
                    "inputs": {"name": "data"}, "outputs": {"name": "data"}, "parent": STACK_URN, "dependencies": [],
                    "provider": f"{VOLUME_PROVIDER_URN}::{VOLUME_PROVIDER_ID}",
                },
                {
                    "urn": DOCKER_PROVIDER_URN, "custom": True, "type": "pulumi:providers:docker", "id": "prov-1",
                    "inputs": {"host": "ssh://deploy@host"}, "outputs": {"host": "ssh://deploy@host"},
                    "parent": STACK_URN, "dependencies": [],
                },
                {
                    "urn": RANDOM_PROVIDER_URN, "custom": True, "id": RANDOM_PROVIDER_ID, "type": "pulumi:providers:random",
                    "inputs": {"version": "4.16.0"}, "outputs": {"version": "4.16.0"}, "parent": STACK_URN, "dependencies": [],
                },
                {
                    "urn": PASSWORD_URN, "custom": True, "type": PASSWORD_TYPE, "id": "pw-id",
                    "inputs": {"length": 16, "keepers": {"salt": envelope("pepper")}},
                    "outputs": {"length": 16, "result": envelope("p4ss"), "keepers": envelope({"salt": "pepper"})},
                    "parent": STACK_URN, "dependencies": [], "provider": f"{RANDOM_PROVIDER_URN}::{RANDOM_PROVIDER_ID}",
                },
                {
                    "urn": NETWORK_URN, "custom": True, "type": "docker:index/network:Network", "id": "net-id",
                    "inputs": {"name": "app-net"}, "outputs": {"name": "app-net"}, "parent": COMPONENT_URN,
                    "dependencies": [PASSWORD_URN], "propertyDependencies": {"name": [PASSWORD_URN]},
                    "provider": f"{DOCKER_PROVIDER_URN}::prov-1", "deleteBeforeReplace": True, "protect": True,
                },
            ],
        },
    }


def test_no_secret_value_is_anywhere_in_the_sealed_document() -> None:
    text = dumps(build_export(plan_run()))
    for plaintext in ("root-token", "pepper", "p4ss"):
        assert plaintext not in text
    assert text.count(SECRET_VALUE) == 4


def test_the_lab_document_keeps_the_wire_form() -> None:
    resources = {r["urn"]: r for r in build_export(plan_run(), sealed=False)["deployment"]["resources"]}
    assert resources[STACK_URN]["outputs"]["token"] == wire("root-token")
    assert resources[PASSWORD_URN]["outputs"]["result"] == wire("p4ss")
    assert resources[PASSWORD_URN]["inputs"]["keepers"] == {"salt": wire("pepper")}


def test_the_manifest_time_is_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert build_export(plan_run())["deployment"]["manifest"]["time"] == "2023-11-14T22:13:20Z"


def test_the_manifest_time_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert build_export(plan_run())["deployment"]["manifest"]["time"] == "2023-11-14T22:13:20Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_manifest_names_the_sdk_version_when_it_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi, "__version__", "3.150.0", raising=False)
    assert build_export(plan_run())["deployment"]["manifest"]["version"] == "v3.150.0"


def test_a_provider_less_resource_without_version_gets_the_plain_default_provider() -> None:
    run = PlanRun(project="proj", stack="dev", stack_outputs={}, registrations=[registration(urn=VOLUME_URN, type="docker:index/volume:Volume", name="data", id="data")])
    resources = build_export(run)["deployment"]["resources"]
    assert [r["urn"] for r in resources] == [STACK_URN, VOLUME_PROVIDER_URN, VOLUME_URN]
    assert resources[2]["provider"] == f"{VOLUME_PROVIDER_URN}::{VOLUME_PROVIDER_ID}"


def test_one_default_provider_serves_every_resource_of_its_package_and_version() -> None:
    run = PlanRun(
        project="proj",
        stack="dev",
        stack_outputs={},
        registrations=[registration(version="4.16.0"), registration(urn=PASSWORD_URN + "2", name="pw2", version="4.16.0"), registration(urn=PASSWORD_URN + "3", name="pw3", version="4.17.1")],
    )
    resources = build_export(run)["deployment"]["resources"]
    providers = [r["urn"] for r in resources if r["type"] == "pulumi:providers:random"]
    assert providers == [RANDOM_PROVIDER_URN, "urn:pulumi:dev::proj::pulumi:providers:random::default_4_17_1"]


def entry(urn: str, *dependencies: str, parent: str = "", provider: str = "") -> dict:
    return {"urn": urn, "dependencies": list(dependencies), "parent": parent, **({"provider": provider} if provider else {})}


def urns(entries: list[dict]) -> list[str]:
    return [e["urn"] for e in _ordered({e["urn"]: e for e in entries})]


def test_the_order_is_topological_with_the_smallest_ready_urn_first() -> None:
    assert urns([entry("d"), entry("c"), entry("b"), entry("a")]) == ["a", "b", "c", "d"]
    assert urns([entry("a", "c"), entry("b"), entry("c")]) == ["b", "c", "a"]
    assert urns([entry("a", parent="z"), entry("z")]) == ["z", "a"]
    assert urns([entry("a", provider="y::prov-id"), entry("y")]) == ["y", "a"]


def test_a_resource_waits_for_all_it_depends_on() -> None:
    assert urns([entry("a", "b", "c"), entry("b", "d"), entry("c"), entry("d", "e"), entry("e")]) == ["c", "e", "d", "b", "a"]
    assert urns([entry("a", "c", parent="b", provider="d::1"), entry("b"), entry("c"), entry("d")]) == ["b", "c", "d", "a"]


def test_references_outside_the_document_and_to_itself_do_not_block() -> None:
    assert urns([entry("a", "a", "missing", parent="gone", provider="absent::1"), entry("b")]) == ["a", "b"]


def test_an_entry_without_dependencies_waits_only_for_its_parent() -> None:
    assert urns([{"urn": "a", "parent": "b"}, entry("b")]) == ["b", "a"]


def test_a_dependency_cycle_is_refused_with_its_members() -> None:
    with pytest.raises(ValueError) as error:
        urns([entry("a", "b"), entry("b", "a"), entry("c", "a"), entry("d")])
    assert str(error.value) == "dependency cycle among ['a', 'b', 'c']"


def test_dumps_is_sorted_indented_and_ends_with_a_newline() -> None:
    assert dumps({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{\n  "a": [\n    1,\n    {\n      "c": 3,\n      "d": 2\n    }\n  ],\n  "b": 1\n}\n'


@pytest.mark.parametrize("stack", ["prod", "dev", "lab"])
def test_dumps_writes_the_standard_librarys_bytes_for_every_stacks_plan(stack: str) -> None:
    """orjson replaced `json.dumps(indent=2, sort_keys=True)` for speed: the plan files must not change."""
    document = plan_stack(stack).document
    assert dumps(document) == json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_dumps_writes_non_ascii_text_as_utf8_and_the_same_json() -> None:
    document = {"description": "Zollanmelder für Ursprungsnachweise", "weight": 1e-05}
    text = dumps(document)
    assert "für" in text and json.loads(text) == document


def test_an_output_is_secret_where_a_secret_sat_anywhere_inside_its_input() -> None:
    """Regression: only a top-level secret input made its output secret; one nested inside a
    mapping or list came back, as an output, in plaintext."""
    reg = registration(
        inputs={"keepers": {"salt": wire("s4lt")}, "hosts": ["a", wire("b")], "plain": {"x": 1}},
        outputs={"keepers": {"salt": "s4lt"}, "hosts": ["a", "b"], "plain": {"x": 1}},
    )
    assert _Sealer("dev").seal_outputs(reg) == {
        "keepers": envelope({"salt": "s4lt"}),
        "hosts": envelope(["a", "b"]),
        "plain": {"x": 1},
    }
