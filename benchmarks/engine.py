"""Benchmark: the origin engine alone, on one core, on a 20-material bill with an in-house part.

Prints calculations per second (per CPU second of this process) and microseconds per calculation for
three steps: the engine on an already validated request (`assess`), request validation plus the engine,
and validation, engine and the report's JSON together (what POST /v1/origin/calculations spends in the
engine's code). The rule comes from the bundled rules data (look-up included); the in-house part is
assessed under its own data rule.

The requests cycle through 500 variants whose values all differ. "distinct bills" changes the in-house
part's sub-materials too and switches the engine's memory of assessed parts off, so every part is
assessed afresh; "recurring part" keeps the in-house part (a sub-assembly used in many products), which
the engine then remembers, and changes the rest.

On a machine shared with other work a measurement is only slowed down, never sped up, so each step runs
in rounds and the fastest round is reported (the least disturbed one); the last line compares the engine
on distinct bills with the target of 10,000 calculations per second per core.

    .venv/bin/python benchmarks/engine.py [--seconds 3] [--rounds 5]
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

from app.engine import assess as assess_module  # noqa: E402
from app.engine.assess import assess  # noqa: E402
from app.engine.request import AssessmentRequest  # noqa: E402
from app.engine.rulebook import default_rulebook  # noqa: E402

ORIGINS = ("CN", "DE", "JP", "US", "EU")


def twenty_material_case(variant: int = 0, part_variant: int = 0) -> dict[str, Any]:
    """EU-JP electric motor (85.01, rule from the data), 19 bought materials and one in-house part (85.03)
    with four sub-materials; EU and Japanese materials carry an LTSD or a statement on origin. Every value
    grows by a cent per `variant` (bought materials) and per `part_variant` (the part's sub-materials)."""
    cents = Decimal(variant) / 100
    part_cents = Decimal(part_variant) / 100
    materials: list[dict[str, Any]] = []
    codes = ("720917", "850300", "854411", "731815", "392690", "760410", "401699", "853690", "850490", "732690")
    for index in range(19):
        origin = ORIGINS[index % len(ORIGINS)]
        material: dict[str, Any] = {"hs_code": codes[index % len(codes)], "origin": origin, "value": str(Decimal(f"{1 + index % 4}.25") + cents)}
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
                {"hs_code": code, "origin": origin, "value": str(Decimal(value) + part_cents)}
                for code, origin, value in (("720917", "CN", "2.00"), ("854411", "CN", "1.50"), ("392690", "US", "0.75"), ("731815", "DE", "0.50"))
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


VARIANTS = 500


TARGET_PER_SECOND = 10_000


def rate(step: Callable[[int], object], seconds: float, rounds: int = 1) -> tuple[float, float]:
    """(calls per CPU second, microseconds per call) of `step(variant)`, on this process's CPU time: the
    fastest of `rounds` rounds of `seconds` / `rounds` each."""
    for variant in range(VARIANTS):
        step(variant)
    best = float("inf")
    for _ in range(rounds):
        calls = 0
        start = time.process_time()
        while time.process_time() - start < seconds / rounds:
            for variant in range(VARIANTS):
                step(variant)
            calls += VARIANTS
        best = min(best, (time.process_time() - start) / calls)
    return 1 / best, best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement; the fastest is reported")
    args = parser.parse_args()
    rulebook = default_rulebook()
    report = assess(AssessmentRequest.model_validate(_decimals(twenty_material_case())), rulebook)
    print(f"case: 20 materials (one in-house part with 4 sub-materials), rule {report.rule.text!r}, originating={report.originating}")
    print(f"{'bills':<16} {'step':<36} {'calcs/s per core':>17} {'µs per calc':>12}")
    remembered = assess_module.PARTS_REMEMBERED
    engine_alone = 0.0
    for bills, part_changes in (("distinct bills", True), ("recurring part", False)):
        assess_module.PARTS_REMEMBERED = 0 if part_changes else remembered
        bodies = [_decimals(twenty_material_case(v, v if part_changes else 0)) for v in range(VARIANTS)]
        requests = [AssessmentRequest.model_validate(body) for body in bodies]
        steps: dict[str, Callable[[int], object]] = {
            "engine (assess)": lambda v: assess(requests[v], rulebook),
            "validation + engine": lambda v: assess(AssessmentRequest.model_validate(bodies[v]), rulebook),
            "validation + engine + report JSON": lambda v: assess(AssessmentRequest.model_validate(bodies[v]), rulebook).model_dump_json(),
        }
        for name, step in steps.items():
            per_second, micros = rate(step, args.seconds, max(1, args.rounds))
            print(f"{bills:<16} {name:<36} {per_second:>17,.0f} {micros:>12,.1f}")
            if part_changes and name == "engine (assess)":
                engine_alone = per_second
    verdict = "met" if engine_alone >= TARGET_PER_SECOND else "NOT met"
    print(f"target {TARGET_PER_SECOND:,} calculations/s per core (engine, distinct bills): {verdict} ({engine_alone / TARGET_PER_SECOND:.2f}x)")


if __name__ == "__main__":
    main()
