"""The CI workflows: linted by actionlint, and shaped as the issue asks (forks get tests,
plan, audit and diagram without secrets; this repository's branches also get a commented
`pulumi preview`; main deploys behind the protected environment)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
ACTIONLINT_INSTALL = "GOBIN=/usr/local/bin go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def test_actionlint_accepts_every_workflow() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.fail(f"actionlint is not installed; install it with: {ACTIONLINT_INSTALL}")
    files = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
    completed = subprocess.run([actionlint, "-no-color", "-oneline", *files], capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_pull_requests_from_forks_need_no_secret() -> None:
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"} and workflow["permissions"] == {"contents": "read"}
    for job in ("test", "plan"):
        assert "secrets." not in yaml.safe_dump(workflow["jobs"][job])
    steps = yaml.safe_dump(workflow["jobs"]["plan"])
    assert "cli.py plan --stack prod --json" in steps and "cli.py audit" in steps and "cli.py diagram" in steps
    assert steps.count("GITHUB_STEP_SUMMARY") == 2


def test_preview_comments_only_for_branches_of_this_repository() -> None:
    preview = load("pull-request.yml")["jobs"]["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["permissions"] == {"contents": "read", "pull-requests": "write"}
    action = next(step for step in preview["steps"] if str(step.get("uses", "")).startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview" and action["with"]["comment-on-pr"] is True and action["with"]["policyPacks"] == "policy"


def test_main_deploys_behind_the_protected_environment() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]}
    up = workflow["jobs"]["up"]
    assert up["environment"]["name"] == "production"
    assert workflow["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    assert any("cli.py up --stack prod --yes" in str(step.get("run", "")) for step in up["steps"])
