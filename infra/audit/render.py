"""Audit output as text: JSON for machines, Markdown for job summaries, HTML (the terminal table is `infra.cli.views`).

Every format carries the same content: findings (id, severity, resource, message, fix),
the counts, and the three auditor reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import jinja2

from infra.audit import AuditResult

TEMPLATE_DIR = Path(__file__).with_name("templates")


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


def join(values: tuple[str, ...] | list[str]) -> str:
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
            [[r.approle, join(r.declared), join(r.seed), join(r.missing), join(r.extra + r.unmapped)] for r in reports.secret_access],
        ),
        "### Network exposure map",
        _md_table(
            ["container", "networks", "published", "hosts", "egress (seed reason)"],
            [
                [
                    e.container,
                    join(e.networks),
                    join(e.published),
                    join(e.hosts),
                    ("—" if not e.egress else e.egress_reason or "**UNDECLARED**"),
                ]
                for e in reports.exposure
            ],
        ),
        "### Identity matrix",
        _md_table(
            ["group", "roles", "clients", "seed roles"],
            [[g.group, join(g.roles), join(g.clients), join(g.seed_roles)] for g in reports.identity],
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
    return environment.get_template("audit.html.j2").render(result=result, short_urn=short_urn, join=join)


TEXT_RENDERERS: dict[Format, Callable[[AuditResult], str]] = {Format.JSON: as_json, Format.MD: as_markdown, Format.HTML: as_html}
