"""What every CLI command shares: the consoles, the `--stack` option, how config problems print."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from infra.spec.problems import SpecError

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one line per message: greppable in CI logs

Stack = Annotated[str, typer.Option("--stack", "-s", help="stack name: reads Pulumi.<stack>.yaml")]


def report_problems(error: SpecError) -> None:
    """Every problem of a config, one line each: `FILE: KEY: message`."""
    errors.print(f"[red]invalid configuration: {len(error.problems)} problem(s)[/red]")
    for problem in error.problems:
        errors.print(f"  {escape(problem.file)}: [bold]{escape(problem.key)}[/bold]: {escape(problem.message)}", highlight=False)
