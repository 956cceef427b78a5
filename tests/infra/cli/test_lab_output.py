"""`cli.py lab up` says which objects a run replaced or removed, not only how many (a second run should list none)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.ops.lab import lab
from infra.ops.lab.applier import Applied


def test_lab_up_names_what_it_replaced_and_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    applied = Applied(kept=["network traefik-net"], replaced=["container psra-api-files-seed", "container psra-api"], removed=["volume old"])

    def up(stack: str, progress: object) -> lab.UpResult:
        return lab.UpResult(stack, {}, applied, image_seconds=1.0, plan_seconds=1.0, total_seconds=3.0)

    monkeypatch.setattr(lab, "up", up)
    result = CliRunner().invoke(app, ["lab", "up", "--stack", "lab", "--no-check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "0 created, 2 replaced, 1 kept, 1 removed" in lines[0]
    assert lines[1:3] == ["replaced: container psra-api-files-seed, container psra-api", "removed: volume old"]


def test_a_converged_run_lists_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab, "up", lambda stack, progress: lab.UpResult(stack, {}, Applied(kept=["container traefik"]), 1.0, 1.0, 2.0))
    result = CliRunner().invoke(app, ["lab", "up", "--stack", "lab", "--no-check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and len(result.output.splitlines()) == 1
