"""Mutation score per module after `mutmut run` (make mutation): killed, survived, not reached.

Reads mutmut's result files (`mutants/**/*.py.meta`). Mutants listed in
`mutation-equivalents.txt` (name, then `#` and why) cannot change behaviour and are counted
apart; every other survivor is a test to write. Exit 1 when a module is below the bar.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "mutation-equivalents.txt"
BAR = 0.90
SURVIVED, NO_TESTS = {0}, {5, 33}
NOT_RUN = {None, 34}


def equivalents() -> dict[str, str]:
    found = {}
    for line in EQUIVALENTS.read_text().splitlines() if EQUIVALENTS.exists() else []:
        name, _, why = line.partition("#")
        if name.strip():
            found[name.strip()] = why.strip()
    return found


def main() -> int:
    console = Console(width=max(120, Console().width))
    metas = sorted(MUTANTS.rglob("*.py.meta"))
    if not metas:
        console.print("[red]no mutmut results under mutants/: run `make mutation` first[/red]")
        return 2
    known_equivalent = equivalents()
    table = Table(title=f"Mutation score per module (bar {BAR:.0%} of non-equivalent mutants killed)")
    for column in ("module", "mutants", "killed", "survived", "no test reaches", "equivalent", "score"):
        table.add_column(column, justify="left" if column == "module" else "right", no_wrap=column == "module")
    below, survivors = [], []
    for meta in metas:
        module = str(meta.relative_to(MUTANTS)).removesuffix(".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        equivalent = [name for name in codes if name in known_equivalent]
        judged = {name: code for name, code in codes.items() if name not in known_equivalent and code not in NOT_RUN}
        survived = [name for name, code in judged.items() if code in SURVIVED]
        unreached = [name for name, code in judged.items() if code in NO_TESTS]
        killed = len(judged) - len(survived) - len(unreached)
        score = killed / len(judged) if judged else 1.0
        if score < BAR:
            below.append(module)
        survivors += survived + unreached
        style = "green" if score >= BAR else "red"
        table.add_row(module, str(len(codes)), str(killed), str(len(survived)), str(len(unreached)), str(len(equivalent)), f"[{style}]{score:.0%}[/]")
    console.print(table)
    if "--survivors" in sys.argv:
        for name in survivors:
            console.print(f"  {name}", markup=False)
    if below:
        console.print(f"[red]{len(below)} module(s) below {BAR:.0%}[/red]; `mutmut show NAME` shows a survivor, `--survivors` lists them")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
