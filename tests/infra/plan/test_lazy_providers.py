"""Provider subpackages loaded by name during a plan: the same objects, the same plan, fewer modules."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest
from pulumi import _utils as pulumi_utils

import infra.plan.lazy_providers as lazy
from infra.plan.document import dumps
from infra.plan.offline import plan_stack, run_program
from infra.plan.provider_exports import EXPORTS, VERSIONS

ROOT = Path(__file__).resolve().parents[3]
UNREAD = "pulumi_vault.database.secret_backend_connection"  # a module of a subpackage the plan reads, itself unread


def _loaded(name: str) -> types.ModuleType:
    package = importlib.import_module(name)
    dir(package)  # completes one a plan loaded by name
    getattr(package, "__all__", None)  # runs the `__init__` of a lazy one
    return package


def _by_name(name: str) -> types.ModuleType:
    """A new module of the subpackage `name`, loaded by name (its modules are the loaded ones)."""
    parent = name.rpartition(".")[0]
    spec = importlib.machinery.PathFinder.find_spec(name, importlib.import_module(parent).__path__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    lazy.ByName(spec.loader, EXPORTS[name]).exec_module(module)
    return module


def test_the_tables_are_those_of_the_installed_providers() -> None:
    """After a provider upgrade: `python -m infra.plan.lazy_providers > infra/plan/provider_exports.py`."""
    for provider, version in VERSIONS.items():
        assert importlib.import_module(provider)._utilities.get_version() == version
    for name, exports in EXPORTS.items():
        assert lazy.exports_of(name) == exports, name


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_name_a_table_holds_is_the_object_the_real_init_binds(name: str) -> None:
    real, by_name = _loaded(name), _by_name(name)
    held = {attr for names in EXPORTS[name].values() for attr in names} | set(EXPORTS[name])
    assert held and held <= set(dir(real))
    for attr in sorted(held):
        assert getattr(by_name, attr) is getattr(real, attr), attr
    assert "__getattr__" in vars(by_name)  # all of it without running the `__init__`


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_any_other_name_dir_or_star_import_makes_the_subpackage_its_init_makes(name: str) -> None:
    real = _loaded(name)
    for read in (lambda module: module._utilities, dir, lambda module: getattr(module, "__all__", None)):
        by_name = _by_name(name)
        read(by_name)
        assert "__getattr__" not in vars(by_name) and "__dir__" not in vars(by_name)
        assert all(getattr(by_name, attr) is getattr(real, attr) for attr in dir(by_name) if not attr.startswith("__"))
        # the rest: modules the import system bound to the subpackage in sys.modules as it loaded them
        assert all(getattr(real, attr).__name__ == f"{name}.{attr}" for attr in set(dir(real)) - set(dir(by_name)))
    with pytest.raises(AttributeError, match="no attribute 'NotAName'"):
        _by_name(name).NotAName  # noqa: B018


def test_a_plan_loads_only_the_modules_it_reads_and_is_the_same_plan() -> None:
    """In a new interpreter (here the subpackages are loaded already): the plan as with the
    subpackages as shipped, the unread modules not loaded, and read afterwards, the real ones."""
    script = (
        "import sys, pulumi_vault\n"
        "from infra.plan.offline import plan_stack\n"
        "from infra.plan.document import dumps\n"
        "sys.stdout.write(dumps(plan_stack('prod').document))\n"
        f"assert {UNREAD!r} not in sys.modules\n"
        "assert pulumi_vault.database.SecretBackendConnection.__module__ == " + repr(UNREAD) + "\n"
        f"assert sys.modules[{UNREAD!r}].SecretBackendConnection is pulumi_vault.database.SecretBackendConnection\n"
        "assert '__getattr__' in vars(pulumi_vault.database)\n"
        "assert pulumi_vault.database._utilities is pulumi_vault._utilities\n"  # not in the table: the whole `__init__`
        "assert '__getattr__' not in vars(pulumi_vault.database)\n"
    )
    fresh = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in EXPORTS:
        _loaded(name)
    assert fresh.stdout == dumps(plan_stack("prod").document)


def test_only_pinned_providers_load_by_name_and_the_loader_is_back_after_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "pulumi_vault.transit"
    monkeypatch.delitem(sys.modules, name)  # a new lazy module of it (its modules stay loaded)
    module = pulumi_utils.lazy_import(name)
    shipped = module.__spec__.loader
    seen: list[object] = []

    def program() -> None:
        seen.append(module.__spec__.loader)

    run_program(program, project="p", stack="s")
    assert isinstance(seen[0], lazy.ByName) and seen[0].loader is shipped
    assert module.__spec__.loader is shipped
    monkeypatch.setattr(lazy, "VERSIONS", {provider: "another version" for provider in VERSIONS})
    run_program(program, project="p", stack="s")
    assert seen[1] is shipped
    assert module.SecretBackendKey is sys.modules[f"{name}.secret_backend_key"].SecretBackendKey
    assert "__getattr__" not in vars(module)  # loaded as shipped
