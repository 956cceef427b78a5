"""Benchmark: offline plan of the prod stack vs the import floor of the Pulumi SDKs.

Prints the number of resources, the plan's wall time and CPU time (a whole `cli.py plan --json`
process), the floor (`python -c "import pulumi, pulumi_docker, pulumi_keycloak, pulumi_vault"`)
measured in the same run, and their ratios. Target: ratio <= 2 (then 1.5). The CPU ratio is
the one to read on a busy machine: wall time also counts waiting for a core.

Plan and floor run alternately, and each plan's CPU is also divided by the floor's right after it: on a
shared VM the CPU time of the same process moves by 15 % and more from one second to the next (pairs of one
run ranged from 1.6 to 2.7 while the ratio of medians read 2.0), so the spread of those paired ratios and
the ratio of the fastest runs (the figure timeit's documentation recommends: interference only ever adds
time) are printed too.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
FLOOR = "import pulumi, pulumi_docker, pulumi_keycloak, pulumi_vault"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole process."""
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plan.json"
        plan_cmd = [sys.executable, str(ROOT / "cli.py"), "plan", "--stack", "prod", "--json", str(out)]
        floor_cmd = [sys.executable, "-c", FLOOR]
        # warm the file cache and write the project's .pyc files, as any first run does (the SDKs' were written
        # when pip installed them); a shell with PYTHONDONTWRITEBYTECODE set would otherwise have every timed
        # plan compile the project's ~60 modules again (~0.1 s), which the floor never does
        timed(plan_cmd, env={name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"})
        plans, floors = [], []
        for _ in range(RUNS):
            plans.append(timed(plan_cmd))
            floors.append(timed(floor_cmd))
        resources = len(json.loads(out.read_text())["deployment"]["resources"])
    plan, floor = statistics.median(w for w, _ in plans), statistics.median(w for w, _ in floors)
    plan_cpu, floor_cpu = statistics.median(c for _, c in plans), statistics.median(c for _, c in floors)
    print(f"resources:        {resources}")
    print(f"plan:             {plan:.3f} s wall, {plan_cpu:.3f} s CPU (median of {RUNS})")
    print(f"import floor:     {floor:.3f} s wall, {floor_cpu:.3f} s CPU (median of {RUNS})")
    print(f"ratio plan/floor: {plan / floor:.2f} wall, {plan_cpu / floor_cpu:.2f} CPU (target <= 2.00)")
    paired = sorted(plan_run[1] / floor_run[1] for plan_run, floor_run in zip(plans, floors, strict=True))
    fastest = min(c for _, c in plans) / min(c for _, c in floors)
    print(f"CPU ratio of each plan to the floor run after it (sorted): {' '.join(f'{r:.2f}' for r in paired)}")
    print(f"  median {statistics.median(paired):.2f}; fastest plan / fastest floor {fastest:.2f}")


if __name__ == "__main__":
    main()
