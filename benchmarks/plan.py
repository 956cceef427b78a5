"""Benchmark: offline plan of the prod stack vs the import floor of the Pulumi SDKs.

Prints the number of resources, the plan's wall time (a whole `cli.py plan --json` process),
the floor (`python -c "import pulumi, pulumi_docker, pulumi_keycloak, pulumi_vault"`) measured
in the same run, and their ratio. Target once the platform is complete: ratio <= 2.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
FLOOR = "import pulumi, pulumi_docker, pulumi_keycloak, pulumi_vault"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plan.json"
        plan_cmd = [sys.executable, str(ROOT / "cli.py"), "plan", "--stack", "prod", "--json", str(out)]
        floor_cmd = [sys.executable, "-c", FLOOR]
        timed(plan_cmd)  # warm the file cache and .pyc files
        plans, floors = [], []
        for _ in range(RUNS):
            plans.append(timed(plan_cmd))
            floors.append(timed(floor_cmd))
        resources = len(json.loads(out.read_text())["deployment"]["resources"])
    plan, floor = statistics.median(plans), statistics.median(floors)
    print(f"resources:        {resources}")
    print(f"plan wall time:   {plan:.3f} s (median of {RUNS})")
    print(f"import floor:     {floor:.3f} s (median of {RUNS})")
    print(f"ratio plan/floor: {plan / floor:.2f} (target <= 2.00)")


if __name__ == "__main__":
    main()
