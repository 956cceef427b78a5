"""preview/up/destroy/refresh with the real Pulumi CLI in a file backend: every way the environment
fails gets one clear sentence and exit code 2; a failed operation exits 1.

The engine cannot run the program here (no Python language host, no provider plugins: the
Go module proxy serves neither), so the real CLI's paths stop there, with a message saying so.
The stand-in `pulumi` is used only where the real one cannot go, and says why in its test."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.cli import ops as cli_ops
from infra.ops.deploy import (
    MISSING_CLI,
    DeployError,
    Target,
    backend_url,
    needed_cli_version,
    passphrase_env,
)
from infra.plan.document import parse_export
from tests.infra.audit.crafted import compliant_document
from tests.infra.audit.rule_cases import CASES
from tests.infra.conftest import CliRun
from tests.infra.ops.imported_plan import import_plan
from tests.servers.pulumi_cli import ROOT, PulumiProject

PASSPHRASE = "correct horse battery staple (test only)"
NO_LANGUAGE_HOST = (
    "The Pulumi engine cannot run the program of stack dev: its Python language host (`pulumi-language-python`, "
    "shipped with the Pulumi CLI's release archive) is not on PATH, so install the CLI from that archive and run this command again."
)
WRONG_PASSPHRASE = (
    "The passphrase does not unlock the secrets of stack dev: set PULUMI_CONFIG_PASSPHRASE "
    "(or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase the stack was created with."
)


def one_sentence(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def no_traceback(completed: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in completed.stdout + completed.stderr


@pytest.fixture
def dev_stack(real_cli: CliRun, pulumi_project: PulumiProject) -> PulumiProject:
    """Stack dev created in the file backend by the real CLI (`cli.py preview` creates it, then stops)."""
    completed = real_cli("preview", "--stack", "dev", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 2 and pulumi_project.state_file("dev").is_file(), completed.stderr
    return pulumi_project


@pytest.mark.parametrize(
    "command", [["up", "--stack", "prod", "--yes"], ["preview", "--stack", "prod"], ["destroy", "--yes"], ["export", "--stack", "prod"]]
)
def test_without_the_pulumi_cli_one_sentence_and_exit_2(cli_without_pulumi: CliRun, command: list[str]) -> None:
    completed = cli_without_pulumi(*command, PULUMI_CONFIG_PASSPHRASE="x")
    assert completed.returncode == 2
    assert one_sentence(completed.stderr) == MISSING_CLI
    assert MISSING_CLI.count(". ") == 0 and MISSING_CLI.endswith(".")
    no_traceback(completed)


def test_preview_creates_the_stack_in_the_file_backend_and_stops_at_the_language_host(
    real_cli: CliRun, pulumi_project: PulumiProject
) -> None:
    repo_stack_file = (ROOT / "Pulumi.dev.yaml").read_bytes()
    completed = real_cli("preview", "--stack", "dev", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert one_sentence(completed.stderr) == NO_LANGUAGE_HOST
    no_traceback(completed)
    assert "preview of stack dev" in completed.stdout and "preview of preview" not in completed.stdout
    listed = pulumi_project.pulumi("stack", "ls", "--json", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert '"name": "dev"' in listed.stdout, listed.stderr
    assert pulumi_project.state_file("dev").is_file()
    # the passphrase provider's salt is in the stack's config file (of the tmp project, not the repo's)
    assert pulumi_project.stack_file("dev").read_text().count("encryptionsalt: v1:") == 1
    assert (ROOT / "Pulumi.dev.yaml").read_bytes() == repo_stack_file


def test_up_stops_at_the_language_host_after_the_audit(real_cli: CliRun) -> None:
    completed = real_cli("up", "--stack", "dev", "--yes", "--allow-findings", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 2
    assert "up of stack dev" in completed.stdout
    assert one_sentence(completed.stderr) == NO_LANGUAGE_HOST
    no_traceback(completed)


@pytest.mark.parametrize("passphrase", ["wrong", ""])
def test_wrong_passphrase(real_cli: CliRun, dev_stack: PulumiProject, passphrase: str) -> None:
    """An empty PULUMI_CONFIG_PASSPHRASE is a passphrase to the CLI (a wrong one here), not a missing one."""
    for command in (["preview", "--stack", "dev"], ["refresh", "--stack", "dev", "--yes"]):
        completed = real_cli(*command, PULUMI_CONFIG_PASSPHRASE=passphrase)
        assert completed.returncode == 2
        assert one_sentence(completed.stderr) == WRONG_PASSPHRASE
        no_traceback(completed)


def test_no_passphrase_and_no_terminal(real_cli: CliRun, pulumi_project: PulumiProject) -> None:
    completed = real_cli("refresh", "--stack", "dev", "--yes")
    assert completed.returncode == 2
    assert one_sentence(completed.stderr) == (
        "No passphrase for the secrets of stack dev: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE "
        "(or run on a terminal to be asked for it)."
    )
    assert not pulumi_project.state_file("dev").exists()  # the CLI was not asked to do anything


def test_unknown_stack(real_cli: CliRun, pulumi_project: PulumiProject) -> None:
    completed = real_cli("destroy", "--stack", "prod", "--yes", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 2
    assert one_sentence(completed.stderr) == (
        f"Stack prod does not exist in the backend {pulumi_project.backend_url}: create it with `python cli.py up --stack prod`, "
        "or point PULUMI_BACKEND_URL at the backend that holds it."
    )
    assert not pulumi_project.state_file("prod").exists()


def test_refresh_and_destroy_of_an_empty_stack_succeed(real_cli: CliRun, dev_stack: PulumiProject) -> None:
    """With no resources in the state the engine needs no program and no plugin: the whole path runs."""
    for operation in ("refresh", "destroy"):
        completed = real_cli(operation, "--stack", "dev", "--yes", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
        assert completed.returncode == 0, completed.stderr
        assert f"{operation} of stack dev" in completed.stdout and f"{operation} of dev: succeeded" in completed.stdout


def test_changes_need_yes_without_a_terminal(real_cli: CliRun, dev_stack: PulumiProject) -> None:
    """Without --yes the preview runs first; with no terminal to confirm on, nothing is changed."""
    state = dev_stack.state_file("dev").read_bytes()
    completed = real_cli("refresh", "--stack", "dev", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 2
    assert "preview of refresh on stack dev" in completed.stdout and "refresh would do" in completed.stdout
    assert one_sentence(completed.stderr) == "Refusing to refresh stack dev without --yes: there is no terminal to confirm on."
    assert dev_stack.state_file("dev").read_bytes() == state


@contextmanager
def refresh_waiting_at_its_prompt(project: PulumiProject) -> Iterator[subprocess.Popen[bytes]]:
    """A real `pulumi refresh` on a terminal, holding the stack's lock while it asks for confirmation."""
    leader, follower = pty.openpty()
    holder = subprocess.Popen(
        [str(project.cli.path), "refresh", "--stack", "dev", "--cwd", str(project.project_dir)],
        stdin=follower, stdout=follower, stderr=follower, env=project.env(PULUMI_CONFIG_PASSPHRASE=PASSPHRASE),
    )
    os.close(follower)
    try:
        shown, deadline = b"", time.monotonic() + 60
        while b"perform this refresh" not in shown:
            assert time.monotonic() < deadline and holder.poll() is None, shown.decode(errors="replace")
            if select.select([leader], [], [], 0.5)[0]:
                shown += os.read(leader, 4096)
        yield holder
    finally:
        holder.kill()
        holder.wait()
        os.close(leader)


def test_a_held_lock(real_cli: CliRun, dev_stack: PulumiProject) -> None:
    locks = dev_stack.backend_dir / ".pulumi" / "locks"
    expected = (
        "Stack dev is locked by another update that is still running (or died holding the lock): "
        "wait for it to finish, or remove the lock Pulumi names below once you are sure it is dead."
    )
    with refresh_waiting_at_its_prompt(dev_stack) as holder:
        completed = real_cli("refresh", "--stack", "dev", "--yes", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
        assert completed.returncode == 2
        message, *detail = completed.stderr.strip().splitlines()
        assert message == expected
        (lock,) = locks.rglob("*.json")
        assert detail[0].startswith("the stack is currently locked by 1 lock(s).")
        assert f"file://{lock}" in detail[1] and f"(pid {holder.pid})" in detail[1]  # which lock, held by whom
    # killed while holding it (SIGKILL: no clean-up), the lock stays and so does the message
    assert holder.returncode == -signal.SIGKILL and [*locks.rglob("*.json")] == [lock]
    again = real_cli("up", "--stack", "dev", "--yes", "--allow-findings", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert again.returncode == 2 and expected in again.stderr


def test_refresh_without_the_provider_plugins(real_cli: CliRun, pulumi_project: PulumiProject) -> None:
    """The plan of prod as the stack's state: refreshing it needs the providers' plugins, which are not here."""
    import_plan(pulumi_project, "prod", PASSPHRASE)
    completed = real_cli("refresh", "--stack", "prod", "--yes", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 2
    assert one_sentence(completed.stderr).startswith("pulumi refresh of stack prod needs the ")
    assert "provider plugin v" in completed.stderr and "`pulumi plugin install resource " in completed.stderr
    no_traceback(completed)


def test_failed_operation_exits_1_with_the_cli_error(cli_with_stand_in_pulumi) -> None:  # noqa: ANN001
    """Stand-in: a provider failing inside the engine needs the language host and the provider plugins,
    which the real CLI cannot get here."""
    completed = cli_with_stand_in_pulumi("fail")("refresh", "--stack", "prod", "--yes", PULUMI_CONFIG_PASSPHRASE="s3cret")
    assert completed.returncode == 1
    assert "pulumi refresh failed for stack prod." in completed.stderr
    assert "port is already allocated" in completed.stderr


@pytest.mark.parametrize("reported", ["3.x-broken", "v2.9.0"])
def test_a_cli_whose_version_is_unusable(cli_with_stand_in_pulumi, reported: str) -> None:  # noqa: ANN001
    """Stand-in: the real build always reports the pinned version; a broken or old install does not."""
    cli = cli_with_stand_in_pulumi(STAND_IN_PULUMI_VERSION=reported)
    completed = cli("preview", "--stack", "dev", PULUMI_CONFIG_PASSPHRASE="s3cret")
    assert completed.returncode == 2
    assert one_sentence(completed.stderr) == (
        f"The Pulumi CLI on PATH reports version '{reported}', which the Automation API cannot use: "
        f"install Pulumi CLI {needed_cli_version()} (the pulumi SDK's version) and run this command again."
    )
    no_traceback(completed)
    assert [call for call in cli.calls() if call != ["version"]] == []


def test_up_refuses_on_high_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    document = compliant_document()
    CASES["NW-01"].fire(document)
    monkeypatch.setattr(cli_ops, "planned", lambda stack: parse_export(document))
    with pytest.raises(DeployError) as refused:
        cli_ops.refuse_on_findings("prod", allow_findings=False)
    assert refused.value.exit_code == 1 and "2 high-severity finding(s)" in refused.value.message  # NW-01 and NW-02
    cli_ops.refuse_on_findings("prod", allow_findings=True)  # deploys anyway, saying why


def test_up_accepts_a_clean_plan(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli_ops, "planned", lambda stack: parse_export(compliant_document()))
    assert cli_ops.refuse_on_findings("prod", allow_findings=False) is None  # no DeployError: up goes on
    assert "audit: no high-severity findings in the plan of prod" in capsys.readouterr().out


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
