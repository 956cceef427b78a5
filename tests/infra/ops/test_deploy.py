"""preview/up/destroy/refresh through the Automation API: every way the environment fails
gets one clear message and exit code 2; a failed operation exits 1."""

from __future__ import annotations

import pytest

from infra.cli import ops as cli_ops
from infra.ops.deploy import (
    MISSING_CLI,
    DeployError,
    Target,
    backend_url,
    passphrase_env,
)
from infra.plan.document import parse_export
from tests.infra.conftest import CliRun
from tests.infra.audit.crafted import compliant_document
from tests.infra.audit.rule_cases import CASES


def one_sentence(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize(
    "command", [["up", "--stack", "prod", "--yes"], ["preview", "--stack", "prod"], ["destroy", "--yes"], ["export", "--stack", "prod"]]
)
def test_without_the_pulumi_cli_one_sentence_and_exit_2(cli_without_pulumi: CliRun, command: list[str]) -> None:
    completed = cli_without_pulumi(*command, PULUMI_CONFIG_PASSPHRASE="x")
    assert completed.returncode == 2
    assert one_sentence(completed.stderr) == MISSING_CLI
    assert MISSING_CLI.count(". ") == 0 and MISSING_CLI.endswith(".")
    assert "Traceback" not in completed.stdout + completed.stderr


def test_concurrent_update_lock(cli_with_fake_pulumi) -> None:  # noqa: ANN001
    cli = cli_with_fake_pulumi("lock")
    completed = cli("up", "--stack", "prod", "--yes", "--allow-findings", "--no-policy-pack", PULUMI_CONFIG_PASSPHRASE="s3cret")
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Stack prod is locked by another update" in completed.stderr
    assert "the stack is currently locked by 1 lock(s)" in completed.stderr  # the lock Pulumi names
    up_call = next(call for call in cli.calls() if "up" in call)
    assert {"--non-interactive", "--yes", "--skip-preview"} <= set(up_call) and up_call[-2:] == ["--stack", "prod"]


def test_wrong_passphrase(cli_with_fake_pulumi) -> None:  # noqa: ANN001
    cli = cli_with_fake_pulumi("passphrase-wrong")
    completed = cli("preview", "--stack", "prod", "--no-policy-pack", PULUMI_CONFIG_PASSPHRASE="wrong")
    assert completed.returncode == 2
    assert one_sentence(completed.stderr).startswith(
        "The passphrase does not unlock the secrets of stack prod: set PULUMI_CONFIG_PASSPHRASE"
    )


def test_passphrase_refused_by_the_cli(cli_with_fake_pulumi) -> None:  # noqa: ANN001
    completed = cli_with_fake_pulumi("passphrase-missing")("refresh", "--stack", "prod", "--yes", PULUMI_CONFIG_PASSPHRASE="")
    assert completed.returncode == 2
    assert "The passphrase does not unlock the secrets of stack prod" in completed.stderr


def test_no_passphrase_and_no_terminal(cli_with_fake_pulumi) -> None:  # noqa: ANN001
    cli = cli_with_fake_pulumi("")
    completed = cli("refresh", "--stack", "prod", "--yes")
    assert completed.returncode == 2
    assert one_sentence(completed.stderr).startswith("No passphrase for the secrets of stack prod: set PULUMI_CONFIG_PASSPHRASE or")
    assert [call for call in cli.calls() if "refresh" in call] == []


def test_unknown_stack(cli_with_fake_pulumi) -> None:  # noqa: ANN001
    completed = cli_with_fake_pulumi("unknown-stack")("destroy", "--stack", "prod", "--yes", PULUMI_CONFIG_PASSPHRASE="s3cret")
    assert completed.returncode == 2
    assert one_sentence(completed.stderr).startswith("Stack prod does not exist in the backend file://")


def test_failed_operation_exits_1_with_the_cli_error(cli_with_fake_pulumi) -> None:  # noqa: ANN001
    completed = cli_with_fake_pulumi("fail")("refresh", "--stack", "prod", "--yes", PULUMI_CONFIG_PASSPHRASE="s3cret")
    assert completed.returncode == 1
    assert "pulumi refresh failed for stack prod." in completed.stderr
    assert "port is already allocated" in completed.stderr


def test_changes_need_yes_without_a_terminal(cli_with_fake_pulumi) -> None:  # noqa: ANN001
    """Without --yes the preview runs first; with no terminal to confirm on, nothing is changed."""
    cli = cli_with_fake_pulumi("unknown-stack")
    completed = cli("refresh", "--stack", "dev", PULUMI_CONFIG_PASSPHRASE="s3cret")
    assert completed.returncode == 2  # the unknown stack stops it before anything else
    assert not [call for call in cli.calls() if call[1:2] == ["refresh"]]


def test_up_refuses_on_high_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    document = compliant_document()
    CASES["NW-01"].fire(document)
    monkeypatch.setattr(cli_ops, "planned", lambda stack: parse_export(document))
    with pytest.raises(DeployError) as refused:
        cli_ops.refuse_on_findings("prod", allow_findings=False)
    assert refused.value.exit_code == 1 and "2 high-severity finding(s)" in refused.value.message  # NW-01 and NW-02
    cli_ops.refuse_on_findings("prod", allow_findings=True)  # deploys anyway, saying why


def test_up_accepts_a_clean_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_ops, "planned", lambda stack: parse_export(compliant_document()))
    cli_ops.refuse_on_findings("prod", allow_findings=False)


def test_backend_and_passphrase_sources(tmp_path) -> None:  # noqa: ANN001
    assert backend_url({"PULUMI_BACKEND_URL": "s3://state"}) == "s3://state"
    target = Target("prod", backend_url="file:///x")
    assert passphrase_env(target, {"PULUMI_CONFIG_PASSPHRASE": ""}) == {"PULUMI_CONFIG_PASSPHRASE": ""}
    secret = tmp_path / "passphrase"
    secret.write_text("p")
    assert passphrase_env(target, {"PULUMI_CONFIG_PASSPHRASE_FILE": str(secret)}) == {"PULUMI_CONFIG_PASSPHRASE_FILE": str(secret)}
    assert passphrase_env(target, {}, prompt=lambda question: "typed") == {"PULUMI_CONFIG_PASSPHRASE": "typed"}
    with pytest.raises(DeployError, match="not a readable file"):
        passphrase_env(target, {"PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "missing")})
