"""`python -m app.web`: the local mode on http://127.0.0.1:8000 (see app/web/local.py)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel

from app.web.local import LOOPBACK, LocalModeRefused, check_bind_address

main = typer.Typer(help="PSRA origin checker, local mode.", add_completion=False)


@main.command()
def serve(
    host: str = typer.Option(LOOPBACK, help="bind address; only 127.0.0.1 is accepted"),
    port: int = typer.Option(8000, min=1, max=65535),
    database: Path = typer.Option(Path("out/web/psra.sqlite3"), help="SQLite file (created on first start)"),
) -> None:
    """Serve the web pages and the JSON API for one local user: SQLite, in-process cache, no sign-in."""
    console = Console(stderr=True)
    try:
        check_bind_address(host)
    except LocalModeRefused as error:
        console.print(f"[bold red]refused:[/] {error}")
        raise typer.Exit(2) from None
    database.parent.mkdir(parents=True, exist_ok=True)
    os.environ.update({"PSRA_LOCAL_MODE": "true", "PSRA_SQLITE_PATH": str(database)})
    console.print(
        Panel(
            f"[bold]LOCAL MODE[/] — one built-in user, no sign-in, data in {database}\n"
            f"web pages: http://{host}:{port}/   JSON API: http://{host}:{port}/v1/...   API docs: http://{host}:{port}/docs\n"
            "For trying the origin checker on this computer only; the platform serves it behind Keycloak.",
            style="bold yellow",
            title="PSRA origin checker",
        )
    )
    uvicorn.run("app.api.main:create_app", factory=True, host=host, port=port, workers=1, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
