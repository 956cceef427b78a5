"""What the last backup, check and drill did, kept as JSON beside the repository (survives restarts).

`expected` holds, per PostgreSQL data set, the row counts and checksums recorded in the
dump's own snapshot: what the restore drill must get back from that snapshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"


def load(directory: Path) -> dict[str, Any]:
    try:
        state = json.loads((directory / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def save(directory: Path, state: dict[str, Any]) -> None:
    """Atomic write (a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{STATE_FILE}.partial"
    partial.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(partial, directory / STATE_FILE)


def record(directory: Path, job: str, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Store `result` as the last run of `job` (and `extra` top-level entries); returns the new state."""
    state = load(directory)
    state[job] = result
    state |= extra
    save(directory, state)
    return state
