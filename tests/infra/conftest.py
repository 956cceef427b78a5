"""Fixtures of the operations tests: `cli.py` run as a user would, with the real Pulumi CLI
(`real_cli`), with none on PATH, or with the stand-in for what the real one cannot do here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.pulumi_cli import PulumiProject

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = Path(__file__).parent / "ops" / "stand_in_pulumi.py"
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"  # no pulumi here (none is installed on the machine)


@dataclass
class CliRun:
    """`cli.py` as a subprocess with a controlled environment (no terminal: stdin is closed)."""

    env: dict[str, str]
    calls_log: Path

    def __call__(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), *args],
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def calls(self) -> list[list[str]]:
        if not self.calls_log.exists():
            return []
        return [json.loads(line) for line in self.calls_log.read_text().splitlines()]


def _env(tmp_path: Path, path: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "STAND_IN_PULUMI"))}
    return {**keep, "PATH": path, "HOME": str(tmp_path / "home"), "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "COLUMNS": "200"}


@pytest.fixture
def cli_without_pulumi(tmp_path: Path) -> CliRun:
    return CliRun(_env(tmp_path, BASE_PATH), tmp_path / "calls.log")


@pytest.fixture
def real_cli(pulumi_project: PulumiProject, tmp_path: Path) -> CliRun:
    """`cli.py` with the real Pulumi CLI on PATH, a tmp copy of the project and a file backend."""
    return CliRun(pulumi_project.env(), tmp_path / "calls.log")


@pytest.fixture
def cli_with_stand_in_pulumi(tmp_path: Path) -> Callable[..., CliRun]:
    """A stand-in `pulumi` on PATH (see stand_in_pulumi.py for the only cases it is for) that logs every call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {STAND_IN} "$@"\n')
    script.chmod(0o755)

    def make(mode: str = "", **stand_in_env: str) -> CliRun:
        log = tmp_path / "calls.log"
        env = {**_env(tmp_path, f"{bin_dir}:{BASE_PATH}"), "STAND_IN_PULUMI_MODE": mode, "STAND_IN_PULUMI_LOG": str(log), **stand_in_env}
        return CliRun(env, log)

    return make
