"""Human view of a plan document: a Rich tree grouped by component, and a count per type."""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich._emoji_replace import _emoji_replace
from rich._loop import loop_last
from rich._wrap import divide_line
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.tree import Tree

from infra.plan.document import ExportedResource, is_secret

if TYPE_CHECKING:
    from rich.table import Table

HOST_RULE = re.compile(r"Host\(`([^`]+)`\)")
TRAILING_SPACE = re.compile(r"\s+$")


def key_properties(resource: ExportedResource) -> list[str]:
    """The properties an engineer looks for first: image, networks, ports, hostnames, subnets."""
    inputs = resource.inputs
    shown: list[str] = []
    if resource.type == "docker:index/network:Network":
        ipam = inputs.get("ipamConfigs") or [{}]
        shown.append(f"subnet={ipam[0].get('subnet')}")
        shown.append("internal" if inputs.get("internal") else "external")
    if "image" in inputs and isinstance(inputs["image"], str):
        shown.append(f"image={inputs['image']}")
    if resource.type == "docker:index/remoteImage:RemoteImage":
        shown.append(f"image={inputs.get('name')}")
    networks = [n.get("name") for n in inputs.get("networksAdvanced") or [] if isinstance(n, dict)]
    if networks:
        shown.append("networks=" + ",".join(str(n) for n in networks))
    ports = [f"{p.get('external')}->{p.get('internal')}" for p in inputs.get("ports") or [] if isinstance(p, dict)]
    if ports:
        shown.append("ports=" + ",".join(ports))
    hosts = sorted(
        {
            host
            for label in inputs.get("labels") or []
            if isinstance(label, dict) and not is_secret(label.get("value"))
            for host in HOST_RULE.findall(str(label.get("value", "")))
        }
    )
    if hosts:
        shown.append("hosts=" + ",".join(hosts))
    return shown


@dataclass
class Node:
    """A tree label as (style, text) pieces: Rich markup, or the text a console without styles shows."""

    pieces: tuple[tuple[str | None, str], ...]
    children: list[Node] = field(default_factory=list)

    @property
    def markup(self) -> str:
        return "".join(f"[{style}]{text}[/{style}]" if style else text for style, text in self.pieces)

    @property
    def plain(self) -> str | None:
        """The text Rich shows of `markup`; None when Rich would read more into it than its tags
        (a `[` or `\\`, an emoji code) or measure it other than one cell a character."""
        if not all(_read_as_written(text) for _, text in self.pieces):
            return None
        return "".join(text for _, text in self.pieces) or None


@functools.cache  # a plan's types recur, each one checked once
def _read_as_written(text: str) -> bool:
    """Rich's markup shows `text` as it is, one cell a character."""
    return "[" not in text and "\\" not in text and text.isascii() and text.isprintable() and (":" not in text or _emoji_replace(text) == text)


class PlainLines:
    """A view that, on a console that prints no styles (a pipe, a CI log) and records none, is made
    as lines here as Rich lays out its `rich()` renderable (without Rich's per-piece rendering,
    most of the CPU a `plan` spent printing); otherwise, or when `plain_lines` cannot, Rich's."""

    def rich(self) -> RenderableType:
        raise NotImplementedError

    def plain_lines(self, width: int) -> list[str] | None:
        raise NotImplementedError

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = None
        if console.color_system is None and not console.record and options.justify is None and not options.ascii_only and not options.legacy_windows:
            lines = self.plain_lines(options.max_width)
        if lines is None:
            yield self.rich()
            return
        new_line = Segment.line()
        for line in lines:
            yield Segment(line)
            yield new_line


class PlanTree(PlainLines):
    """`rich.tree.Tree` of the nodes, its plain lines as Rich makes them (a label Rich would read
    otherwise: Rich's)."""

    SPACE, CONTINUE, FORK, END = Tree.TREE_GUIDES[0]

    def __init__(self, root: Node) -> None:
        self.root = root

    def rich(self) -> Tree:
        def add(parent: Tree, node: Node) -> None:
            branch = parent.add(node.markup)
            for child in node.children:
                add(branch, child)

        tree = Tree(self.root.markup)
        for child in self.root.children:
            add(tree, child)
        return tree

    def plain_lines(self, width: int) -> list[str] | None:
        """The lines `Tree.__rich_console__` renders (its guides, each label wrapped to what is left
        of `width`), or None if a label is not plain."""
        lines: list[str] = []
        levels = [self.CONTINUE]
        stack: list[Iterator[tuple[bool, Node]]] = [iter(loop_last([self.root]))]
        while stack:
            try:
                last, node = next(stack[-1])
            except StopIteration:
                stack.pop()
                levels.pop()
                if levels:
                    levels[-1] = self.FORK
                continue
            if last:
                levels[-1] = self.END
            prefix = levels[1:]
            text = node.plain
            room = width - 4 * len(prefix)
            if text is None or room < 1:
                return None
            for first, line in ((index == 0, line) for index, line in enumerate(_wrapped(text, room))):
                lines.append("".join(prefix) + line)
                if first and prefix:
                    prefix[-1] = self.SPACE if last else self.CONTINUE
            if node.children:
                levels[-1] = self.SPACE if last else self.CONTINUE
                levels.append(self.END if len(node.children) == 1 else self.FORK)
                stack.append(iter(loop_last(node.children)))
        return lines


def _wrapped(text: str, width: int) -> list[str]:
    """`Text(text).wrap(width)` of a one-line, one-cell-a-character text (justify "default", overflow
    "fold"): split where `divide_line` says, each line's whitespace beyond `width` cut, then the line cut."""
    offsets = [0, *divide_line(text, width, fold=True), len(text)]
    lines = []
    for start, end in zip(offsets, offsets[1:]):
        line = text[start:end]
        if len(line) > width and (space := TRAILING_SPACE.search(line)) is not None:
            line = line[: len(line) - min(len(space.group(0)), len(line) - width)]
        lines.append(line[:width])
    return lines


def plan_tree(resources: list[ExportedResource], title: str) -> PlanTree:
    children: dict[str, list[ExportedResource]] = defaultdict(list)
    for resource in resources:
        children[resource.parent].append(resource)
    roots = [r for r in resources if not r.parent]

    def node(resource: ExportedResource) -> Node:
        props = key_properties(resource)
        pieces: tuple[tuple[str | None, str], ...] = (("cyan", resource.type), (None, " "), ("bold", resource.name))
        if props:
            pieces += ((None, "  " + "  ".join(props)),)
        return Node(pieces, [node(child) for child in sorted(children[resource.urn], key=lambda r: (r.custom, r.type, r.name))])

    root = Node((("bold", title),))
    for parent in roots:
        root.children.extend(node(child) for child in sorted(children[parent.urn], key=lambda r: (r.custom, r.type, r.name)))
    return PlanTree(root)


class SummaryTable(PlainLines):
    """The count per type as a Rich table, its plain lines as Rich lays them out (~0.02 s of a prod
    plan less than Rich's per-cell measuring)."""

    TITLE = "Resources by type"

    def __init__(self, resources: list[ExportedResource]) -> None:
        self.rows = [(type_, str(count)) for type_, count in sorted(Counter(r.type for r in resources).items())]
        self.total = str(len(resources))

    def rich(self) -> Table:
        from rich.table import Table  # only a styled or recording console's: ~5 ms of imports a plan to a pipe skips

        table = Table(title=self.TITLE)
        table.add_column("type")
        table.add_column("count", justify="right")
        for type_, count in self.rows:
            table.add_row(type_, count)
        table.add_row("[bold]total[/bold]", f"[bold]{self.total}[/bold]")
        return table

    def plain_lines(self, width: int) -> list[str] | None:
        """Rich's lines of `table()` (box HEAVY_HEAD, a centred title; a type column too wide for
        `width` narrowed to what is left, a longer type cut with an ellipsis), or None if Rich would
        lay it out otherwise or a type is not plain."""
        rows = [*self.rows, ("total", self.total)]
        if not all(_read_as_written(type_) and not any(c.isspace() for c in type_) for type_, _ in self.rows):
            return None  # a type with a space would wrap there
        left = max(len(type_) for type_, _ in [("type", ""), *rows])
        right = max(len(count) for _, count in [("", "count"), *rows])
        left = min(left, width - right - 7)  # Rich's _collapse_widths, the type column the widest
        total = left + right + 7
        if left <= right or total < len(self.TITLE):
            return None
        excess = total - len(self.TITLE)
        lines = [" " * (excess // 2) + self.TITLE + " " * (excess - excess // 2)]
        lines.append(f"┏{'━' * (left + 2)}┳{'━' * (right + 2)}┓")
        lines.append(f"┃ {'type'.ljust(left)} ┃ {'count'.ljust(right)} ┃")
        lines.append(f"┡{'━' * (left + 2)}╇{'━' * (right + 2)}┩")
        for type_, count in rows:
            cell = type_ if len(type_) <= left else type_[: left - 1] + "…"  # a column's overflow: ellipsis
            lines.append(f"│ {cell.ljust(left)} │ {count.rjust(right)} │")
        lines.append(f"└{'─' * (left + 2)}┴{'─' * (right + 2)}┘")
        return lines


def render_plan(resources: list[ExportedResource], title: str) -> Group:
    return Group(plan_tree(resources, title), SummaryTable(resources))
