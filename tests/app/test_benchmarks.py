"""The app's benchmarks run end to end (briefly) and print their figures: they start their own servers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_post_costs_prints_the_cpu_of_every_step():
    output = run("post_costs.py", "--calls", "30")
    steps = ["parse JSON", "validate the request", "canonical request hash", "engine: assess", "engine report as JSON", "Redis GET", "Redis pipeline", "PostgreSQL: certificate"]
    for step in steps:
        assert re.search(rf"^{re.escape(step)}.* \d+\.\d us", output, re.MULTILINE), output
    assert re.search(r"^PostgreSQL: certificate.*postgres +\d+\.\d us$", output, re.MULTILINE), output
    assert re.search(r"^sum of the steps \(this process\) +\d+\.\d us$", output, re.MULTILINE), output


def test_app_load_prints_latency_throughput_and_cpu_per_request():
    output = run("app_load.py", "--clients", "2", "--workers", "1", "--duration", "1", "--warmup", "1")
    for name in ("POST /v1/origin/calculations", "GET /healthz"):
        assert re.search(rf"^{re.escape(name)} +requests= *[1-9]\d* errors= +0 p50=.* throughput=", output, re.MULTILINE), output
    cpu_lines = re.findall(r"CPU ms per request: (.*); total (\d+\.\d+) -> \d+ cores cap throughput near \d+ req/s", output)
    assert len(cpu_lines) == 2, output
    assert "app workers" in cpu_lines[0][0] and "PostgreSQL" in cpu_lines[0][0], output
    # one worker holds both clients' connections, in each scenario
    assert len(re.findall(r"req/s; connections by worker 2$", output, re.MULTILINE)) == 2, output
    assert re.search(r"^POSTs the app answered within 25 ms by its own clock \(warm-up included\): \d+%$", output, re.MULTILINE), output
    assert re.search(r'^POST answers by status \(warm-up included\): "201"\} [1-9]\d*\.0$', output, re.MULTILINE), output
    assert re.search(r"^target p95 <= 25 ms for POST /v1/origin/calculations: (met|NOT met)", output, re.MULTILINE), output
