"""The scheduled jobs: `backup` (snapshots, retention, off-site copy), `check`, `drill`.

Each job records its result in the state file and rewrites the metrics textfile; a failure
of one data set or step is recorded and the job goes on with the rest.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from . import metrics, state
from .config import BackupConfig
from .credentials import Credentials
from .datasets import DataSet, back_up, datasets
from .drill import DrillError, drill
from .restic import Repository, Restic, ResticError

log = logging.getLogger("platform_backup")
ERRORS = (ResticError, DrillError, OSError, psycopg.Error, RuntimeError)


def local_restic(config: BackupConfig, credentials: Credentials) -> Restic:
    repository = Repository(password_file=credentials.password_file, location=str(config.repository))
    return Restic(repository, cache_dir=config.state_dir / "cache", host=config.environment)


def offsite_restic(config: BackupConfig, credentials: Credentials) -> Restic | None:
    if credentials.offsite is None:
        return None
    return Restic(credentials.offsite, cache_dir=config.state_dir / "cache", host=config.environment)


def _by_days(groups: dict[int, list[list[str]]], restic: Restic) -> int:
    return sum(len(restic.forget(tag_groups, days)) for days, tag_groups in sorted(groups.items()))


def _step(failures: list[str], what: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except ERRORS as exc:
        failures.append(f"{what}: {exc}")
        log.error("%s failed: %s", what, exc)
        return None


def run_backup(config: BackupConfig, credentials: Credentials, now: datetime | None = None) -> dict[str, Any]:
    """Snapshot every data set (at `now`, restic's `--time`, if given), apply retention, copy off-site."""
    clock = time.monotonic()
    local = local_restic(config, credentials)
    failures: list[str] = []
    result: dict[str, Any] = {"datasets": {}, "offsite": None}
    expected: dict[str, Any] = state.load(config.state_dir).get("expected", {})
    if _step(failures, "local repository", local.ensure) is None:
        return _finish(config, "backup", result, failures, clock)
    everything = datasets(config)
    openbao = (config.openbao.address, credentials.openbao_token_file)
    for dataset in everything:
        started = time.monotonic()
        outcome = _step(failures, f"backup of {dataset.name}", lambda d=dataset: back_up(d, local, config.secrets_dir, openbao, now))
        result["datasets"][dataset.name] = {
            "service": dataset.service, "kind": dataset.kind, "success": outcome is not None,
            "seconds": round(time.monotonic() - started, 3),
        }
        if outcome is not None:
            snapshot = outcome.snapshot
            result["datasets"][dataset.name] |= {"snapshot": snapshot.id, "bytes": snapshot.processed_bytes, "added_bytes": snapshot.added_bytes}
            log.info("backed up %s: snapshot %s, %d bytes, %d new", dataset.name, snapshot.id[:8], snapshot.processed_bytes, snapshot.added_bytes)
            if outcome.expected is not None:
                expected[dataset.name] = {"snapshot": snapshot.id, "tables": outcome.expected}
    local_groups: dict[int, list[list[str]]] = defaultdict(list)
    for dataset in everything:
        local_groups[config.retention[dataset.kind].local_days].append([f"dataset:{dataset.name}"])  # type: ignore[index]
    forgotten = _step(failures, "local retention", lambda: _by_days(local_groups, local))
    _step(failures, "local prune", local.prune)
    result["forgotten_local"] = forgotten or 0
    result["offsite"] = _offsite(config, credentials, local, everything, failures)
    result["repository_bytes"] = _step(failures, "repository size", local.raw_size) or 0
    return _finish(config, "backup", result, failures, clock, expected=expected)


def _offsite(config: BackupConfig, credentials: Credentials, local: Restic, everything: list[DataSet], failures: list[str]) -> bool | None:
    """Copy the kinds that go off-site and apply the off-site retention; None when not configured."""
    if credentials.offsite_problem is not None:
        failures.append(f"off-site copy: {credentials.offsite_problem}")
        return False
    offsite = offsite_restic(config, credentials)
    if offsite is None:
        return None
    days_by_kind = {kind: r.offsite_days for kind, r in config.retention.items() if r.offsite_days is not None}
    kinds = sorted({d.kind for d in everything} & set(days_by_kind))
    if not kinds:
        return None
    before = len(failures)
    if _step(failures, "off-site repository", lambda: offsite.ensure(chunker_source=local.repository)) is None:
        return False
    _step(failures, "off-site copy", lambda: offsite.copy_from(local, [[f"kind:{k}"] for k in kinds]))
    groups: dict[int, list[list[str]]] = defaultdict(list)
    for kind in kinds:
        groups[days_by_kind[kind]].append([f"kind:{kind}"])  # type: ignore[index]
    _step(failures, "off-site retention", lambda: _by_days(groups, offsite))
    _step(failures, "off-site prune", offsite.prune)
    return len(failures) == before


def run_check(config: BackupConfig, credentials: Credentials, read_all: bool = False) -> dict[str, Any]:
    """`restic check` with a random subset of the data read back (all of it with `read_all`), local and off-site."""
    clock = time.monotonic()
    failures: list[str] = []
    repositories: dict[str, bool] = {}
    subset = None if read_all else config.check_read_data_subset
    for name, restic in (("local", local_restic(config, credentials)), ("offsite", offsite_restic(config, credentials))):
        if restic is not None:
            repositories[name] = _step(failures, f"check of the {name} repository", lambda r=restic: r.check(subset, read_all) or True) is not None
    return _finish(config, "check", {"repositories": repositories}, failures, clock)


def run_drill(config: BackupConfig, credentials: Credentials) -> dict[str, Any]:
    """Restore the latest snapshot of every database into a throw-away database and compare."""
    clock = time.monotonic()
    local = local_restic(config, credentials)
    recorded = state.load(config.state_dir).get("expected", {})
    failures: list[str] = []
    results: dict[str, Any] = {}
    for dataset in datasets(config):
        if dataset.database is None:
            continue
        started = time.monotonic()
        outcome = _step(failures, f"restore drill of {dataset.name}", lambda d=dataset: drill(d, local, config.secrets_dir, recorded.get(d.name)))
        results[dataset.name] = {"success": outcome is not None, "seconds": round(time.monotonic() - started, 3)}
        if outcome is not None:
            results[dataset.name] |= {"snapshot": outcome.snapshot, "tables": outcome.tables, "rows": outcome.rows, "compared_with": outcome.compared_with}
            log.info("restore drill of %s passed: %d tables, %d rows (against %s)", dataset.name, outcome.tables, outcome.rows, outcome.compared_with)
    return _finish(config, "drill", {"datasets": results}, failures, clock)


def record_failure(config: BackupConfig, job: str, message: str) -> dict[str, Any]:
    """A job that could not start (e.g. OpenBao unreachable), recorded as failed."""
    return _finish(config, job, {}, [message], time.monotonic())


def _finish(config: BackupConfig, job: str, result: dict[str, Any], failures: list[str], clock: float, **extra: Any) -> dict[str, Any]:
    result |= {"success": not failures, "failures": failures, "seconds": round(time.monotonic() - clock, 3), "finished": time.time()}
    if job == "backup" and result["success"]:
        extra["last_success"] = result["finished"]
    state.record(config.state_dir, job, result, **extra)
    metrics.write_textfile(config.state_dir)
    return result
