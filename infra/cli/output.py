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
    """Every problem of a config, one line each: `FILE: KEY: message`; a single problem (an unreadable
    file, say) is one line in all."""
    lines = [f"{escape(p.file)}: [bold]{escape(p.key)}[/bold]: {escape(p.message)}" for p in error.problems]
    if len(lines) == 1:
        errors.print(f"[red]invalid configuration:[/red] {lines[0]}", highlight=False)
        return
    errors.print(f"[red]invalid configuration: {len(lines)} problem(s)[/red]")
    for line in lines:
        errors.print(f"  {line}", highlight=False)
