"""`python -m app serve|migrate`: the container's entry point.

`serve` applies migrations and seeds reference data once, then starts the uvicorn server processes
(app/server.py), which skip that step. Each worker logs in to OpenBao itself, so the AppRole secret-id
must allow one use per worker plus one, or be unlimited.
"""

from __future__ import annotations

import logging
import os

import typer

from app.db.migrate import upgrade
from app.db.rules import seed_reference_data
from app.db.session import make_engine, make_sessions
from app.engine.rulebook import default_rulebook
from app.openbao import resolve_connections
from app.server import run_servers
from app.settings import Settings

main = typer.Typer(help="PSRA origin-calculation service.", no_args_is_help=True)


@main.command()
def migrate() -> None:
    """Apply database migrations and seed the HS reference and bundled rules (idempotent)."""
    settings = Settings()
    engine = make_engine(resolve_connections(settings).database_url, pool_size=1, max_overflow=0)
    try:
        upgrade(engine)
        seed_reference_data(make_sessions(engine), default_rulebook())
    finally:
        engine.dispose()


@main.command()
def serve(
    host: str = typer.Option("0.0.0.0", help="bind address"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(2, min=1, help="uvicorn server processes (about one per core)"),
    metrics_port: int | None = typer.Option(None, help="internal Prometheus port [default: PSRA_METRICS_PORT or 9464]"),
) -> None:
    """Migrate once, then serve the API with uvicorn and the metrics on their internal port."""
    settings = Settings()
    if settings.migrate_on_startup:
        migrate()
    os.environ["PSRA_MIGRATE_ON_STARTUP"] = "false"
    run_servers(host, port, workers, metrics_port or settings.metrics_port)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    main()
