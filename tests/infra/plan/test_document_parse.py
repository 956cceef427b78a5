"""Reading an export or plan file as hostile input: exact errors for what is not a version-3 export,
and every property of the wrong shape named (kept as empty, flagged for DOC-01) instead of crashing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.plan.document import MAX_EXPORT_BYTES, ExportedResource, ExportError, parse_export, read_export

NOT_AN_EXPORT = "not a version-3 stack export ({'version': 3, 'deployment': {…}})"


def document(*resources) -> dict:
    return {"version": 3, "deployment": {"resources": list(resources)}}


def only(entry: dict) -> ExportedResource:
    [resource] = parse_export(document(entry))
    return resource


def test_a_resource_is_read_field_for_field() -> None:
    entry = {
        "urn": "urn:pulumi:dev::p::docker:index/network:Network::app-net",
        "type": "docker:index/network:Network",
        "custom": True,
        "inputs": {"name": "app-net"},
        "outputs": {"id": "n1"},
        "parent": "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev",
        "provider": "urn:pulumi:dev::p::pulumi:providers:docker::default::1",
        "dependencies": ["urn:a", "urn:b"],
        "id": "ignored",
    }
    assert only(entry) == ExportedResource(
        urn="urn:pulumi:dev::p::docker:index/network:Network::app-net",
        type="docker:index/network:Network",
        custom=True,
        inputs={"name": "app-net"},
        outputs={"id": "n1"},
        parent="urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev",
        provider="urn:pulumi:dev::p::pulumi:providers:docker::default::1",
        dependencies=("urn:a", "urn:b"),
        malformed=(),
    )
    assert only(entry).name == "app-net"


def test_absent_and_null_properties_read_as_empty_without_a_flag() -> None:
    bare = ExportedResource(urn="urn:x::y", type="t", custom=False, inputs={}, outputs={}, parent="", provider="", dependencies=(), malformed=())
    assert only({"urn": "urn:x::y", "type": "t"}) == bare
    nulls = {"urn": "urn:x::y", "type": "t", "custom": None, "inputs": None, "outputs": None, "parent": None, "provider": None, "dependencies": None}
    assert only(nulls) == bare
    assert only({"urn": "urn:x::y", "type": "t", "dependencies": []}).dependencies == ()


@pytest.mark.parametrize(("custom", "expected"), [(True, True), (False, False), (1, False), ("true", False), (None, False)])
def test_custom_is_true_only_for_the_json_true(custom, expected: bool) -> None:
    assert only({"urn": "u", "type": "t", "custom": custom}).custom is expected


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("inputs", "text", "inputs is text, not a mapping"),
        ("inputs", [], "inputs is a list, not a mapping"),
        ("inputs", ["a"], "inputs is a list, not a mapping"),
        ("outputs", [1], "outputs is a list with items that are not text, not a mapping"),
        ("outputs", True, "outputs is a boolean, not a mapping"),
        ("parent", 5, "parent is a number, not text"),
        ("parent", 1.5, "parent is a number, not text"),
        ("parent", {}, "parent is a mapping, not text"),
        ("provider", False, "provider is a boolean, not text"),
        ("provider", ["urn"], "provider is a list, not text"),
        ("dependencies", "urn:a", "dependencies is text, not a list of URNs"),
        ("dependencies", ["urn:a", 7], "dependencies is a list with items that are not text, not a list of URNs"),
        ("dependencies", {"urn": "a"}, "dependencies is a mapping, not a list of URNs"),
        ("dependencies", 0, "dependencies is a number, not a list of URNs"),
        ("parent", ("urn",), "parent is tuple, not text"),
    ],
)
def test_a_property_of_the_wrong_shape_is_empty_and_named(key: str, value, problem: str) -> None:
    resource = only({"urn": "urn:x::y", "type": "t", key: value})
    assert resource.malformed == (problem,)
    empty = {"inputs": {}, "outputs": {}, "parent": "", "provider": "", "dependencies": ()}
    assert getattr(resource, key) == empty[key]


def test_every_malformed_property_is_listed_in_order() -> None:
    resource = only({"urn": "u", "type": "t", "inputs": "x", "outputs": 1, "parent": [], "provider": {}, "dependencies": [None]})
    assert resource.malformed == (
        "inputs is text, not a mapping",
        "outputs is a number, not a mapping",
        "parent is a list, not text",
        "provider is a mapping, not text",
        "dependencies is a list with items that are not text, not a list of URNs",
    )


def test_a_mapping_is_a_mapping_whatever_its_keys() -> None:
    assert only({"urn": "u", "type": "t", "inputs": {1: "a"}}).inputs == {1: "a"}


@pytest.mark.parametrize(
    "value",
    [None, [], "text", {"version": 2, "deployment": {}}, {"version": "3", "deployment": {}}, {"version": 3}, {"version": 3, "deployment": []}, {"deployment": {}}],
)
def test_what_is_not_a_version_3_export_is_refused(value) -> None:
    with pytest.raises(ExportError) as error:
        parse_export(value, "state.json")
    assert str(error.value) == f"state.json: {NOT_AN_EXPORT}"


def test_the_default_source_is_document() -> None:
    with pytest.raises(ExportError) as error:
        parse_export({})
    assert str(error.value) == f"document: {NOT_AN_EXPORT}"


@pytest.mark.parametrize("resources", [None, [], {}, 0, ""])
def test_no_resources_reads_as_none(resources) -> None:
    assert parse_export({"version": 3, "deployment": {"resources": resources}}) == []
    assert parse_export({"version": 3, "deployment": {}}) == []


@pytest.mark.parametrize("resources", ["urn:a", {"urn": "a"}, 5, True])
def test_resources_that_are_not_a_list_are_refused(resources) -> None:
    with pytest.raises(ExportError) as error:
        parse_export({"version": 3, "deployment": {"resources": resources}}, "state.json")
    assert str(error.value) == "state.json: deployment.resources must be a list of resources"


@pytest.mark.parametrize("entry", ["urn:a", {"type": "t"}, {"urn": "u"}, {"urn": 1, "type": "t"}, {"urn": "u", "type": None}, None])
def test_a_resource_without_urn_or_type_is_refused_with_its_index(entry) -> None:
    with pytest.raises(ExportError) as error:
        parse_export(document({"urn": "u", "type": "t"}, entry), "state.json")
    assert str(error.value) == "state.json: deployment.resources[1] has no urn/type"


def test_read_export_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(document({"urn": "urn:x::a", "type": "t", "inputs": "oops"})))
    assert read_export(good) == [ExportedResource("urn:x::a", "t", False, {}, {}, "", "", (), ("inputs is text, not a mapping",))]
    assert read_export(str(good))[0].urn == "urn:x::a"
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"version": 2, "deployment": {}}))
    with pytest.raises(ExportError) as error:
        read_export(old)
    assert str(error.value) == f"{old}: {NOT_AN_EXPORT}"


def test_read_export_refuses_what_is_not_json_or_not_there(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 3,')
    with pytest.raises(ExportError) as error:
        read_export(broken)
    assert str(error.value) == f"{broken}: not valid JSON: Expecting property name enclosed in double quotes at line 1, column 15"
    missing = tmp_path / "missing.json"
    with pytest.raises(ExportError) as error:
        read_export(missing)
    assert str(error.value) == f"{missing}: cannot read: No such file or directory"


def test_read_export_is_bounded_at_64_mib(tmp_path: Path) -> None:
    assert MAX_EXPORT_BYTES == 64 * 1024 * 1024
    big = tmp_path / "big.json"
    with big.open("wb") as stream:
        stream.truncate(MAX_EXPORT_BYTES + 1)  # sparse: no 64 MiB written
    with pytest.raises(ExportError) as error:
        read_export(big)
    assert str(error.value) == f"{big}: larger than 67,108,864 bytes; refused without parsing"
