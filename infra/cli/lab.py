"""`cli.py lab up | check | down`: the live lab (issue 11), with Rich progress and the report table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra.cli.output import console, errors

lab_app = typer.Typer(help="The live lab: the lab stack on the local Docker engine, proven by live checks.", no_args_is_help=True)
LabStack = Annotated[str, typer.Option("--stack", "-s", help="stack name: reads Pulumi.<stack>.yaml")]


def _progress(out: Console):
    status = out.status("starting")
    status.start()

    def update(message: str) -> None:
        status.update(message)

    return status, update


def print_report(report) -> None:  # noqa: ANN001 - infra.ops.lab.report.LabReport
    table = Table(title=f"lab {report.stack}: {'all checks passed' if report.passed else 'CHECKS FAILED'}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        table.add_row(check.name, "[green]pass[/green]" if check.passed else "[red]FAIL[/red]", check.detail)
    console.print(table)
    if report.timings:
        console.print("timings (s): " + ", ".join(f"{key} {value:.0f}" for key, value in report.timings.items()), highlight=False)
    if report.stand_ins:
        console.print("stand-ins (not the real software): " + ", ".join(report.stand_ins), highlight=False)


def _check(stack: str, timings: dict[str, float], stand_ins: list[str], applied: dict, document: dict | None = None) -> int:
    """The live checks against the plan `up` applied (`document`), or the plan made now."""
    from infra.ops.lab import checks, lab
    from infra.ops.lab.report import LabReport

    status, update = _progress(errors)
    try:
        docker_client = lab.client()
        if document is None:
            document = lab.lab_plan(stack, lab.LabState(stack), docker_client).document
        live = checks.LiveLab(docker_client, document, lab=stack)
        results = checks.run_all(live, update)
    finally:
        status.stop()
    report = LabReport(stack, results, timings | {f"check {k}": v for k, v in live.seconds.items()}, stand_ins, applied)
    path = report.write()
    print_report(report)
    console.print(f"report: {path}", highlight=False)
    return 0 if report.passed else 1


@lab_app.command()
def up(stack: LabStack = "lab", check: Annotated[bool, typer.Option(help="run the live checks after up")] = True) -> None:
    """Engine, images, plan applied (converges), then the live checks and the report."""
    from infra.ops.lab import lab
    from infra.ops.lab.applier import LabApplyError, UntranslatedInput

    status, update = _progress(errors)
    try:
        result = lab.up(stack, update)
    except UntranslatedInput as error:
        status.stop()
        errors.print(f"[red]lab up refused the plan:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from error
    except LabApplyError as error:
        status.stop()
        errors.print(f"[red]lab up failed:[/red] {escape(str(error)[:3000])}", highlight=False)
        if check:  # the report still shows what runs and what does not
            _check(stack, {}, list(lab.overrides().get("standIns", [])), {"failed": str(error)[:500]})
        raise typer.Exit(1) from error
    status.stop()
    applied = result.applied
    console.print(
        f"lab {stack} up in {result.total_seconds:.0f} s (images {result.image_seconds:.0f} s, plan {result.plan_seconds:.0f} s, "
        f"apply {applied.seconds:.0f} s): {len(applied.created)} created, {len(applied.replaced)} replaced, "
        f"{len(applied.kept)} kept, {len(applied.removed)} removed",
        highlight=False,
    )
    for verb, names in (("replaced", applied.replaced), ("removed", applied.removed)):
        if names:  # a second `make lab` should replace nothing: say what did, so a user can tell why
            console.print(f"{verb}: " + ", ".join(names), highlight=False)
    timings = {"up total": result.total_seconds, "images": result.image_seconds, "plan": result.plan_seconds, "apply": applied.seconds}
    summary = {"created": applied.created, "replaced": applied.replaced, "kept": len(applied.kept), "removed": applied.removed}
    if check:
        raise typer.Exit(_check(stack, timings, result.stand_ins, summary, result.document))


@lab_app.command("check")
def check_command(stack: LabStack = "lab") -> None:
    """The live checks against the running lab; writes out/lab/report.json."""
    from infra.ops.lab import lab

    stand_ins = list(lab.overrides().get("standIns", []))
    raise typer.Exit(_check(stack, {}, stand_ins, {}))


@lab_app.command()
def down(stack: LabStack = "lab") -> None:
    """Remove every container, network and volume the lab created (volumes included)."""
    from infra.ops.lab import lab

    removed = lab.down(stack)
    console.print(f"lab {stack} down: removed {len(removed)} objects", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
