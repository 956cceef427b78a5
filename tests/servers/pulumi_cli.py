"""pytest plugin: the real Pulumi CLI (`.tools/bin/pulumi`, built by `make pulumi-cli`).

- ``pulumi_cli`` -> PulumiCli: the binary, checked to report the pulumi SDK's version (the pin in
  pyproject.toml). Missing or another version: the requesting test fails, saying how to build it.
- ``pulumi_project`` -> PulumiProject: a copy of the project's Pulumi files in a tmp dir with a
  `file://` backend and a HOME beside it. The real CLI writes encryption salts and secure values
  into that copy, never into the repo's stack files; nothing talks to Pulumi Cloud.

Offline by construction: update checks and automatic plugin downloads are switched off, and
no access token is ever set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"  # no pulumi here: only the one in TOOLS_BIN is ever used
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml")
OFFLINE = {"PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}


class PulumiCliMissing(RuntimeError):
    """The pinned CLI is not built (or is another version)."""


@dataclass(frozen=True)
class PulumiCli:
    path: Path
    version: str

    @property
    def bin_dir(self) -> Path:
        return self.path.parent


def pinned_version() -> str:
    """The CLI version the tests need: the installed pulumi SDK's, which pyproject.toml pins."""
    return f"v{installed_version('pulumi')}"


def locate(path: Path = TOOLS_BIN / "pulumi") -> PulumiCli:
    needed = pinned_version()
    build = "build it with `make pulumi-cli` (scripts/build-pulumi-cli.sh)"
    if not os.access(path, os.X_OK):
        raise PulumiCliMissing(f"the real Pulumi CLI {needed} is not at {path}: {build}")
    reported = subprocess.run(
        [str(path), "version"], capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **OFFLINE}
    ).stdout.strip()
    if reported != needed:
        raise PulumiCliMissing(f"{path} reports version {reported[:40]!r}, the tests need {needed}: {build}")
    return PulumiCli(path, reported)


@pytest.fixture(scope="session")
def pulumi_cli() -> PulumiCli:
    try:
        return locate()
    except PulumiCliMissing as missing:
        reason = str(missing)
    pytest.fail(reason, pytrace=False)


@dataclass(frozen=True)
class PulumiProject:
    """The project's Pulumi files in `project_dir`, its state in the file backend `backend_dir`."""

    cli: PulumiCli
    project_dir: Path
    backend_dir: Path
    home: Path

    @property
    def backend_url(self) -> str:
        return f"file://{self.backend_dir}"

    @property
    def name(self) -> str:
        match = re.search(r"^name:\s*(\S+)", (self.project_dir / "Pulumi.yaml").read_text(), re.M)
        assert match, "Pulumi.yaml has no name"
        return match.group(1)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user with only this CLI on PATH, this backend and this project."""
        keep = {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "FAKE_PULUMI"))}
        return {
            **keep,
            **OFFLINE,
            "PATH": f"{self.cli.bin_dir}:{BASE_PATH}",
            "HOME": str(self.home),
            "PULUMI_BACKEND_URL": self.backend_url,
            "SEVENSA_PROJECT_DIR": str(self.project_dir),
            "COLUMNS": "200",
            **extra,
        }

    def pulumi(self, *args: str, stdin: str | None = None, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """The real CLI on this project, non-interactive (as the Automation API runs it)."""
        return subprocess.run(
            [str(self.cli.path), "--non-interactive", *args, "--cwd", str(self.project_dir)],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stack_file(self, stack: str) -> Path:
        return self.project_dir / f"Pulumi.{stack}.yaml"

    def state_file(self, stack: str) -> Path:
        return self.backend_dir / ".pulumi" / "stacks" / self.name / f"{stack}.json"


@pytest.fixture
def pulumi_project(pulumi_cli: PulumiCli, tmp_path: Path) -> PulumiProject:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, project_dir / name)
    (project_dir / "policy").symlink_to(ROOT / "policy")
    (tmp_path / "home").mkdir()
    (tmp_path / "state").mkdir()  # a file backend's directory must exist (cli.py creates it too)
    return PulumiProject(pulumi_cli, project_dir, tmp_path / "state", tmp_path / "home")
