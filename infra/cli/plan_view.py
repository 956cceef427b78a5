"""Human view of a plan document: a Rich tree grouped by component, and a count per type."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from rich.console import Group
from rich.table import Table
from rich.tree import Tree

from infra.plan.document import ExportedResource, is_secret

HOST_RULE = re.compile(r"Host\(`([^`]+)`\)")


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


def render_tree(resources: list[ExportedResource], title: str) -> Tree:
    children: dict[str, list[ExportedResource]] = defaultdict(list)
    for resource in resources:
        children[resource.parent].append(resource)
    tree = Tree(f"[bold]{title}[/bold]")
    roots = [r for r in resources if not r.parent]

    def add(node: Tree, resource: ExportedResource) -> None:
        props = key_properties(resource)
        label = f"[cyan]{resource.type}[/cyan] [bold]{resource.name}[/bold]"
        if props:
            label += "  " + "  ".join(props)
        branch = node.add(label)
        for child in sorted(children[resource.urn], key=lambda r: (r.custom, r.type, r.name)):
            add(branch, child)

    for root in roots:
        for child in sorted(children[root.urn], key=lambda r: (r.custom, r.type, r.name)):
            add(tree, child)
    return tree


def summary_table(resources: list[ExportedResource]) -> Table:
    counts = Counter(r.type for r in resources)
    table = Table(title="Resources by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_, count in sorted(counts.items()):
        table.add_row(type_, str(count))
    table.add_row("[bold]total[/bold]", f"[bold]{sum(counts.values())}[/bold]")
    return table


def render_plan(resources: list[ExportedResource], title: str) -> Group:
    return Group(render_tree(resources, title), summary_table(resources))


