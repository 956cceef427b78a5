"""`cli.py` as a script: the commands run with the collector on, their modules out of its way."""

from __future__ import annotations

import json
import os
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


PLAN_PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("exit hooks ran"))
sys.argv = ["cli.py", "plan", "--stack", sys.argv[1], "--json", sys.argv[2]]
runpy.run_path("cli.py", run_name="__main__")
"""


def test_a_plan_ends_with_its_output_written_its_exit_hooks_run_and_its_exit_code(tmp_path: Path) -> None:
    """`cli.py plan` (Typer building only the plan command) ends as the whole app would."""
    out = tmp_path / "plan.json"
    ran = subprocess.run([sys.executable, "-c", PLAN_PROBE, "dev", str(out)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    resources = len(json.loads(out.read_text())["deployment"]["resources"])
    assert ran.stdout.endswith(f"({resources} resources)\nexit hooks ran\n")
    failed = subprocess.run([sys.executable, "-c", PLAN_PROBE, "no-such-stack", str(out)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert "stack file not found" in failed.stderr
    assert failed.stdout == "exit hooks ran\n"


def test_the_app_with_only_the_plan_command_reads_plan_as_the_full_app_does() -> None:
    from typer.testing import CliRunner

    from infra.cli.main import app
    from infra.cli.plan_commands import only

    runner = CliRunner()
    for args in (["plan", "--help"], ["plan", "--stack"], ["plan", "--no-such-option"], ["plan", "extra"]):
        full, lean = runner.invoke(app, args, prog_name="cli.py"), runner.invoke(only("plan"), args, prog_name="cli.py")
        assert (lean.exit_code, lean.output) == (full.exit_code, full.output), args
    assert [command.callback.__name__ for command in only("plan").registered_commands] == ["plan"]


PLUGINS_PROBE = """
import os, runpy, sys
import pydantic.plugin._loader as loader
sys.argv = ["cli.py", "validate", "--stack", "dev"]
try:
    runpy.run_path("cli.py", run_name="__main__")
except SystemExit:
    pass
print(os.environ.get("PYDANTIC_DISABLE_PLUGINS"), loader._plugins is None)
"""


def test_the_cli_looks_for_no_pydantic_plugin_unless_told_otherwise() -> None:
    """No search of the installed distributions' entry points; an explicit setting is kept."""
    env = {name: value for name, value in os.environ.items() if name != "PYDANTIC_DISABLE_PLUGINS"}
    ran = subprocess.run([sys.executable, "-c", PLUGINS_PROBE], cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    assert ran.stdout.splitlines()[-1] == "__all__ True", ran.stderr
    env["PYDANTIC_DISABLE_PLUGINS"] = "some-plugin"
    ran = subprocess.run([sys.executable, "-c", PLUGINS_PROBE], cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    assert ran.stdout.splitlines()[-1] == "some-plugin False", ran.stderr
