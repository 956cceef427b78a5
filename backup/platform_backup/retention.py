"""Run directories (`YYYYmmddTHHMMSSZ`) and their pruning after `retention_days`."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

RUN_FORMAT = "%Y%m%dT%H%M%SZ"
COMPLETE_MARKER = "COMPLETE"


def run_name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(RUN_FORMAT)


def run_time(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.name, RUN_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def runs(root: Path) -> list[Path]:
    """Run directories under `root`, oldest first (other entries are ignored)."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and run_time(p) is not None), key=lambda p: p.name)


def complete_runs(root: Path) -> list[Path]:
    return [p for p in runs(root) if (p / COMPLETE_MARKER).exists()]


def prune(root: Path, retention_days: int, now: datetime) -> list[Path]:
    """Delete runs older than `retention_days`; the newest complete run is always kept."""
    cutoff = now - timedelta(days=retention_days)
    complete = complete_runs(root)
    keep = complete[-1] if complete else None
    removed = []
    for path in runs(root):
        moment = run_time(path)
        if moment is not None and moment < cutoff and path != keep:
            shutil.rmtree(path)
            removed.append(path)
    return removed
