"""The suite checks itself: every test asserts something, and nothing is skipped.

A test without an assertion passes whatever the code does; a skip hides a server that did not
start. Both are refused here for every test module of the repository.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# Calls that assert on the test's behalf (pytest's, and the suite's own helpers named for it).
ASSERTING_CALLS = ("raises", "warns", "fail")
ASSERTING_PREFIXES = ("assert_", "expect_", "check_", "verify_")
SKIPPING = ("skip", "skipif", "xfail", "importorskip")


def _test_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
            found.append(node)
    return found


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _asserts(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name in ASSERTING_CALLS or name.startswith(ASSERTING_PREFIXES):
                return True
    return False


def _modules() -> list[Path]:
    return sorted(path for path in TESTS.rglob("test_*.py") if "__pycache__" not in path.parts)


def test_every_test_asserts_something() -> None:
    silent = []
    for path in _modules():
        for function in _test_functions(ast.parse(path.read_text(), str(path))):
            if not _asserts(function):
                silent.append(f"{path.relative_to(TESTS)}::{function.name}")
    assert not silent, "tests without any assertion:\n" + "\n".join(silent)


def test_nothing_is_skipped_or_expected_to_fail() -> None:
    skipping = []
    for path in _modules():
        if path == Path(__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in SKIPPING and isinstance(node.value, ast.Attribute | ast.Name):
                owner = node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id
                if owner in {"pytest", "mark"}:
                    skipping.append(f"{path.relative_to(TESTS)}:{node.lineno} {owner}.{node.attr}")
    assert not skipping, "skips or xfails (a test that needs a server must fail when it cannot start it):\n" + "\n".join(skipping)


def test_the_hygiene_checks_see_a_silent_test_and_a_skip() -> None:
    silent = ast.parse("def test_x():\n    value = compute()\n")
    asserting = ast.parse("def test_y():\n    with pytest.raises(ValueError):\n        compute()\n")
    assert [_asserts(f) for f in _test_functions(silent)] == [False]
    assert [_asserts(f) for f in _test_functions(asserting)] == [True]
