"""What the lab keeps between runs: its key, OpenBao's unseal material and its users, root-only.

Everything secret the lab generates lives in one JSON file, mode 0600 in a 0700 directory
owned by root, and is never printed: the lab key (the plan's random values are derived from
it, so a second `lab up` converges instead of replacing every container), OpenBao's unseal
key and root token, and the lab users with their passwords and OTP secrets.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_ROOT = Path(os.environ.get("SEVENSA_LAB_STATE", "/var/lib/sevensa-lab"))
FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass
class LabState:
    stack: str
    root: Path = STATE_ROOT

    @property
    def directory(self) -> Path:
        return self.root / self.stack

    @property
    def secrets_file(self) -> Path:
        return self.directory / "secrets.json"

    def load(self) -> dict[str, Any]:
        if not self.secrets_file.exists():
            return {}
        return json.loads(self.secrets_file.read_text())

    def save(self, data: dict[str, Any]) -> None:
        """Write atomically, created 0600 (never briefly readable by others)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.chmod(self.directory, DIR_MODE)
        temporary = self.secrets_file.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, self.secrets_file)

    def update(self, **values: Any) -> dict[str, Any]:
        data = self.load() | values
        self.save(data)
        return data

    def key(self) -> bytes:
        """The lab key (generated on first use)."""
        data = self.load()
        if "lab_key" not in data:
            data = self.update(lab_key=secrets.token_hex(32))
        return bytes.fromhex(data["lab_key"])

    def remove(self) -> None:
        if self.secrets_file.exists():
            self.secrets_file.unlink()
        if self.directory.exists() and not any(self.directory.iterdir()):
            self.directory.rmdir()
