"""The restic command line, as this container uses it.

Every secret reaches restic as a file (`--password-file`, `--repository-file`,
`--from-password-file`, `--from-repository-file`), never through the environment or argv;
RESTIC_* variables inherited from outside are dropped. restic ≥ 0.17 is required
(`--stdin-from-command`: a dump that fails leaves no snapshot behind).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

RESTIC = os.environ.get("PLATFORM_BACKUP_RESTIC", "restic")
NO_REPOSITORY_EXIT = 10  # restic: "repository does not exist"
TIMEOUT_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Snapshot:
    """A snapshot just written: its id, the bytes read, and the bytes new to the repository (before compression)."""

    id: str
    processed_bytes: int
    added_bytes: int


class ResticError(RuntimeError):
    """restic failed; the message carries its last lines of stderr (secrets redacted)."""


@dataclass(frozen=True)
class Repository:
    """A restic repository: a location (or a file holding it, when it embeds credentials) and its password file."""

    password_file: Path
    location: str | None = None
    location_file: Path | None = None
    options: tuple[str, ...] = ()
    """`-o key=value` back-end options (e.g. `sftp.args=-i /run/…/key`)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Non-secret environment the back end reads (e.g. AWS_SHARED_CREDENTIALS_FILE, a path)."""

    def args(self) -> list[str]:
        where = ["--repo", self.location] if self.location else ["--repository-file", str(self.location_file)]
        options = [part for option in self.options for part in ("-o", option)]
        return [*where, "--password-file", str(self.password_file), *options]

    def source_args(self) -> list[str]:
        """The same repository as the source of `restic copy`."""
        where = ["--from-repo", self.location] if self.location else ["--from-repository-file", str(self.location_file)]
        return [*where, "--from-password-file", str(self.password_file)]

    def secrets(self) -> list[str]:
        """Texts never to show in a message: the password and a credential-bearing location."""
        values = [_read(self.password_file)]
        if self.location_file is not None:
            values.append(_read(self.location_file))
        return [v for v in values if v]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


@dataclass(frozen=True)
class Restic:
    """Runs restic against one repository; `cache_dir` keeps its index cache between runs."""

    repository: Repository
    cache_dir: Path
    host: str

    def _command(self, *args: str) -> list[str]:
        return [RESTIC, *self.repository.args(), "--cache-dir", str(self.cache_dir), "--quiet", *args]

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        return env | dict(self.repository.env) | dict(extra or {})

    def run(self, *args: str, extra_env: Mapping[str, str] | None = None, secrets: Sequence[str] = ()) -> str:
        completed = subprocess.run(  # noqa: S603 - argv built here
            self._command(*args), capture_output=True, text=True, env=self._env(extra_env), timeout=TIMEOUT_SECONDS, check=False
        )
        if completed.returncode != 0:
            raise self._error(args[0], completed.returncode, completed.stderr, secrets)
        return completed.stdout

    def _error(self, command: str, code: int, stderr: str, secrets: Sequence[str] = ()) -> ResticError:
        lines = [_message(line) for line in stderr.strip().splitlines() if line.strip()][-3:]
        message = redact(" | ".join(lines), [*self.repository.secrets(), *secrets])
        return ResticError(f"restic {command} exited with {code}: {message}")

    # -- repository ------------------------------------------------------------------
    def exists(self) -> bool:
        completed = subprocess.run(  # noqa: S603
            self._command("cat", "config"), capture_output=True, text=True, env=self._env(), timeout=600, check=False
        )
        if completed.returncode == 0:
            return True
        if completed.returncode == NO_REPOSITORY_EXIT:
            return False
        raise self._error("cat config", completed.returncode, completed.stderr)

    def ensure(self, chunker_source: Repository | None = None) -> bool:
        """Initialise the repository if it does not exist; True if it was created.

        An off-site copy takes the local repository's chunker parameters, so `restic copy`
        keeps deduplicating.
        """
        if self.exists():
            # a job stopped half-way (its container restarted: the lab saw it) leaves its lock, and every
            # later forget/prune fails on it; `unlock` removes only stale locks, never a live job's
            self.run("unlock")
            return False
        extra = [*chunker_source.source_args(), "--copy-chunker-params"] if chunker_source else []
        self.run("init", *extra)
        return True

    # -- snapshots -------------------------------------------------------------------
    def backup_command(self, command: Sequence[str], filename: str, tags: Sequence[str], when: datetime | None = None,
                       env: Mapping[str, str] | None = None, secrets: Sequence[str] = ()) -> Snapshot:
        """Snapshot a dump tool's stdout as one file. A failing tool leaves no snapshot."""
        args = ["backup", "--json", "--host", self.host, "--stdin-from-command", "--stdin-filename", filename, *_tags(tags), *_time(when), "--", *command]
        return _summary(self.run(*args, extra_env=env, secrets=secrets))

    def backup_paths(self, paths: Sequence[Path], tags: Sequence[str], when: datetime | None = None) -> Snapshot:
        args = ["backup", "--json", "--host", self.host, *_tags(tags), *_time(when), *(str(p) for p in paths)]
        return _summary(self.run(*args))

    def snapshots(self, tags: Sequence[str] = (), latest: bool = False) -> list[dict]:
        """Snapshots (oldest first) carrying all of `tags`."""
        args = ["snapshots", "--json", "--host", self.host]
        if tags:
            args += ["--tag", ",".join(tags)]
        if latest:
            args += ["--latest", "1"]
        return json.loads(self.run(*args) or "[]")

    def forget(self, tag_groups: Sequence[Sequence[str]], keep_within_days: int) -> list[str]:
        """Forget snapshots (carrying all tags of any group) older than `keep_within_days` before the
        newest of their data set; the newest is always kept. Returns the forgotten ids."""
        tag_args = [part for group in tag_groups for part in ("--tag", ",".join(group))]
        out = self.run("forget", "--json", "--host", self.host, "--group-by", "host,tags", *tag_args, "--keep-within", f"{keep_within_days}d")
        return [snap["id"] for group in json.loads(out or "[]") for snap in group.get("remove") or []]

    def prune(self) -> None:
        self.run("prune")

    def check(self, read_data_subset: str | None = None, read_all: bool = False) -> None:
        args = ["check"]
        if read_all:
            args.append("--read-data")
        elif read_data_subset:
            args.append(f"--read-data-subset={read_data_subset}")
        self.run(*args)

    def copy_from(self, source: Restic, tag_groups: Sequence[Sequence[str]]) -> None:
        """Copy the snapshots of `source` that are not here yet (restic's own dedup and encryption)."""
        tag_args = [part for group in tag_groups for part in ("--tag", ",".join(group))]
        self.run("copy", *source.repository.source_args(), "--host", self.host, *tag_args, secrets=source.repository.secrets())

    def raw_size(self) -> int:
        """Bytes the repository stores (after deduplication and compression)."""
        return int(json.loads(self.run("stats", "--json", "--mode", "raw-data"))["total_size"])

    @contextmanager
    def dump(self, snapshot: str, path: str) -> Iterator[IO[bytes]]:
        """Stream one file of a snapshot (`restic dump`); raises if restic fails."""
        process = subprocess.Popen(  # noqa: S603
            self._command("dump", snapshot, path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env()
        )
        assert process.stdout is not None and process.stderr is not None
        try:
            yield process.stdout
        finally:
            process.stdout.close()
            stderr = process.stderr.read().decode(errors="replace")
            code = process.wait()
        if code != 0:
            raise self._error("dump", code, stderr)


def _message(line: str) -> str:
    """restic's `--json` errors are JSON lines; keep their message."""
    try:
        message = json.loads(line)
    except ValueError:
        return line
    if not isinstance(message, dict):
        return line
    return str(message.get("message") or (message.get("error") or {}).get("message") or line)


def _tags(tags: Sequence[str]) -> list[str]:
    return [part for tag in tags for part in ("--tag", tag)]


def _time(when: datetime | None) -> list[str]:
    """restic's `--time` (local wall time of the snapshot); tests use it as a fake clock."""
    return ["--time", when.astimezone().strftime("%Y-%m-%d %H:%M:%S")] if when else []


def _summary(output: str) -> Snapshot:
    for line in reversed(output.strip().splitlines()):
        message = json.loads(line)
        if message.get("message_type") == "summary" and message.get("snapshot_id"):
            return Snapshot(message["snapshot_id"], int(message.get("total_bytes_processed", 0)), int(message.get("data_added", 0)))
    raise ResticError("restic backup printed no snapshot id")
