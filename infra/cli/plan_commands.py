"""The commands on a stack's spec and offline plan (validate, plan, render), on the Typer app that
`infra.cli.main` adds the operational commands to: `cli.py plan` loads this module alone.

Exit codes: 0 ok, 1 findings or failed operation, 2 usage or environment error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from infra.cli.output import Stack, console, errors, report_problems
from infra.plan.document import (
    ExportError,
    dumps,
    parse_export,
    read_export,
)
from infra.spec.load import load_stack
from infra.spec.problems import SpecError

if TYPE_CHECKING:
    from infra.plan.diff import PlanDiff
    from infra.plan.offline import StackPlan

HELP = """sevensa platform CLI: validate, plan (offline), and the operational commands.

Exit codes: 0 ok, 1 findings or failed operation, 2 usage or environment error.
"""

SETTINGS = {"help": HELP, "no_args_is_help": True, "add_completion": False, "pretty_exceptions_enable": False}
app = typer.Typer(**SETTINGS)


def _plan_or_exit(stack: str) -> StackPlan:
    """The offline plan of `stack`; an invalid config prints every problem and exits 1."""
    from infra.plan.offline import plan_stack

    try:
        return plan_stack(stack)
    except SpecError as error:
        report_problems(error)
        raise typer.Exit(1) from error


@app.command()
def validate(stack: Stack = "dev") -> None:
    """Check a stack's config against the spec; every problem is listed (config only, fast)."""
    try:
        spec = load_stack(stack)
    except SpecError as error:
        report_problems(error)
        raise typer.Exit(1) from error
    console.print(
        f"[green]valid[/green]: stack {stack}: domain {spec.domain}, {len(spec.stacks)} stacks, "
        f"{len(spec.networks)} networks, {len(spec.services)} services, {len(spec.datastores)} data stores"
    )


@app.command()
def plan(
    stack: Stack = "dev",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the plan as a stack-export (v3) document")] = None,
    diff: Annotated[Path | None, typer.Option("--diff", help="compare with an earlier plan or a real stack export")] = None,
) -> None:
    """Run the real program offline (Pulumi mocks) and show what `pulumi up` would create."""
    from infra.plan.lean_sdk import paused_collection

    # What a plan makes lives until it is printed and written: no collection walks it meanwhile.
    with paused_collection():
        _plan(stack, json_out, diff)


def _plan(stack: str, json_out: Path | None, diff: Path | None) -> None:
    from infra.cli.plan_view import render_plan

    result = _plan_or_exit(stack)
    resources = parse_export(result.document, "plan")
    if diff is not None:
        from infra.plan.diff import diff_exports

        try:
            old = read_export(diff)
        except ExportError as error:
            errors.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
        _print_diff(diff_exports(old, resources), diff)
    else:
        console.print(render_plan(resources, f"plan of stack {stack} ({result.spec.domain})"))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(dumps(result.document), encoding="utf-8")
        console.print(f"wrote {json_out} ({len(resources)} resources)")


@app.command()
def render(
    stack: Stack = "dev",
    output: Annotated[Path, typer.Option("--output", "-o", help="directory to write <container>/<path> into")] = Path("rendered"),
) -> None:
    """Write every config file the plan gives a container, to read or diff; secret files are only named."""
    from infra.plan.files import write_files

    written, sealed = write_files(parse_export(_plan_or_exit(stack).document, "plan"), output)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    for name in sealed:
        console.print(f"[dim]secret, not written: {escape(name)}[/dim]")
    console.print(f"{len(written)} files written to {output}, {len(sealed)} secret files left sealed")


def _print_diff(result: PlanDiff, against: Path) -> None:
    if result.empty:
        console.print(f"no changes against {against}")
        return
    for urn in result.added:
        console.print(f"[green]+ {urn}[/green]", highlight=False)
    for urn in result.removed:
        console.print(f"[red]- {urn}[/red]", highlight=False)
    for urn, keys in result.changed.items():
        console.print(f"[yellow]~ {urn}[/yellow]  changed: {', '.join(keys)}", highlight=False)
    console.print(f"{len(result.added)} to add, {len(result.removed)} to remove, {len(result.changed)} to change (against {against})")


def only(name: str) -> typer.Typer:
    """`app` with the one command `name` of this module (what `cli.py <name> ...` runs): Typer builds
    each command it holds (its parameters read from the function's signature) on every run, ~0.02 s
    for them all.

    A group still (a do-nothing callback), so `name` is read as the command and usage, errors and
    `--help` are those of `app`'s command.
    """
    group = typer.Typer(**SETTINGS)
    group.registered_commands = [command for command in app.registered_commands if command.callback.__name__ == name]
    group.callback()(lambda: None)
    return group
