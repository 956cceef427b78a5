"""Benchmark: the origin engine alone, on one core, on a 20-material bill with an in-house part.

Prints calculations per second and microseconds per calculation for three steps: the engine on an
already validated request (`assess`), request validation plus the engine, and validation, engine and the
report's JSON together (what POST /v1/origin/calculations spends in the engine's code). The rule comes
from the bundled rules data (look-up included); the in-house part is assessed under its own data rule.

    .venv/bin/python benchmarks/engine.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.engine.assess import assess  # noqa: E402
from app.engine.request import AssessmentRequest  # noqa: E402
from app.engine.rulebook import default_rulebook  # noqa: E402

ORIGINS = ("CN", "DE", "JP", "US", "EU")


def twenty_material_case() -> dict[str, Any]:
    """EU-JP electric motor (85.01, rule from the data), 19 bought materials and one in-house part (85.03)
    with four sub-materials; EU and Japanese materials carry an LTSD or a statement on origin."""
    materials: list[dict[str, Any]] = []
    codes = ("720917", "850300", "854411", "731815", "392690", "760410", "401699", "853690", "850490", "732690")
    for index in range(19):
        origin = ORIGINS[index % len(ORIGINS)]
        material: dict[str, Any] = {"hs_code": codes[index % len(codes)], "origin": origin, "value": f"{1 + index % 4}.25"}
        if origin in ("DE", "EU"):
            material["dispatch_date"] = "2025-02-01"
            material["proof"] = {"type": "ltsd", "issue_date": "2025-01-01", "valid_from": "2025-01-01", "valid_until": "2025-12-31"}
        elif origin == "JP":
            material["proof"] = {"type": "statement_on_origin", "issue_date": "2025-01-15"}
        materials.append(material)
    materials.append(
        {
            "hs_code": "850300",
            "origin": "EU",
            "value": "12.00",
            "in_house": True,
            "sub_materials": [
                {"hs_code": "720917", "origin": "CN", "value": "2.00"},
                {"hs_code": "854411", "origin": "CN", "value": "1.50"},
                {"hs_code": "392690", "origin": "US", "value": "0.75"},
                {"hs_code": "731815", "origin": "DE", "value": "0.50"},
            ],
        }
    )
    return {
        "agreement": "EU-JP",
        "assessment_date": "2025-03-01",
        "product": {"hs_code": "850110", "ex_works_price": "150.00", "fob_price": "165.00"},
        "operations": ["winding", "assembly"],
        "materials": materials,
    }


def _decimals(value: Any) -> Any:
    """The body as the API hands it to validation (JSON parsed with parse_float=Decimal)."""
    if isinstance(value, dict):
        return {key: _decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals(item) for item in value]
    return Decimal(str(value)) if isinstance(value, float) else value


def rate(step: Callable[[], object], seconds: float) -> tuple[float, float]:
    """(calls per CPU second, microseconds per call) of `step`, measured on this process's CPU time."""
    for _ in range(200):
        step()
    calls = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(100):
            step()
        calls += 100
    spent = time.process_time() - start
    return calls / spent, spent / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement")
    args = parser.parse_args()
    rulebook = default_rulebook()
    body = _decimals(twenty_material_case())
    request = AssessmentRequest.model_validate(body)
    report = assess(request, rulebook)
    steps: dict[str, Callable[[], object]] = {
        "engine (assess)": lambda: assess(request, rulebook),
        "validation + engine": lambda: assess(AssessmentRequest.model_validate(body), rulebook),
        "validation + engine + report JSON": lambda: assess(AssessmentRequest.model_validate(body), rulebook).model_dump_json(),
    }
    print(f"case: {len(body['materials'])} materials (one in-house part with 4 sub-materials), rule {report.rule.text!r}, originating={report.originating}")
    print(f"{'step':<36} {'calcs/s per core':>17} {'µs per calc':>12}")
    for name, step in steps.items():
        per_second, micros = rate(step, args.seconds)
        print(f"{name:<36} {per_second:>17,.0f} {micros:>12,.1f}")


if __name__ == "__main__":
    main()
