"""Rich views of what the lower stages return: audit findings and reports, deploy progress,
drift, verify results. The stages return data; only the command-line layer draws it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.table import Table

from infra.audit import AuditResult
from infra.audit.model import Finding, Severity
from infra.audit.render import join, short_urn

if TYPE_CHECKING:
    from pulumi import automation as auto

    from infra.ops.drift import DriftReport
    from infra.ops.verify.runner import VerifyOptions, VerifyResults

SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan"}


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
            join(row.declared),
            join(row.seed),
            join(row.missing),
            join(row.extra + row.unmapped),
            "yes" if row.matches_seed else "[red]no[/red]",
        )

    exposure = Table(title="Network exposure map")
    for column in ("container", "networks", "published", "hosts", "egress (seed reason)"):
        exposure.add_column(column, overflow="fold")
    for row in result.reports.exposure:
        egress = "—" if not row.egress else row.egress_reason or "[red]UNDECLARED[/red]"
        exposure.add_row(row.container, join(row.networks), join(row.published), join(row.hosts), egress)

    identity = Table(title="Identity matrix (group -> roles -> clients)")
    for column in ("group", "roles", "clients", "seed roles"):
        identity.add_column(column, overflow="fold")
    for row in result.reports.identity:
        identity.add_row(row.group, join(row.roles), join(row.clients), join(row.seed_roles))
    return Group(findings, counts, secrets, exposure, identity)


OUTCOME_STYLE = {"passed": "[green]PASS[/green]", "failed": "[red]FAIL[/red]", "skipped": "[yellow]SKIP[/yellow]"}

def results_table(results: VerifyResults, title: str) -> Table:
    table = Table(title=title)
    for column in ("check", "target", "result", "detail"):
        table.add_column(column, overflow="fold")
    for check in results.checks:
        table.add_row(check["check"], check["target"] or "—", OUTCOME_STYLE.get(check["outcome"], check["outcome"]), check["detail"])
    return table

def print_verify(results: VerifyResults, options: VerifyOptions, console: Console) -> None:
    failed = len(results.failed)
    title = f"verify {options.testinfra_host.removeprefix('paramiko://')} ({options.domain}): {len(results.checks) - failed} ok, {failed} failed"
    console.print(results_table(results, title))
    if options.junit:
        console.print(f"JUnit XML: {options.junit}")


def print_drift(report: DriftReport, console: Console, fmt: str = "table") -> None:
    if fmt == "json":
        console.print_json(json.dumps({"clean": report.clean, "checked": report.checked, "items": [asdict(i) for i in report.items]}))
        return
    checked = ", ".join(f"{count} {kind}" for kind, count in report.checked.items())
    if report.clean:
        console.print(f"[green]no drift[/green]: {checked}")
        return
    table = Table(title=f"Drift: {len(report.items)} object(s) differ from the declared state ({checked})")
    for column in ("system", "kind", "name", "status", "detail"):
        table.add_column(column, overflow="fold")
    for item in report.items:
        style = {"unmanaged": "yellow", "missing": "red", "differs": "magenta"}[item.status]
        table.add_row(item.system, item.kind, item.name, f"[{style}]{item.status}[/]", item.detail)
    console.print(table)


class DeployProgress:
    """A `DeployView` on a Rich console: stage rules, each resource step as it completes, diagnostics, policies, change tables."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.done = 0
        self.failed: list[str] = []

    def stage(self, title: str) -> None:
        self.console.rule(title)

    def changes(self, title: str, changes: Mapping[str, int] | None) -> None:
        self.console.print(changes_table(title, changes))

    def on_output(self, line: str) -> None:
        if self.verbose:
            self.console.print(line, style="dim", markup=False, highlight=False)

    def on_event(self, event: auto.EngineEvent) -> None:
        if event.resource_pre_event and self.verbose:
            meta = event.resource_pre_event.metadata
            self.console.print(f"  … {meta.op.value} {meta.type} {meta.urn.rsplit('::', 1)[-1]}", style="dim", markup=False)
        elif event.res_outputs_event:
            meta = event.res_outputs_event.metadata
            self.done += 1
            if meta.op.value != "same":
                self.console.print(f"  [green]✓[/green] {meta.op.value} {meta.type} [bold]{meta.urn.rsplit('::', 1)[-1]}[/bold]")
        elif event.res_op_failed_event:
            meta = event.res_op_failed_event.metadata
            self.failed.append(meta.urn)
            self.console.print(f"  [red]✗ {meta.op.value} {meta.type} {meta.urn.rsplit('::', 1)[-1]}[/red]")
        elif event.diagnostic_event and event.diagnostic_event.severity in {"error", "warning"}:
            diagnostic = event.diagnostic_event
            style = "red" if diagnostic.severity == "error" else "yellow"
            self.console.print(f"  {diagnostic.severity}: {diagnostic.message.strip()}", style=style, markup=False)
        elif event.policy_event:
            policy = event.policy_event
            self.console.print(
                f"  policy {policy.policy_name} ({policy.enforcement_level}): {policy.message.strip()}", style="yellow", markup=False
            )


def changes_table(title: str, changes: Mapping[str, int] | None) -> Table:
    table = Table(title=title)
    table.add_column("operation")
    table.add_column("resources", justify="right")
    for op, count in sorted((changes or {}).items()):
        table.add_row(op, str(count))
    return table
