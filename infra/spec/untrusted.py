"""Reading files the CLI is handed (stack files, exports, plans) as hostile input: bounded size,
strict UTF-8, bounded nesting, and YAML whose aliases cannot expand into a bomb.

PyYAML shares an aliased node instead of copying it, so 0.7 KB of nested aliases ("billion laughs")
loads instantly as a tiny graph, and the first thing that walks it (a deep copy, `json.dumps`, a
validator) expands it to hundreds of millions of values. `load_yaml` counts every node as it would be
once expanded, aliases included, and refuses past a bound while composing; an alias to the node it
sits in (a recursive anchor) is refused too. Messages name the problem and where, never the content.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

MAX_STACK_FILE_BYTES = 1024 * 1024
MAX_YAML_NODES = 100_000  # expanded: an alias counts as everything it stands for
MAX_DEPTH = 64


class InputRefused(ValueError):
    """A file is refused before or while it is parsed; the message names the problem, not the content."""


def read_text(path: Path, max_bytes: int) -> str:
    """The file as text: at most `max_bytes`, UTF-8 only (a BOM is dropped)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise InputRefused(f"cannot read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise InputRefused(f"larger than {max_bytes:,} bytes; refused without parsing")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputRefused(f"not UTF-8 text (invalid byte at offset {error.start})") from None


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts nodes as expanded and bounds nesting while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(anchored or composed node) -> its expanded node count

    def _count(self, nodes: int, event: yaml.Event) -> None:
        self._expanded += nodes
        if self._expanded > MAX_YAML_NODES:
            raise InputRefused(
                f"YAML expands to more than {MAX_YAML_NODES:,} values (aliases counted as what they stand for){_at(event)}; "
                "refused as an alias bomb"
            )

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:
                size = self._sizes.get(id(target))
                if size is None:
                    raise InputRefused(f"recursive YAML anchor: alias *{_name(event.anchor)} refers to a node that contains it{_at(event)}")
                self._count(size, event)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise InputRefused(f"YAML nested deeper than {MAX_DEPTH} levels{_at(event)}")
        start = self._expanded
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1, event)
        self._sizes[id(node)] = self._expanded - start
        return node


def _at(event: yaml.Event) -> str:
    mark = event.start_mark
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _name(anchor: str) -> str:
    return anchor if len(anchor) <= 40 and anchor.isprintable() else anchor[:37] + "..."


def load_yaml(text: str) -> Any:
    """One YAML document with bounded expansion and nesting; `InputRefused` for anything else."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        problem = error.problem or error.context or "syntax error"
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputRefused(f"not valid YAML: {problem}{where}") from None
    except yaml.YAMLError as error:
        raise InputRefused(f"not valid YAML: {type(error).__name__}") from None
    finally:
        loader.dispose()


def load_json(text: str) -> Any:
    """A JSON document nested at most MAX_DEPTH levels; `InputRefused` otherwise."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputRefused(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise InputRefused(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if depth_exceeds(document, MAX_DEPTH):
        raise InputRefused(f"JSON nested deeper than {MAX_DEPTH} levels")
    return document


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest more than `limit` levels (checked without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
