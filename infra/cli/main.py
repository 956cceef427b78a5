"""The `cli.py` application: validate, plan (offline), render, and the operational commands.

Exit codes: 0 ok, 1 findings or failed operation, 2 usage or environment error.
"""

from __future__ import annotations

from app.cli import origin_app
from infra.cli.bootstrap import register as register_bootstrap
from infra.cli.lab import register as register_lab
from infra.cli.ops import register as register_operations
from infra.cli.plan_commands import app

register_operations(app)
register_bootstrap(app)
register_lab(app)
app.add_typer(origin_app, name="origin", help="Origin calculations with the bundled engine (no server, no database).")

__all__ = ["app"]
