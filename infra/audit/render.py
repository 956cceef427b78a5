"""Audit output: a Rich table for terminals, JSON for machines, Markdown for job summaries, HTML.

Every format carries the same content: findings (id, severity, resource, message, fix),
the counts, and the three auditor reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import jinja2
from rich.console import Group, RenderableType
from rich.table import Table

from infra.audit import AuditResult
from infra.audit.model import Finding, Severity

TEMPLATE_DIR = Path(__file__).with_name("templates")
SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan"}


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    MD = "md"
    HTML = "html"


def short_urn(urn: str) -> str:
    """`urn:pulumi:prod::proj::a$docker:index/container:Container::traefik` -> `Container traefik`."""
    parts = urn.split("::")
    if len(parts) < 4:
        return urn
    type_ = parts[2].rsplit("$", 1)[-1].rsplit(":", 1)[-1]
    return f"{type_} {parts[3]}"


def _join(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(values) if values else "—"


def as_json(result: AuditResult) -> str:
    document = {
        "source": result.source,
        "resources": result.resource_count,
        "counts": result.counts(),
        "findings": [f.as_dict() for f in result.findings],
        "reports": result.reports.as_dict(),
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def findings_table(findings: list[Finding], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("severity", "rule", "resource", "finding", "fix"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(f"[{SEVERITY_STYLE[f.severity]}]{f.severity.label}[/]", f.rule, short_urn(f.urn), f.message, f.fix)
    return table


def as_table(result: AuditResult) -> RenderableType:
    findings = findings_table(
        result.findings, f"Audit of {result.source}: {result.resource_count} resources, {len(result.findings)} finding(s)"
    )
    counts = Table(title="Findings by severity")
    counts.add_column("severity")
    counts.add_column("count", justify="right")
    for label, count in result.counts().items():
        counts.add_row(label, str(count))

    secrets = Table(title="Secret access matrix (AppRole -> readable seed paths, from the declared policies)")
    for column in ("AppRole", "reads (declared)", "seed matrix", "missing", "beyond seed", "matches"):
        secrets.add_column(column, overflow="fold")
    for row in result.reports.secret_access:
        secrets.add_row(
            row.approle,
            _join(row.declared),
            _join(row.seed),
            _join(row.missing),
            _join(row.extra + row.unmapped),
            "yes" if row.matches_seed else "[red]no[/red]",
        )

    exposure = Table(title="Network exposure map")
    for column in ("container", "networks", "published", "hosts", "egress (seed reason)"):
        exposure.add_column(column, overflow="fold")
    for row in result.reports.exposure:
        egress = "—" if not row.egress else row.egress_reason or "[red]UNDECLARED[/red]"
        exposure.add_row(row.container, _join(row.networks), _join(row.published), _join(row.hosts), egress)

    identity = Table(title="Identity matrix (group -> roles -> clients)")
    for column in ("group", "roles", "clients", "seed roles"):
        identity.add_column(column, overflow="fold")
    for row in result.reports.identity:
        identity.add_row(row.group, _join(row.roles), _join(row.clients), _join(row.seed_roles))
    return Group(findings, counts, secrets, exposure, identity)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(value: str) -> str:
        return value.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) if rows else "_none_"


def as_markdown(result: AuditResult) -> str:
    counts = ", ".join(f"{count} {label}" for label, count in result.counts().items())
    reports = result.reports
    sections = [
        f"## Audit of `{result.source}`",
        f"{result.resource_count} resources; findings: {counts}.",
        "### Findings",
        _md_table(
            ["severity", "rule", "resource", "finding", "fix"],
            [[f.severity.label, f.rule, f"`{short_urn(f.urn)}`", f.message, f.fix] for f in result.findings],
        ),
        "### Secret access matrix",
        _md_table(
            ["AppRole", "reads (declared)", "seed matrix", "missing", "beyond seed"],
            [[r.approle, _join(r.declared), _join(r.seed), _join(r.missing), _join(r.extra + r.unmapped)] for r in reports.secret_access],
        ),
        "### Network exposure map",
        _md_table(
            ["container", "networks", "published", "hosts", "egress (seed reason)"],
            [
                [
                    e.container,
                    _join(e.networks),
                    _join(e.published),
                    _join(e.hosts),
                    ("—" if not e.egress else e.egress_reason or "**UNDECLARED**"),
                ]
                for e in reports.exposure
            ],
        ),
        "### Identity matrix",
        _md_table(
            ["group", "roles", "clients", "seed roles"],
            [[g.group, _join(g.roles), _join(g.clients), _join(g.seed_roles)] for g in reports.identity],
        ),
    ]
    return "\n\n".join(sections) + "\n"


def as_html(result: AuditResult) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("audit.html.j2").render(result=result, short_urn=short_urn, join=_join)


TEXT_RENDERERS: dict[Format, Callable[[AuditResult], str]] = {Format.JSON: as_json, Format.MD: as_markdown, Format.HTML: as_html}
