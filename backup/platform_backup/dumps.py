"""App-aware dumps, streamed: each dump's bytes go straight into an encrypting writer.

PostgreSQL: `pg_dump -Fc` per database plus `pg_dumpall --globals-only` (roles);
MySQL: `mysqldump --single-transaction`; Redis: `redis-cli --rdb -` (an RDB snapshot
over the replication protocol); volumes: tar.gz of the read-only mount. Passwords go
to the dump tools through their environment or a 0600 option file, never argv.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .config import Target, VolumeSource

COPY_BYTES = 1 << 20


class DumpError(RuntimeError):
    """A dump tool failed (names the target and the tool's own message)."""


@dataclass(frozen=True)
class Dump:
    """One file of a run: `write(sink)` streams its plaintext into `sink`."""

    target: str
    kind: str
    filename: str
    command: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    volume: VolumeSource | None = None
    option_file: str | None = None

    def write(self, sink: BinaryIO) -> None:
        if self.volume is not None:
            _tar(self.volume, sink)
            return
        with _option_file(self.option_file) as option_path:
            command = [part.replace("{option_file}", option_path or "") for part in self.command or ()]
            _stream(self.target, command, dict(self.env), sink)


def dumps_for(target: Target) -> list[Dump]:
    password = target.password_file.read_text().strip()
    if target.engine == "postgres":
        env = (("PGPASSWORD", password), ("PGCONNECT_TIMEOUT", "10"))
        connection = ("-h", target.host, "-p", str(target.port), "-U", target.user, "--no-password")
        dumps = [Dump(target.name, "pg_globals", f"{target.name}.globals.sql", ("pg_dumpall", *connection, "--globals-only"), env)]
        dumps += [
            Dump(target.name, "pg_dump", f"{target.name}.{db}.pgdump", ("pg_dump", *connection, "--format=custom", "--dbname", db), env)
            for db in target.databases
        ]
        return dumps
    if target.engine == "mysql":
        options = f"[client]\nuser={target.user}\npassword={password}\nhost={target.host}\nport={target.port}\n"
        return [
            Dump(
                target.name,
                "mysqldump",
                f"{target.name}.{db}.sql",
                ("mysqldump", "--defaults-extra-file={option_file}", "--single-transaction", "--routines", "--events", "--triggers", "--databases", db),
                option_file=options,
            )
            for db in target.databases
        ]
    env = (("REDISCLI_AUTH", password),)
    command = ("redis-cli", "-h", target.host, "-p", str(target.port), "--no-auth-warning", "--rdb", "-")
    return [Dump(target.name, "redis_rdb", f"{target.name}.rdb", command, env)]


def volume_dump(volume: VolumeSource) -> Dump:
    return Dump(volume.name, "volume_tar", f"{volume.name}.tar.gz", volume=volume)


def _stream(target: str, command: list[str], env: dict[str, str], sink: BinaryIO) -> None:
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env={**os.environ, **env})
        except FileNotFoundError:
            raise DumpError(f"{target}: {command[0]} is not installed") from None
        assert process.stdout is not None
        while chunk := process.stdout.read(COPY_BYTES):
            sink.write(chunk)
        code = process.wait()
        if code != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip().splitlines()[-3:]
            raise DumpError(f"{target}: {command[0]} exited with {code}: {' | '.join(message)}")


def _tar(volume: VolumeSource, sink: BinaryIO) -> None:
    if not volume.path.is_dir():
        raise DumpError(f"{volume.name}: {volume.path} is not a mounted directory")
    with tarfile.open(fileobj=sink, mode="w|gz") as archive:
        archive.add(volume.path, arcname=volume.name)


@contextmanager
def _option_file(content: str | None) -> Iterator[str | None]:
    """A private (0600) temporary option file for tools that take passwords that way."""
    if content is None:
        yield None
        return
    descriptor, path = tempfile.mkstemp(prefix="backup-", suffix=".cnf")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        yield path
    finally:
        Path(path).unlink(missing_ok=True)
