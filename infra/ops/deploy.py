"""preview / up / destroy / refresh through Pulumi's Automation API, for platform engineers.

The real engine runs the project in this directory (`Pulumi.yaml`, `__main__.py`) against
a local file backend by default (no Pulumi Cloud account: `PULUMI_BACKEND_URL`, default
`file://~/.pulumi-sevensa`), with the passphrase secrets provider (`PULUMI_CONFIG_PASSPHRASE`
or `PULUMI_CONFIG_PASSPHRASE_FILE`, else a prompt on a terminal). Progress streams from the
engine's events; every failure the Automation API reports as a bare exception (no CLI, a
held lock, a wrong passphrase, an unknown stack, no language host) becomes one clear sentence and an exit
code: 0 ok, 1 the operation failed, 2 usage or environment.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Protocol

from pulumi import automation as auto

from infra.spec.load import PROJECT_DIR

DEFAULT_BACKEND_DIR = Path("~/.pulumi-sevensa")
POLICY_PACK_DIR = PROJECT_DIR / "policy"
PASSPHRASE = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE = "PULUMI_CONFIG_PASSPHRASE_FILE"
MISSING_CLI = (
    "The Pulumi CLI (`pulumi`) is not installed or not on PATH: install it with "
    "`curl -fsSL https://get.pulumi.com | sh` (see https://www.pulumi.com/docs/iac/download-install/) and run this command again."
)
PASSPHRASE_REJECTED = re.compile(r"incorrect passphrase|passphrase must be set|failed to decrypt", re.I)
# The CLI's lock sentence and the indented lines after it naming each lock file and its holder.
LOCK_HOLDER = re.compile(r"(?:the stack is currently locked by|Another update is currently in progress).*(?:\n[ \t]+\S.*)*", re.I)
NO_LANGUAGE_HOST = re.compile(r"no language plugin '(pulumi-language-[a-z]+)' found", re.I)
NO_PROVIDER_PLUGIN = re.compile(r"no resource plugin 'pulumi-resource-([a-z0-9-]+)' found in the workspace at version v([0-9][0-9A-Za-z.+-]*)")


class ExitCode:
    OK = 0
    FAILED = 1
    ENVIRONMENT = 2


class DeployError(Exception):
    """A failure explained in one sentence, with the exit code it maps to."""

    def __init__(self, message: str, exit_code: int = ExitCode.ENVIRONMENT, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.detail = detail


class Operation(StrEnum):
    PREVIEW = "preview"
    UP = "up"
    DESTROY = "destroy"
    REFRESH = "refresh"

    @property
    def changes(self) -> bool:
        return self is not Operation.PREVIEW


@dataclass(frozen=True)
class Target:
    """Where an operation runs: the stack, the project directory and the backend."""

    stack: str
    project_dir: Path = PROJECT_DIR
    backend_url: str = ""

    @classmethod
    def from_environment(cls, stack: str, environ: Mapping[str, str] = os.environ, project_dir: Path = PROJECT_DIR) -> Target:
        return cls(stack=stack, project_dir=project_dir, backend_url=backend_url(environ))


def backend_url(environ: Mapping[str, str] = os.environ) -> str:
    """`PULUMI_BACKEND_URL`, else a local file backend in the user's home (created on first use)."""
    return environ.get("PULUMI_BACKEND_URL") or f"file://{DEFAULT_BACKEND_DIR.expanduser()}"


def require_cli() -> None:
    if shutil.which("pulumi") is None:
        raise DeployError(MISSING_CLI)


def needed_cli_version() -> str:
    """The CLI version this toolkit runs with: the pulumi SDK's (pinned in pyproject.toml)."""
    return f"v{installed_version('pulumi')}"


def reported_cli_version() -> str:
    """The first word `pulumi version` prints, bounded and printable (it goes into a message)."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv
            ["pulumi", "version"], capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = (result.stdout.split() or [""])[0][:40]
    return "".join(char if char.isprintable() else "?" for char in first)


def unusable_cli() -> DeployError:
    return DeployError(
        f"The Pulumi CLI on PATH reports version {reported_cli_version() or 'nothing'!r}, which the Automation API cannot use: "
        f"install Pulumi CLI {needed_cli_version()} (the pulumi SDK's version) and run this command again."
    )


def passphrase_env(
    target: Target, environ: Mapping[str, str] = os.environ, *, prompt: Callable[[str], str] | None = None
) -> dict[str, str]:
    """The passphrase variables for the engine: from the environment, a file, or a prompt."""
    if PASSPHRASE in environ:
        return {PASSPHRASE: environ[PASSPHRASE]}
    if environ.get(PASSPHRASE_FILE):
        path = Path(environ[PASSPHRASE_FILE]).expanduser()
        if not path.is_file() or not os.access(path, os.R_OK):
            raise DeployError(f"{PASSPHRASE_FILE} points at {path}, which is not a readable file.")
        return {PASSPHRASE_FILE: str(path)}
    if prompt is not None:
        return {PASSPHRASE: prompt(f"Passphrase for the secrets of stack {target.stack}: ")}
    raise DeployError(
        f"No passphrase for the secrets of stack {target.stack}: set {PASSPHRASE} or {PASSPHRASE_FILE} "
        "(or run on a terminal to be asked for it)."
    )


def terminal_prompt() -> Callable[[str], str] | None:
    return getpass.getpass if sys.stdin.isatty() else None


def workspace(target: Target, env_vars: Mapping[str, str]) -> auto.LocalWorkspace:
    require_cli()
    if target.backend_url.startswith("file://"):  # a file backend's directory must exist
        Path(target.backend_url.removeprefix("file://")).expanduser().mkdir(parents=True, exist_ok=True)
    try:
        return auto.LocalWorkspace(
            work_dir=str(target.project_dir),
            env_vars={"PULUMI_BACKEND_URL": target.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true", **env_vars},
            secrets_provider="passphrase",
        )
    except FileNotFoundError as error:  # the Automation API's only word for "no pulumi binary"
        raise DeployError(MISSING_CLI) from error
    except (auto.InvalidVersionError, subprocess.CalledProcessError) as error:  # `pulumi version` unparsable or failing
        raise unusable_cli() from error


def unknown_stack(target: Target) -> DeployError:
    return DeployError(
        f"Stack {target.stack} does not exist in the backend {target.backend_url}: create it with "
        f"`python cli.py up --stack {target.stack}`, or point PULUMI_BACKEND_URL at the backend that holds it."
    )


def passphrase_rejected(target: Target) -> DeployError:
    return DeployError(
        f"The passphrase does not unlock the secrets of stack {target.stack}: set {PASSPHRASE} "
        f"(or {PASSPHRASE_FILE}) to the passphrase the stack was created with."
    )


def explain(error: Exception, target: Target, what: str) -> DeployError:
    """The Automation API's exceptions as one sentence each."""
    text = str(error)
    if isinstance(error, DeployError):
        return error
    if isinstance(error, FileNotFoundError):
        return DeployError(MISSING_CLI)
    if isinstance(error, auto.StackNotFoundError):
        return unknown_stack(target)
    if isinstance(error, auto.ConcurrentUpdateError):
        holder = LOCK_HOLDER.search(text)
        return DeployError(
            f"Stack {target.stack} is locked by another update that is still running (or died holding the lock): "
            "wait for it to finish, or remove the lock Pulumi names below once you are sure it is dead.",
            detail=holder.group(0) if holder else "",
        )
    if isinstance(error, auto.CommandError) and PASSPHRASE_REJECTED.search(text):
        return passphrase_rejected(target)
    if isinstance(error, auto.CommandError) and (host := NO_LANGUAGE_HOST.search(text)):
        return DeployError(
            f"The Pulumi engine cannot run the program of stack {target.stack}: its Python language host "
            f"(`{host.group(1)}`, shipped with the Pulumi CLI's release archive) is not on PATH, so install the CLI "
            "from that archive and run this command again."
        )
    if isinstance(error, auto.CommandError) and (plugin := NO_PROVIDER_PLUGIN.search(text)):
        name, version = plugin.groups()
        return DeployError(
            f"pulumi {what} of stack {target.stack} needs the {name} provider plugin v{version}, which is not installed: "
            f"install it with `pulumi plugin install resource {name} {version}` and run this command again."
        )
    if isinstance(error, auto.CommandError):
        return DeployError(f"pulumi {what} failed for stack {target.stack}.", ExitCode.FAILED, detail=_stderr_tail(text))
    raise error


def _stderr_tail(text: str, lines: int = 15) -> str:
    stderr = text.split(" stderr:", 1)[-1]
    return "\n".join(line for line in stderr.strip().splitlines()[-lines:])


def open_stack(target: Target, env_vars: Mapping[str, str], *, create: bool) -> auto.Stack:
    ws = workspace(target, env_vars)
    try:
        return auto.Stack.create_or_select(target.stack, ws) if create else auto.Stack.select(target.stack, ws)
    except Exception as error:
        raise explain(error, target, "stack select") from error


class DeployView(Protocol):
    """What an operation shows while it runs (the CLI draws it with Rich: `infra.cli.views`)."""

    def stage(self, title: str) -> None: ...
    def changes(self, title: str, changes: Mapping[str, int] | None) -> None: ...
    def on_output(self, line: str) -> None: ...
    def on_event(self, event: auto.EngineEvent) -> None: ...


def confirm(operation: Operation, target: Target, ask: Callable[[str], bool] | None) -> None:
    if ask is None:
        raise DeployError(f"Refusing to {operation.value} stack {target.stack} without --yes: there is no terminal to confirm on.")
    if not ask(f"Do you want to {operation.value} stack {target.stack}?"):
        raise DeployError(f"{operation.value} of stack {target.stack} cancelled.", ExitCode.FAILED)


@dataclass
class Deployer:
    """Runs one operation on one stack; `policy_pack` adds the CrossGuard pack to previews and updates."""

    target: Target
    view: DeployView
    env_vars: dict[str, str]
    policy_pack: bool = True

    def _packs(self) -> list[str] | None:
        return [str(POLICY_PACK_DIR)] if self.policy_pack else None

    def run(self, operation: Operation, *, yes: bool, ask: Callable[[str], bool] | None) -> int:
        stack = open_stack(self.target, self.env_vars, create=operation in {Operation.PREVIEW, Operation.UP})
        streams = {"on_output": self.view.on_output, "on_event": self.view.on_event, "color": "never"}
        try:
            if operation is Operation.PREVIEW or not yes:
                what = "" if operation is Operation.PREVIEW else f"{operation.value} on "
                self.view.stage(f"preview of {what}stack {self.target.stack}")
                changes = self._preview(stack, operation, streams)
                self.view.changes(f"{operation.value} would do", changes)
                if operation is Operation.PREVIEW:
                    return ExitCode.OK
                confirm(operation, self.target, ask)
            self.view.stage(f"{operation.value} of stack {self.target.stack}")
            summary = self._apply(stack, operation, streams)
        except DeployError:
            raise
        except Exception as error:
            raise explain(error, self.target, operation.value) from error
        self.view.changes(f"{operation.value} of {self.target.stack}: {summary.result}", summary.resource_changes)
        if summary.result != "succeeded":
            raise DeployError(f"pulumi {operation.value} of stack {self.target.stack} ended {summary.result}.", ExitCode.FAILED)
        return ExitCode.OK

    def _preview(self, stack: auto.Stack, operation: Operation, streams: dict) -> Mapping[str, int]:
        if operation is Operation.DESTROY:
            return stack.preview_destroy(show_secrets=False, **streams).change_summary
        if operation is Operation.REFRESH:
            return stack.preview_refresh(show_secrets=False, **streams).change_summary
        return stack.preview(policy_packs=self._packs(), **streams).change_summary

    def _apply(self, stack: auto.Stack, operation: Operation, streams: dict) -> auto.UpdateSummary:
        if operation is Operation.UP:
            return stack.up(policy_packs=self._packs(), show_secrets=False, **streams).summary
        if operation is Operation.DESTROY:
            return stack.destroy(show_secrets=False, **streams).summary
        return stack.refresh(show_secrets=False, **streams).summary
