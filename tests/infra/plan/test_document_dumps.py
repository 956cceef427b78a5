"""The plan file's text: exactly what `json.dumps(indent=2, sort_keys=True)` writes, whatever the document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.plan.document import dumps

ODD_VALUES: dict[str, Any] = {
    "z": "last",
    "ä-key": ["é", "\u2028", "\x00\t\n\"\\", "😀"],
    "numbers": [0, -1, 10**30, 1.0, -0.0, 1e-7, 1e22, 0.1, float("nan"), float("inf"), float("-inf")],
    "words": [True, False, None],
    "empty": [{}, [], "", [[]], {"a": {}}],
    "nested": {"b": [{"y": 1, "x": [2, {"c": None}]}], "a": 1},
}


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    "document",
    [ODD_VALUES, {}, [], "text", 3, None, {"tuple": (1, 2)}, {2: "int keys", 1: "json writes as text"}, {"sub": type("D", (dict,), {})(b=1, a=2)}],
)
def test_dumps_writes_what_json_writes(document: Any) -> None:
    assert dumps(document) == _json(document)


def test_a_cycle_is_refused_as_json_refuses_it() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(cyclic)


def test_a_value_json_cannot_write_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"set": {1}})
