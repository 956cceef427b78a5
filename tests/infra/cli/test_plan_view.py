"""The plan tree and count table printed without Rich's per-label and per-cell rendering (a console
without styles) are, line for line, the `rich.tree.Tree` and `rich.table.Table` they stand for:
guides, wrapping, folding of long words, trailing spaces; a table narrowed, its long types cut."""

from __future__ import annotations

import io
import random
from types import SimpleNamespace

import pytest
from rich.console import Console

from infra.cli.plan_view import Node, PlanTree, SummaryTable

WORDS = ["a", "bb", "ccc", "x" * 30, "y" * 90, "  ", "   ", ":not-an-emoji:", "]x]", "z=1,2,3", "sha256:" + "0" * 64]


def _printed(renderable: object, width: int, **console: object) -> str:
    out = io.StringIO()
    Console(file=out, width=width, **console).print(renderable)
    return out.getvalue()


def _tree(rng: random.Random, depth: int = 0) -> Node:
    pieces = tuple(
        (rng.choice([None, "cyan", "bold"]), "".join(rng.choice(WORDS) + rng.choice(["", " ", "  "]) for _ in range(rng.randint(1, 6))))
        for _ in range(rng.randint(1, 3))
    )
    return Node(pieces, [_tree(rng, depth + 1) for _ in range(rng.randint(0, 3) if depth < 4 else 0)])


@pytest.mark.parametrize("seed", range(4))
def test_plain_lines_are_the_rich_tree(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        tree, width = PlanTree(_tree(rng)), rng.randint(1, 120)
        assert _printed(tree, width) == _printed(tree.rich(), width)
        if width >= 40:
            assert tree.plain_lines(width) is not None


@pytest.mark.parametrize("text", ["[red]x[/red]", "back\\", ":smile:", "caf\u00e9", "tab\there"])
def test_a_label_rich_reads_more_into_takes_richs_path(text: str) -> None:
    tree = PlanTree(Node((("bold", "title"),), [Node(((None, "type "), ("bold", text)))]))
    assert tree.plain_lines(80) is None
    assert _printed(tree, 80) == _printed(tree.rich(), 80)


def test_a_styled_console_gets_the_rich_tree() -> None:
    tree = PlanTree(Node((("bold", "plan"),), [Node((("cyan", "docker:index/volume:Volume"), (None, " "), ("bold", "data")))]))
    styled = _printed(tree, 80, force_terminal=True, color_system="standard")
    assert styled == _printed(tree.rich(), 80, force_terminal=True, color_system="standard")
    assert "\x1b[36m" in styled


def test_a_recording_console_records_the_rich_trees_styles() -> None:
    tree = PlanTree(Node((("bold", "plan"),), [Node((("cyan", "docker:index/volume:Volume"), (None, " "), ("bold", "data")))]))
    consoles = [Console(file=io.StringIO(), width=80, record=True) for _ in range(2)]
    consoles[0].print(tree)
    consoles[1].print(tree.rich())
    recorded, rich = (console.export_html() for console in consoles)
    assert recorded == rich
    assert "#008080" in recorded  # cyan


def _resources(types: list[str]) -> list:
    return [SimpleNamespace(type=type_) for type_ in types]


@pytest.mark.parametrize("seed", range(3))
def test_plain_summary_lines_are_the_rich_table(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(12):
        types = ["t:" + "".join(rng.choice("kqw/.Z") for _ in range(rng.randint(8, 90))) for _ in range(rng.randint(1, 8))]
        table = SummaryTable(_resources([rng.choice(types) for _ in range(rng.randint(1, 2000))]))
        for width in range(1, 130, 7):
            assert _printed(table, width) == _printed(table.rich(), width), width
        assert table.plain_lines(200) is not None
    assert _printed(SummaryTable([]), 80) == _printed(SummaryTable([]).rich(), 80)


@pytest.mark.parametrize("type_", ["a b:C", "[red]x[/red]", "back\\", ":smile:", "caf\u00e9"])
def test_a_type_rich_reads_otherwise_takes_richs_table(type_: str) -> None:
    table = SummaryTable(_resources([type_, "docker:index/volume:Volume"]))
    assert table.plain_lines(80) is None
    assert _printed(table, 80) == _printed(table.rich(), 80)


def test_a_styled_console_gets_the_rich_table() -> None:
    table = SummaryTable(_resources(["docker:index/volume:Volume"]))
    styled = _printed(table, 80, force_terminal=True, color_system="standard")
    assert styled == _printed(table.rich(), 80, force_terminal=True, color_system="standard")
    assert "\x1b[1m" in styled
