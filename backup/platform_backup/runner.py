"""One backup run: every dump streamed into its encrypted file, a manifest, pruning, off-site copy."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from . import crypto, retention
from .config import BackupConfig
from .dumps import Dump, DumpError, dumps_for, volume_dump
from .restore_check import RestoreCheckError, check_postgres

log = logging.getLogger("platform_backup")
LAST_RUN_FILE = ".last-run.json"
ENCRYPTED_SUFFIX = ".enc"


@dataclass
class RunResult:
    path: Path
    started: datetime
    seconds: float = 0.0
    files: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    restore_checks: list[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures


class _Hashing:
    """Counts and hashes what passes through to the ciphertext file."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink, self.size, self.sha256 = sink, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.size += len(data)
        self.sha256.update(data)
        return len(data)

    def flush(self) -> None:
        self.sink.flush()


def _encrypted(dump: Dump, directory: Path, key: bytes) -> dict:
    target = directory / (dump.filename + ENCRYPTED_SUFFIX)
    with target.open("wb") as handle:
        hashing = _Hashing(handle)
        writer = crypto.EncryptingWriter(hashing, key)  # type: ignore[arg-type]
        dump.write(writer)  # type: ignore[arg-type]
        writer.close()
    return {"file": target.name, "target": dump.target, "kind": dump.kind, "bytes": hashing.size, "sha256": hashing.sha256.hexdigest()}


def run_backup(config: BackupConfig, now: datetime | None = None) -> RunResult:
    """Dump everything into a new run directory; failures are recorded, never hidden."""
    started = now or datetime.now(UTC)
    clock = time.monotonic()
    key = crypto.load_key(config.key_file)
    directory = config.local_path / retention.run_name(started)
    directory.mkdir(parents=True, exist_ok=False, mode=0o700)
    result = RunResult(path=directory, started=started)
    plan: list[Dump] = []
    for target in config.targets:
        try:
            plan += dumps_for(target)
        except OSError as exc:
            result.failures.append(f"{target.name}: cannot read its password file ({exc.strerror})")
    plan += [volume_dump(volume) for volume in config.volumes]
    for dump in plan:
        try:
            result.files.append(_encrypted(dump, directory, key))
            log.info("backed up %s (%s)", dump.filename, dump.kind)
        except (DumpError, OSError) as exc:
            (directory / (dump.filename + ENCRYPTED_SUFFIX)).unlink(missing_ok=True)
            result.failures.append(str(exc))
            log.error("backup of %s failed: %s", dump.filename, exc)
    if config.restore_check:
        _restore_checks(config, result, key)
    result.seconds = time.monotonic() - clock
    manifest = {
        "created": started.isoformat(),
        "format": crypto.FORMAT,
        "files": result.files,
        "failures": result.failures,
        "restore_checks": result.restore_checks,
        "seconds": round(result.seconds, 3),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if result.success:
        (directory / retention.COMPLETE_MARKER).write_text(started.isoformat() + "\n")
    _record_last_run(config.local_path, result)
    return result


def _restore_checks(config: BackupConfig, result: RunResult, key: bytes) -> None:
    """Restore every fresh PostgreSQL dump of this run into a scratch database (BK-03)."""
    written = {entry["file"] for entry in result.files}
    for target in config.targets:
        if target.engine != "postgres":
            continue
        for database in target.databases:
            encrypted = result.path / f"{target.name}.{database}.pgdump{ENCRYPTED_SUFFIX}"
            if encrypted.name not in written:
                continue
            try:
                check = check_postgres(target, database, encrypted, key)
                result.restore_checks.append({"target": check.target, "database": check.database, "tables": check.tables, "rows": check.rows})
                log.info("restore check of %s/%s passed (%d tables, %d rows)", target.name, database, check.tables, check.rows)
            except (RestoreCheckError, crypto.DecryptionError, OSError) as exc:
                result.failures.append(f"restore check: {exc}")
                log.error("restore check of %s/%s failed: %s", target.name, database, exc)


def _record_last_run(root: Path, result: RunResult) -> None:
    record = {"finished": datetime.now(UTC).isoformat(), "run": result.path.name, "success": result.success, "seconds": result.seconds}
    (root / LAST_RUN_FILE).write_text(json.dumps(record) + "\n")


def last_run(root: Path) -> dict | None:
    try:
        return json.loads((root / LAST_RUN_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
