"""The platform's architecture drawn from what an export declares: networks, containers, routes.

One graph model (containers grouped by stack, networks as nodes, membership, published
ports, routed hostnames, egress) rendered two ways: Mermaid, which GitHub renders in job
summaries and Markdown, and Graphviz DOT, turned into SVG by `dot` when it is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from infra.audit.model import UnknownValueError
from infra.audit.resources import DATASTORE_ROLES, Resources
from infra.audit.traefik_config import TraefikConfig
from infra.plan.document import ExportedResource

INTERNET = "internet"
STACK_LABEL = "nl.sevensa.platform.stack"


class DiagramError(ValueError):
    """The diagram cannot be produced as asked (unknown extension, no Graphviz)."""


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str  # container | datastore | network | external
    group: str | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    kind: str = "member"  # member | internal-member | route | publish | egress


@dataclass
class Diagram:
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def groups(self) -> dict[str | None, list[Node]]:
        grouped: dict[str | None, list[Node]] = {}
        for node in self.nodes:
            grouped.setdefault(node.group, []).append(node)
        return grouped


def node_id(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"


def build_diagram(exported: list[ExportedResource], title: str) -> Diagram:
    resources = Resources(exported)
    diagram = Diagram(title, nodes=[Node(INTERNET, "Internet", "external")])
    for name, network in sorted(resources.networks.items()):
        ipam = network.inputs.get("ipamConfigs")
        first = ipam[0] if isinstance(ipam, list) and ipam else {}
        subnet = first.get("subnet", "") if isinstance(first, dict) else ""
        internal = resources.network_internal(name)
        diagram.nodes.append(
            Node(node_id("net", name), f"{name} {subnet} {'internal' if internal else 'external'}".replace("  ", " "), "network")
        )
        if not internal:
            diagram.edges.append(Edge(node_id("net", name), INTERNET, "egress", "egress"))
    routers = resources.view(TraefikConfig).routers
    traefik = resources.view(TraefikConfig).container
    for container in sorted(resources.running(), key=lambda c: c.name):
        try:
            cid = node_id("c", container.name)
            stack = container.labels.get(STACK_LABEL)
            kind = "datastore" if container.role in DATASTORE_ROLES else "container"
            image = container.image_ref or ""
            diagram.nodes.append(Node(cid, f"{container.name} {image}".strip(), kind, stack if isinstance(stack, str) else None))
            for network in container.networks:
                internal = resources.network_internal(network)
                diagram.edges.append(Edge(cid, node_id("net", network), kind="internal-member" if internal else "member"))
            ports = sorted({str(int(float(p.get("external") or p.get("internal") or 0))) for p in container.ports})
            if ports:
                diagram.edges.append(Edge(INTERNET, cid, ", ".join(f":{p}" for p in ports), "publish"))
            hosts = sorted({h for r in routers if r.urn == container.urn for h in r.hosts})
            if hosts and traefik is not None:
                diagram.edges.append(Edge(node_id("c", traefik.name), cid, " ".join(hosts), "route"))
        except UnknownValueError:
            continue
    return diagram


MERMAID_SHAPES = {"container": '["{}"]', "datastore": '[("{}")]', "network": '{{{{"{}"}}}}', "external": '(("{}"))'}
MERMAID_ARROWS = {"member": "---", "internal-member": "-.-", "route": "-->", "publish": "==>", "egress": "-.->"}


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(diagram: Diagram) -> str:
    lines = ["flowchart LR", f"  %% {diagram.title}"]

    def node(n: Node, indent: str) -> str:
        return f"{indent}{n.id}{MERMAID_SHAPES[n.kind].format(_mermaid_label(n.label))}"

    for group, nodes in sorted(diagram.groups().items(), key=lambda item: item[0] or ""):
        if group is None:
            lines += [node(n, "  ") for n in nodes]
            continue
        lines.append(f'  subgraph {node_id("stack", group)}["stack: {group}"]')
        lines += [node(n, "    ") for n in nodes]
        lines.append("  end")
    for edge in diagram.edges:
        label = f'|"{_mermaid_label(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {MERMAID_ARROWS[edge.kind]}{label} {edge.target}")
    return "\n".join(lines) + "\n"


DOT_SHAPES = {"container": "box", "datastore": "cylinder", "network": "hexagon", "external": "doublecircle"}
DOT_STYLES = {"member": "solid", "internal-member": "dashed", "route": "bold", "publish": "bold", "egress": "dotted"}


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(diagram: Diagram) -> str:
    lines = ["digraph platform {", f"  label={_dot_quote(diagram.title)};", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for group, nodes in sorted(diagram.groups().items(), key=lambda item: item[0] or ""):
        indent = "  " if group is None else "    "
        if group is not None:
            lines += [f"  subgraph cluster_{node_id('stack', group)} {{", f"    label={_dot_quote('stack: ' + group)};"]
        lines += [f"{indent}{n.id} [label={_dot_quote(n.label)}, shape={DOT_SHAPES[n.kind]}];" for n in nodes]
        if group is not None:
            lines.append("  }")
    for edge in diagram.edges:
        arrow = "none" if edge.kind in {"member", "internal-member"} else "normal"
        lines.append(
            f"  {edge.source} -> {edge.target} [label={_dot_quote(edge.label)}, style={DOT_STYLES[edge.kind]}, arrowhead={arrow}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(diagram: Diagram) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise DiagramError("SVG needs Graphviz's `dot` (apt-get install graphviz); write .md or .mmd for Mermaid instead")
    result = subprocess.run([dot, "-Tsvg"], input=to_dot(diagram), capture_output=True, text=True, check=False, timeout=120)  # noqa: S603
    if result.returncode != 0:
        raise DiagramError(f"dot failed: {result.stderr.strip()}")
    return result.stdout


def as_markdown(diagram: Diagram) -> str:
    return f"## Architecture as declared: {diagram.title}\n\n```mermaid\n{to_mermaid(diagram)}```\n"


RENDERERS = {".md": as_markdown, ".mmd": to_mermaid, ".dot": to_dot, ".svg": to_svg}


def write_diagram(exported: list[ExportedResource], title: str, output: Path | None) -> str:
    """Render by the output's extension (Markdown with Mermaid when printing); write it if asked."""
    suffix = output.suffix.lower() if output is not None else ".md"
    if suffix not in RENDERERS:
        raise DiagramError(f"cannot write {output}: use one of {', '.join(RENDERERS)}")
    text = RENDERERS[suffix](build_diagram(exported, title))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    return text
