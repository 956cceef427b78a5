"""The lab report: every live check with its outcome, the isolation matrix, timings, stand-ins.

Written as JSON (`out/lab/report.json`); the CLI prints it as a table. No secret is ever in
it: checks report statuses, names and counts, never credentials.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.ops.lab.checks import CheckResult

REPO_ROOT = Path(__file__).resolve().parents[3]
REPORT_FILE = REPO_ROOT / "out" / "lab" / "report.json"


@dataclass
class LabReport:
    stack: str
    checks: list[CheckResult]
    timings: dict[str, float] = field(default_factory=dict)
    stand_ins: list[str] = field(default_factory=list)
    applied: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "passed": self.passed,
            "checks": [asdict(check) for check in self.checks],
            "timings_seconds": {key: round(value, 1) for key, value in self.timings.items()},
            "stand_ins": self.stand_ins,
            "applied": self.applied,
        }

    def write(self, path: Path = REPORT_FILE) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=True, default=str) + "\n")
        return path
