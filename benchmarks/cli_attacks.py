"""What hostile input files cost `cli.py validate / plan / audit / origin check`.

Writes each hostile file into a temporary project directory, runs the CLI on it as a user would (a
subprocess, SEVENSA_PROJECT_DIR pointing at the directory), and prints per attack: the exit code, the wall
time, the child's peak RSS, the number of stderr lines, and whether a Python traceback was printed.
Each run is capped (60 s, 3 GiB address space) so a bomb cannot take the machine down.

    .venv/bin/python benchmarks/cli_attacks.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT_SECONDS = 60
ADDRESS_SPACE_LIMIT = 3 * 1024**3
VALID_HEAD = "config:\n  platform:domain: sevensa.nl\n  platform:acmeEmail: ops@sevensa.nl\n  platform:dockerHost: unix:///var/run/docker.sock\n"


def billion_laughs() -> str:
    """0.7 KB: nine levels of nine aliases each, 9^9 (387 million) strings once expanded."""
    lines = ['  platform:l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        aliases = ",".join(f"*l{level - 1}" for _ in range(9))
        lines.append(f"  platform:l{level}: &l{level} [{aliases}]")
    return "config:\n" + "\n".join(lines) + "\n  platform:domain: *l8\n"


def string_inputs_export() -> str:
    return json.dumps(
        {
            "version": 3,
            "deployment": {
                "resources": [
                    {"urn": "urn:pulumi:prod::platform::pulumi:pulumi:Stack::platform-prod", "type": "pulumi:pulumi:Stack", "inputs": {}},
                    {
                        "urn": "urn:pulumi:prod::platform::docker:index/container:Container::evil",
                        "type": "docker:index/container:Container",
                        "custom": True,
                        "inputs": "privileged=true; mounts=/var/run/docker.sock",
                    },
                ]
            },
        }
    )


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@dataclass(frozen=True)
class Attack:
    name: str
    file_name: str
    content: Callable[[], bytes]
    args: Callable[[Path], list[str]]


def _stack(text: str) -> Callable[[], bytes]:
    return lambda: text.encode()


def _validate(path: Path) -> list[str]:
    return ["validate", "--stack", path.name.removeprefix("Pulumi.").removesuffix(".yaml")]


def _plan(path: Path) -> list[str]:
    return ["plan", "--stack", path.name.removeprefix("Pulumi.").removesuffix(".yaml")]


ATTACKS: tuple[Attack, ...] = (
    Attack("stack file is a list", "Pulumi.t.yaml", _stack("- config\n- platform:domain\n"), _validate),
    Attack("stack file is a list (plan)", "Pulumi.t.yaml", _stack("- config\n- platform:domain\n"), _plan),
    Attack("recursive YAML anchor", "Pulumi.t.yaml", _stack(VALID_HEAD + "  platform:networks: &a [*a]\n"), _validate),
    Attack("YAML billion laughs", "Pulumi.t.yaml", _stack(billion_laughs()), _validate),
    Attack("non-UTF-8 bytes", "Pulumi.t.yaml", lambda: VALID_HEAD.encode() + b"  platform:tls: \xff\xfe\n", _validate),
    Attack("oversized stack file (64 MiB)", "Pulumi.t.yaml", lambda: VALID_HEAD.encode() + b"#" * (64 * 1024**2) + b"\n", _validate),
    Attack("YAML nested 10,000 deep", "Pulumi.t.yaml", _stack(VALID_HEAD + "  platform:networks: " + deep_json(10_000) + "\n"), _validate),
    Attack("export: inputs a string", "export.json", lambda: string_inputs_export().encode(), lambda p: ["audit", str(p), "--format", "json"]),
    Attack("export nested 100,000 deep", "export.json", lambda: deep_json(100_000).encode(), lambda p: ["audit", str(p)]),
    Attack("export non-UTF-8", "export.json", lambda: b'{"version": 3, "deployment": {"resources": ["\xff"]}}', lambda p: ["audit", str(p)]),
    Attack("export deployment a list", "export.json", lambda: b'{"version": 3, "deployment": []}', lambda p: ["audit", str(p)]),
    Attack("origin input nested 10,000 deep", "request.json", lambda: ('{"product": ' + deep_json(10_000) + "}").encode(), lambda p: ["origin", "check", str(p)]),
)


@dataclass(frozen=True)
class Outcome:
    code: int | str
    seconds: float
    peak_mib: float
    stderr_lines: int
    traceback: bool
    first_line: str


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run(attack: Attack, directory: Path) -> Outcome:
    path = directory / attack.file_name
    path.write_bytes(attack.content())
    env = {**os.environ, "SEVENSA_PROJECT_DIR": str(directory), "COLUMNS": "250"}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), *attack.args(path)], cwd=directory, env=env, stdout=out, stderr=err, preexec_fn=_limit
        )
        code: int | str
        try:
            process.wait(TIME_LIMIT_SECONDS)
            code = process.returncode
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = f"killed after {TIME_LIMIT_SECONDS}s"
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    lines = [line for line in stderr.splitlines() if line.strip()]
    return Outcome(code, seconds, peak, len(lines), "Traceback (most recent call last)" in stderr, (lines[-1] if lines else "")[:110])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only attacks whose name contains one of these words")
    options = parser.parse_args()
    chosen = [a for a in ATTACKS if not options.only or any(word in a.name for word in options.only)]
    table = Table(title="cli.py on hostile input")
    for column in ("attack", "exit", "time s", "peak RSS MiB*", "stderr lines", "traceback", "last stderr line"):
        table.add_column(column)
    for attack in chosen:
        with tempfile.TemporaryDirectory() as directory:
            outcome = _isolated(attack, Path(directory))
        table.add_row(
            attack.name,
            str(outcome.code),
            f"{outcome.seconds:.2f}",
            f"{outcome.peak_mib:.0f}",
            str(outcome.stderr_lines),
            "YES" if outcome.traceback else "no",
            outcome.first_line,
        )
    Console(width=250).print(table)
    print("* peak RSS of the CLI process (a 3 GiB address-space cap stops bombs: MemoryError then counts as exit 1 with a traceback)")


def _isolated(attack: Attack, directory: Path) -> Outcome:
    """Run one attack from a fresh forked runner so RUSAGE_CHILDREN's peak belongs to this attack only."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        outcome = run(attack, directory)
        os.write(write, json.dumps(outcome.__dict__).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return Outcome(**data)


if __name__ == "__main__":
    main()
