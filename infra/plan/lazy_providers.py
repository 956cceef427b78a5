"""Provider subpackages that load, while a plan runs, only the modules the program reads from them.

A provider's subpackage (`pulumi_vault.database`, `pulumi_keycloak.openid`) is one of the SDK's lazy
modules (`pulumi._utils.lazy_import`): its `__init__` runs when the program first reads a name from
it, and star-imports every module the subpackage holds (`secret_backend_connection` alone some
0.05 s of CPU), though a plan uses a class or two of each. Within `subpackages_by_name()`, a
subpackage that has not run its `__init__` yet gets instead a module `__getattr__` (PEP 562) that
imports the one module that `__init__` takes a name from (`EXPORTS`, worked out by `exports_of`
from the real `__init__`). A name the table does not hold, `dir()` or a star import of the
subpackage first runs the real `__init__` in it (the `__getattr__` then goes): from then on the
subpackage is the one its `__init__` makes, during the plan or after it.

Only for the pinned providers (`provider_exports.VERSIONS`) and SDK (whose lazy modules this
hooks into); others load as shipped. Every name a table holds resolves to the object the real
`__init__` binds to it (tests/infra/plan/test_lazy_providers.py).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.abc import Loader
from typing import Any

from pulumi import _utils as pulumi_utils
from pulumi._version import _VERSION

import infra.plan.lean_sdk as lean
from infra.plan.provider_exports import EXPORTS, VERSIONS


def exports_of(name: str) -> dict[str, tuple[str, ...]]:
    """Per module of the subpackage `name`, the names its `__init__` binds to that module's
    objects (a module with none: the subpackage binds the module itself, or not at all)."""
    package = importlib.import_module(name)
    getattr(package, "__all__", None)  # a name it does not bind: runs the whole `__init__`
    table: dict[str, list[str]] = {}
    for attr in dir(package):
        value = getattr(package, attr)
        if isinstance(value, types.ModuleType):
            if value.__name__ == f"{name}.{attr}":
                table.setdefault(attr, [])
            continue
        module = getattr(value, "__module__", None)
        if isinstance(module, str) and module.startswith(f"{name}.") and getattr(sys.modules[module], attr, None) is value:
            table.setdefault(module.removeprefix(f"{name}."), []).append(attr)
    return {module: tuple(sorted(names)) for module, names in sorted(table.items())}


class ByName(Loader):
    """The loader a lazy subpackage runs when first read: a module `__getattr__` and `__dir__`
    in place of its `__init__` (`loader`, which they run for anything else)."""

    def __init__(self, loader: Loader, exports: dict[str, tuple[str, ...]]) -> None:
        self.loader = loader
        self.modules = exports
        self.sources = {attr: module for module, names in exports.items() for attr in names}

    def exec_module(self, module: types.ModuleType) -> None:
        namespace = module.__dict__

        def complete() -> None:
            """Make the subpackage the one its `__init__` makes."""
            if namespace.pop("__getattr__", None) is not None:
                namespace.pop("__dir__", None)
                self.loader.exec_module(module)

        def __getattr__(attr: str) -> Any:  # PEP 562
            source = self.sources.get(attr)
            if source is not None:
                value = getattr(importlib.import_module(f"{module.__name__}.{source}"), attr)
                namespace[attr] = value
                return value
            if attr in self.modules:
                return importlib.import_module(f"{module.__name__}.{attr}")
            complete()
            try:
                return namespace[attr]
            except KeyError:
                raise AttributeError(f"module {module.__name__!r} has no attribute {attr!r}") from None

        def __dir__() -> list[str]:  # PEP 562
            complete()
            return list(namespace)

        namespace["__getattr__"] = __getattr__
        namespace["__dir__"] = __dir__


def _pinned(provider: str) -> bool:
    package = sys.modules.get(provider)
    utilities = getattr(package, "_utilities", None)
    return utilities is not None and utilities.get_version() == VERSIONS.get(provider)


@contextmanager
def subpackages_by_name() -> Iterator[None]:
    """Within: each subpackage of `EXPORTS` that is still lazy loads by name (pinned providers
    and SDK only); after: one not read meanwhile runs its `__init__` when read, as shipped."""
    swapped: list[tuple[Any, Loader]] = []
    if _VERSION == lean.PINNED_PULUMI:
        for name, exports in EXPORTS.items():
            module = sys.modules.get(name)
            if type(module) is not pulumi_utils._LazyModule or not _pinned(name.partition(".")[0]):
                continue
            spec = module.__spec__  # read without loading the module
            swapped.append((spec, spec.loader))
            spec.loader = ByName(spec.loader, exports)
    try:
        yield
    finally:
        for spec, loader in swapped:
            spec.loader = loader


def main() -> None:
    """Print `provider_exports.py` for the installed providers (after a provider upgrade)."""
    providers = sorted({name.partition(".")[0] for name in EXPORTS})
    print('"""Generated by `python -m infra.plan.lazy_providers`: see infra/plan/lazy_providers.py."""\n')
    print("VERSIONS: dict[str, str] = {")
    for provider in providers:
        print(f"    {provider!r}: {importlib.import_module(provider)._utilities.get_version()!r},")
    print("}\n")
    print("EXPORTS: dict[str, dict[str, tuple[str, ...]]] = {")
    for name in sorted(EXPORTS):
        print(f"    {name!r}: {{")
        for module, names in exports_of(name).items():
            print(f"        {module!r}: {names!r},")
        print("    },")
    print("}")


if __name__ == "__main__":
    main()
