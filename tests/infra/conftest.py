"""Fixtures of the operations tests: a fake `pulumi` on PATH, and the CLI run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).parent / "ops" / "fake_pulumi.py"
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
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "FAKE_PULUMI"))}
    return {**keep, "PATH": path, "HOME": str(tmp_path / "home"), "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "COLUMNS": "200"}


@pytest.fixture
def cli_without_pulumi(tmp_path: Path) -> CliRun:
    return CliRun(_env(tmp_path, BASE_PATH), tmp_path / "calls.log")


@pytest.fixture
def cli_with_fake_pulumi(tmp_path: Path) -> Callable[[str], CliRun]:
    """A `pulumi` on PATH that fails in the given FAKE_PULUMI_MODE and logs every call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    script.chmod(0o755)

    def make(mode: str) -> CliRun:
        log = tmp_path / "calls.log"
        env = {**_env(tmp_path, f"{bin_dir}:{BASE_PATH}"), "FAKE_PULUMI_MODE": mode, "FAKE_PULUMI_LOG": str(log)}
        return CliRun(env, log)

    return make
