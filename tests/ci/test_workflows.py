"""The CI workflows: linted by actionlint and zizmor (offline, pedantic: no findings), and shaped as the
issues ask (forks get tests, plan, the plan's diff against the base branch, audit and diagram without
secrets; this repository's branches also get a commented `pulumi preview`; every secret lives in a
protected environment; every action is pinned to a full commit SHA with its version in a comment)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION_PINS = ROOT / ".github" / "action-pins.md"  # the reference list of release SHAs, kept beside the workflows
ZIZMOR = Path(sys.executable).parent / "zizmor"
PINNED_USE = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+\.\d+\.\d+)$")
SECRET_REFERENCE = re.compile(r"\bsecrets\.(\w+)")
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
    assert "cli.py plan --stack prod --diff out/base-plan.json" in steps
    assert "github.event.pull_request.base.sha" in steps
    assert steps.count("GITHUB_STEP_SUMMARY") == 3


def test_preview_comments_only_for_branches_of_this_repository() -> None:
    preview = load("pull-request.yml")["jobs"]["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["environment"] == {"name": "preview"}
    assert "env" not in preview  # secrets only in the steps that use them
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


def test_zizmor_finds_nothing() -> None:
    """Offline (no GitHub API calls) and pedantic: unpinned actions, persisted credentials, template
    injection, excessive permissions, undocumented permissions …"""
    assert ZIZMOR.exists(), f"zizmor is not installed: pip install '.[test]' ({ZIZMOR})"
    completed = subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", "--persona", "pedantic", "--format", "json", str(WORKFLOWS)],
        capture_output=True, text=True, timeout=120, check=False, env={"PATH": "/usr/bin:/bin"},
    )
    findings = json.loads(completed.stdout or "[]")
    assert [(f["ident"], f["desc"]) for f in findings] == [], completed.stderr[-2000:]
    assert completed.returncode == 0, completed.stderr[-2000:]


def _uses_lines() -> list[str]:
    return [line for path in sorted(WORKFLOWS.glob("*.yml")) for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]


def test_every_action_is_pinned_to_a_commit_sha_with_its_version() -> None:
    lines = _uses_lines()
    assert len(lines) >= 10
    unpinned = [line.strip() for line in lines if not PINNED_USE.match(line)]
    assert unpinned == []


def test_pins_match_the_reference_list() -> None:
    """The SHA of each pinned tag is the one the actions' repositories give (.github/action-pins.md)."""
    assert ACTION_PINS.exists(), f"{ACTION_PINS} is missing"
    table = {
        (action, tag): sha
        for action, tag, sha in re.findall(r"^\| ([\w./-]+) \| (v[\d.]+) \| ([0-9a-f]{40}) \|$", ACTION_PINS.read_text(), re.M)
    }
    for line in _uses_lines():
        match = PINNED_USE.match(line)
        assert match is not None
        assert table.get((match["action"], match["tag"])) == match["sha"], line.strip()


def test_every_secret_is_behind_a_protected_environment() -> None:
    """A job that reads a secret (other than the run's own GITHUB_TOKEN) declares an environment, whose
    required reviewers release it; jobs without one read none."""
    for name in ("pull-request.yml", "deploy.yml"):
        for job_name, job in load(name)["jobs"].items():
            secrets = set(SECRET_REFERENCE.findall(yaml.safe_dump(job))) - {"GITHUB_TOKEN"}
            if secrets:
                assert job.get("environment", {}).get("name") in {"preview", "production"}, (name, job_name, secrets)
    assert set(load("pull-request.yml")["jobs"]) == {"test", "plan", "preview"}


def test_checkouts_do_not_persist_the_token() -> None:
    for name in ("pull-request.yml", "deploy.yml"):
        for job in load(name)["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
