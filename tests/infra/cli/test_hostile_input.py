"""`cli.py validate / plan / audit / origin check` on hostile files: never a traceback, exit 1 (2 for an
unusable export or request, as those commands document) and one line naming the file and the problem,
refused fast (the bounds are in infra/spec/untrusted.py; benchmarks/cli_attacks.py measures them)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.spec.untrusted import MAX_YAML_NODES, InputRefused, load_yaml

ROOT = Path(__file__).resolve().parents[3]
HEAD = "config:\n  platform:domain: sevensa.nl\n  platform:acmeEmail: ops@sevensa.nl\n  platform:dockerHost: unix:///var/run/docker.sock\n"


def billion_laughs() -> str:
    lines = ['  platform:l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  platform:l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
    return "config:\n" + "\n".join(lines) + "\n  platform:domain: *l8\n"


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "250", "PATH": "/usr/bin:/bin", "SEVENSA_PROJECT_DIR": str(project)}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False)


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *expected: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for part in expected:
        assert part in lines[0], lines[0]


STACK_FILES: dict[str, tuple[bytes, str]] = {
    "top level is a list": (b"- config\n- platform:domain\n", "the top level is a list; a stack file is a mapping with a 'config' key"),
    "recursive anchor": ((HEAD + "  platform:networks: &a [*a]\n").encode(), "recursive YAML anchor: alias *a refers to a node that contains it at line 5"),
    "billion laughs": (billion_laughs().encode(), f"YAML expands to more than {MAX_YAML_NODES:,} values"),
    "non-UTF-8": (HEAD.encode() + b"  platform:tls: \xff\xfe\n", "not UTF-8 text (invalid byte at offset 142)"),
    "oversized": (HEAD.encode() + b"#" * (2 * 1024 * 1024), "larger than 1,048,576 bytes; refused without parsing"),
    "nested 10,000 deep": ((HEAD + "  platform:networks: " + "[" * 10_000 + "]" * 10_000 + "\n").encode(), "YAML nested deeper than 64 levels at line 5"),
    "numeric config key": (b"config:\n  1: 2\n", "keys must be text such as 'platform:domain'; found a number key"),
    "not YAML": (b"config: [unclosed\n", "not valid YAML: expected ',' or ']', but got '<stream end>' at line 2, column 1"),
}


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("attack", sorted(STACK_FILES))
def test_hostile_stack_files_are_one_line_and_exit_1(attack: str, command: str, tmp_path: Path) -> None:
    content, message = STACK_FILES[attack]
    (tmp_path / "Pulumi.t.yaml").write_bytes(content)
    started = time.perf_counter()
    result = run(tmp_path, command, "--stack", "t")
    assert_one_line(result, 1, "invalid configuration: Pulumi.t.yaml: -" if "key" not in attack else "Pulumi.t.yaml: config", message)
    assert time.perf_counter() - started < 30  # refused, not expanded (the bomb ran past 60 s and 1 GB before)


def test_the_bomb_is_refused_while_composing() -> None:
    """The bound holds in the loader itself, before anything walks the graph (0.7 KB -> 387 million strings)."""
    started = time.process_time()
    with pytest.raises(InputRefused, match="alias bomb"):
        load_yaml(billion_laughs())
    assert time.process_time() - started < 5


def test_aliases_within_the_bound_still_load() -> None:
    assert load_yaml("a: &x [1, 2]\nb: *x\nc: {<<: {k: v}, d: 1}\n") == {"a": [1, 2], "b": [1, 2], "c": {"k": "v", "d": 1}}


EXPORT_RESOURCE = {"urn": "urn:pulumi:prod::platform::docker:index/container:Container::evil", "type": "docker:index/container:Container", "custom": True}


def export(resources: list[dict]) -> str:
    return json.dumps({"version": 3, "deployment": {"resources": resources}})


EXPORTS: dict[str, tuple[bytes, str]] = {
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "JSON nested deeper than 64 levels"),
    "non-UTF-8": (b'{"version": 3, "deployment": {"resources": ["\xff"]}}', "not UTF-8 text (invalid byte at offset 45)"),
    "deployment is a list": (b'{"version": 3, "deployment": []}', "not a version-3 stack export"),
    "resources is a mapping": (b'{"version": 3, "deployment": {"resources": {"a": 1}}}', "deployment.resources must be a list of resources"),
    "urn is a number": (export([{**EXPORT_RESOURCE, "urn": 7}]).encode(), "deployment.resources[0] has no urn/type"),
    "not JSON": (b'{"version": 3,', "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 15"),
}


@pytest.mark.parametrize("attack", sorted(EXPORTS))
def test_unusable_exports_are_one_line_and_exit_2(attack: str, tmp_path: Path) -> None:
    content, message = EXPORTS[attack]
    (tmp_path / "export.json").write_bytes(content)
    for command in ("audit", "diagram"):
        assert_one_line(run(tmp_path, command, str(tmp_path / "export.json")), 2, "export.json", message)


def test_an_export_resource_whose_inputs_are_text_is_flagged_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text(export([{**EXPORT_RESOURCE, "inputs": "privileged=true", "dependencies": "x"}]))
    result = run(tmp_path, "audit", str(tmp_path / "export.json"), "--format", "json")
    assert result.returncode == 1, result.stderr
    findings = [(f["rule"], f["severity"], f["message"]) for f in json.loads(result.stdout)["findings"] if f["rule"] == "DOC-01"]
    assert findings == [
        ("DOC-01", "high", "docker:index/container:Container evil: dependencies is text, not a list of URNs; its properties were not checked"),
        ("DOC-01", "high", "docker:index/container:Container evil: inputs is text, not a mapping; its properties were not checked"),
    ]


def test_origin_input_nested_10000_deep_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "request.json").write_text('{"product": ' + "[" * 10_000 + "]" * 10_000 + "}")
    result = run(tmp_path, "origin", "check", str(tmp_path / "request.json"))
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2
    assert "request.json" in result.stderr and "nested" in result.stderr
