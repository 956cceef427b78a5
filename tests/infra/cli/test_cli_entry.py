"""`cli.py` as a script: the commands run with the collector on, their modules out of its way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import atexit, gc, runpy, sys
seen = {}
def command_ran():
    seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
atexit.register(lambda: print(seen["enabled"], seen["frozen"] > 10000, "infra.cli.main" in sys.modules))
sys.argv = ["cli.py", "--help"]
import typer.main
shipped = typer.main.Typer.__call__
def call(self, *args, **kwargs):
    command_ran()
    return shipped(self, *args, **kwargs)
typer.main.Typer.__call__ = call
runpy.run_path("cli.py", run_name="__main__")
"""


def test_a_command_runs_with_the_collector_on_and_the_loaded_modules_frozen() -> None:
    ran = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == "True True True"
