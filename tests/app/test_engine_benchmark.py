"""benchmarks/engine.py runs (briefly) and prints calculations per second for every step and mode."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_benchmark_prints_rates():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "engine.py"), "--seconds", "0.1"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "originating=True" in result.stdout
    for bills in ("distinct bills", "recurring part"):
        for step in ("engine (assess)", "validation + engine", "validation + engine + report JSON"):
            assert re.search(rf"^{re.escape(bills)} +{re.escape(step)} +[\d,]+ +[\d,]+\.\d$", result.stdout, re.MULTILINE), result.stdout
