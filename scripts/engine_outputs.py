"""Record the origin engine's answers to ~10,000 random requests, or compare them with a recording.

A change made for speed must not change a single byte of any answer: record before the change, compare
after it. The requests are drawn from a fixed seed and cover every agreement, rules from the data and
given in the request (every data rule's legal text and the compact forms the tests use), every proof type
with lawful and unlawful dates, declaration references, withdrawn and agreement-restricted proofs,
in-house parts nested three deep (recurring ones too, so remembered parts are reused), refused requests
and the setting that refuses UNVERIFIED rules. Each answer is the report's JSON, the engine's refusal
(type, field, message) or the validation errors; the requests run three times (fresh memories, warm
memories, no remembered parts) and every pass must answer alike.

    .venv/bin/python scripts/engine_outputs.py record /tmp/engine-outputs.jsonl [--count 10000]
    .venv/bin/python scripts/engine_outputs.py compare /tmp/engine-outputs.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import ValidationError

from app.engine import assess as assess_module
from app.engine.assess import EngineInputError, assess
from app.engine.parser import RuleSyntaxError, parse_rule
from app.engine.request import AssessmentRequest
from app.engine.rulebook import RuleBook, default_rulebook

SEED = 20261206
GIVEN_RULES = (
    "CC",
    "CTH",
    "CTSH",
    "CTH or CTSH",
    "CC and CTH and CTSH",
    "CTH and MaxNOM 5% (EXW)",
    "CTH and MaxNOM 10% (EXW) of 8503",
    "CTH except 8503",
    "CTH except 39",
    "CTH except from 85 or MaxNOM 50% (EXW) of 8501, 8503",
    "CTH except from 8501-8504",
    "CTH except from 730120 or MaxNOM 50% (EXW) of 730120",
    "CTH except from 7408, 7413, 7605, 7614 or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    "CTH except from 8503 or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    "CC or (CTH except from 6401-6405, 640690 and MaxNOM 50% (EXW)) or (CTH except from 6401-6405, 640690 and RVC 55% (FOB))",
    "CTH or OP(mixing) and MaxNOM 50% (EXW)",
    "CTH or MaxNOM 50% (EXW) of 8516",
    "CTH; or MaxNOM 50 % (EXW)",
    "CTH, except from heading 85.03; MaxNOM 50 per cent (EXW); or RVC 55 per cent (FOB).",
    "CTH except from headings 85.01 through 85.04",
    "CTH except from subheading 8503.00",
    "MaxNOM 30% (EXW)",
    "MaxNOM 50 % (EXW)",
    "RVC 40% (FOB)",
    "A change from any other heading, except from heading 85.03; or MaxNOM 50 % (EXW)",
    "A change from any other subheading",
    "A change from any other chapter",
    "Manufacture from materials of any heading, except that of the product",
    "Manufacture in which the value of all the materials used does not exceed 50 % of the ex-works price of the product",
    "CTH or",  # refused by validation
    "MaxNOM 50 (EXW)",  # refused by validation
)
THIRD_COUNTRIES = ("CN", "US", "IN", "VN", "BR", "TW")
OPERATIONS = (
    "assembly",
    "winding",
    "painting",
    "mixing",
    "testing",
    "simple_assembly",
    "simple_packaging",
    "affixing_marks",
    "testing_calibration",
    "dilution",
)
HS_POOL = (
    "850300",
    "720917",
    "854449",
    "851680",
    "721420",
    "390110",
    "850110",
    "730120",
    "640690",
    "847330",
    "850440",
    "610910",
    "392690",
    "760410",
)


class Draw:
    """Random request bodies over the rules data, from one seed."""

    def __init__(self, rulebook: RuleBook, seed: int) -> None:
        self.random = random.Random(seed)
        self.rulebook = rulebook
        self.agreements = [a.code for a in rulebook.agreements()]
        self.member_states = sorted(rulebook.eu_member_states)
        data_texts = sorted(
            {rule.rule for code in self.agreements for rule in rulebook.rules(code)}
        )
        self.rule_texts = [*data_texts, *GIVEN_RULES]
        self.parts: list[dict[str, Any]] = []

    def choice(self, items: Any) -> Any:
        return self.random.choice(list(items))

    def chance(self, p: float) -> bool:
        return self.random.random() < p

    def day(self, start: int = 2010, end: int = 2027) -> date:
        first = date(start, 1, 1)
        return first + timedelta(
            days=self.random.randrange((date(end, 12, 31) - first).days)
        )

    def money(self, at_most: Decimal) -> Decimal:
        at_most = at_most.quantize(Decimal("0.01"))
        kind = self.random.random()
        if kind < 0.15:
            value = Decimal(self.choice(("0", "0.01", "1", "10", "12.5", "25", "50")))
        elif kind < 0.3:
            value = (at_most * Decimal(self.random.randint(0, 100)) / 100).quantize(
                Decimal("0.01")
            )
        else:
            places = self.choice((0, 2, 2, 2, 4))
            value = (Decimal(self.random.random()) * at_most).quantize(
                Decimal(1).scaleb(-places)
            )
        return min(value, at_most)

    def hs_code(self, agreement: str) -> str:
        roll = self.random.random()
        rules = self.rulebook.rules(agreement)  # type: ignore[arg-type]
        if roll < 0.75 and rules:
            rule = self.choice(rules)
            low, high = int(rule.hs_from), int(rule.hs_to)
            code = str(self.random.randint(low, high)).zfill(len(rule.hs_from))
            return (
                code
                + str(self.random.randint(0, 10 ** (6 - len(code)) - 1)).zfill(
                    6 - len(code)
                )
            )[:6]
        if roll < 0.9:
            return self.choice(HS_POOL)
        return f"{self.random.randint(1, 97):02d}{self.random.randint(0, 9999):04d}" + (
            "" if self.chance(0.8) else "01"
        )

    def origin(self, agreement: str) -> str:
        partners = self.rulebook.agreement(agreement).cumulation.partners  # type: ignore[arg-type]
        return self.choice(
            (
                "EU",
                "EU",
                self.choice(self.member_states),
                self.choice(partners),
                self.choice(partners),
                self.choice(THIRD_COUNTRIES),
                "UNKNOWN",
                self.choice(("JP", "GB", "CA", "KR", "CH", "TR")),
            )
        )

    def proof(self, on: date) -> dict[str, Any] | None:
        kind = self.choice(
            (
                None,
                "ltsd",
                "ltsd",
                "supplier_declaration",
                "statement_on_origin",
                "statement_on_origin",
            )
        )
        if kind is None:
            return None
        if self.chance(0.005):
            return {
                "declaration_id": f"3f2b6c1e-8d4a-4f7e-9a51-2c7d9e0b4a{self.random.randint(10, 99)}"
            }
        issue = on - timedelta(days=self.random.randint(-60, 900))
        proof: dict[str, Any] = {"type": kind, "issue_date": issue.isoformat()}
        if kind == "ltsd":
            start = issue + timedelta(days=self.random.randint(-420, 220))
            proof |= {
                "valid_from": start.isoformat(),
                "valid_until": (
                    start + timedelta(days=self.random.randint(-5, 800))
                ).isoformat(),
            }
        if self.chance(0.002):
            del proof["issue_date"]  # refused by validation
        if self.chance(0.1):
            proof["agreements"] = self.random.sample(
                self.agreements, self.random.randint(1, 3)
            )
        if self.chance(0.05):
            proof["withdrawn_on"] = (
                on + timedelta(days=self.random.randint(-100, 100))
            ).isoformat()
        return proof

    def materials(
        self, agreement: str, on: date, whole: Decimal, depth: int, count: int
    ) -> list[dict[str, Any]]:
        out = []
        for _ in range(count):
            if depth > 1 and self.parts and self.chance(0.08):
                part = self.choice(self.parts)  # a recurring in-house part
                if Decimal(part["value"]) <= whole:
                    out.append(part)
                    continue
            value = self.money(whole / max(1, count // 3))
            item: dict[str, Any] = {
                "hs_code": self.hs_code(agreement),
                "origin": self.origin(agreement),
                "value": str(value),
            }
            proof = self.proof(on)
            if proof is not None:
                item["proof"] = proof
            if self.chance(0.2):
                item["dispatch_date"] = (
                    on - timedelta(days=self.random.randint(-10, 500))
                ).isoformat()
            if self.chance(0.05):
                item["description"] = self.choice(
                    ("steel sheet", "copper wire", "housing")
                )
            if depth > 1 and self.chance(0.15):
                item["in_house"] = True
                if value == 0 and self.chance(0.9):
                    item["value"] = str(value := Decimal("0.50"))
                if self.chance(0.85):
                    item["sub_materials"] = self.materials(
                        agreement, on, value, depth - 1, self.random.randint(1, 5)
                    )
                    if self.chance(0.3):
                        item["rule"] = self.choice(self.rule_texts)
                    self.parts.append(item)
            out.append(item)
        return out

    def request(self) -> tuple[dict[str, Any], bool]:
        agreement = self.choice(self.agreements)
        on = self.day(2010 if self.chance(0.05) else 2025)
        price = self.money(
            Decimal(self.choice(("100", "150.00", "1000", "99999.99")))
        ) or Decimal(100)
        product: dict[str, Any] = {
            "hs_code": self.hs_code(agreement),
            "ex_works_price": str(price),
        }
        if self.chance(0.5):
            product["fob_price"] = str(self.money(price * 2) or price)
        if self.chance(0.1):
            product["description"] = "electric motor"
        count = self.random.choice((0, 1, 2, 3, 5, 8, 12, 20, 20, 25))
        body: dict[str, Any] = {
            "agreement": agreement,
            "assessment_date": on.isoformat(),
            "product": product,
            "materials": self.materials(agreement, on, price, 3, count),
        }
        if self.chance(0.35):
            body["rule"] = self.choice(self.rule_texts)
        if self.chance(0.6):
            body["operations"] = [
                self.choice(OPERATIONS) for _ in range(self.random.randint(0, 4))
            ]
        return body, self.chance(0.85)


def answer(body: dict[str, Any], allow_unverified: bool, rulebook: RuleBook) -> str:
    """The report's JSON, the engine's refusal or the validation errors, as one line."""
    try:
        request = AssessmentRequest.model_validate(_decimals(body))
    except ValidationError as error:
        return "invalid " + json.dumps(
            error.errors(include_url=False, include_context=False), default=str
        )
    try:
        return (
            "report "
            + assess(
                request, rulebook, allow_unverified=allow_unverified
            ).model_dump_json()
        )
    except EngineInputError as error:
        return f"refused {type(error).__name__} {error.loc} {error.message}"
    except (ValueError, RuleSyntaxError) as error:
        return f"error {type(error).__name__} {error}"


def _decimals(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals(item) for item in value]
    return value


def answers(count: int) -> list[str]:
    """Every request's answer; raises when the three passes disagree."""
    rulebook = default_rulebook()
    draw = Draw(rulebook, SEED)
    requests = [draw.request() for _ in range(count)]
    first = [answer(body, allow, rulebook) for body, allow in requests]
    warm = [answer(body, allow, rulebook) for body, allow in requests]
    remembered = assess_module.PARTS_REMEMBERED
    assess_module.PARTS_REMEMBERED = 0
    try:
        forgetful = [answer(body, allow, rulebook) for body, allow in requests]
    finally:
        assess_module.PARTS_REMEMBERED = remembered
    for name, other in (("warm memories", warm), ("no remembered parts", forgetful)):
        differing = [
            i for i, (a, b) in enumerate(zip(first, other, strict=True)) if a != b
        ]
        if differing:
            raise SystemExit(
                f"pass with {name} differs from the first pass at requests {differing[:10]}"
            )
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("record", "compare"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    parse_rule("CTH")  # the grammar built before anything is timed or compared
    if args.mode == "record":
        lines = answers(args.count)
        args.file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    else:
        recorded = args.file.read_text(encoding="utf-8").splitlines()
        lines = answers(len(recorded))
        differing = [
            i for i, (a, b) in enumerate(zip(recorded, lines, strict=True)) if a != b
        ]
        if differing:
            print(
                f"{len(differing)} of {len(lines)} answers differ, first at {differing[:10]}:\n{recorded[differing[0]]}\n{lines[differing[0]]}"
            )
            raise SystemExit(1)
    kinds: dict[str, int] = {}
    for line in lines:
        kind = line.split(" ", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    verb = "recorded" if args.mode == "record" else "identical"
    print(
        f"{len(lines)} answers {verb} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
    )


if __name__ == "__main__":
    main()
