"""Work the Pulumi SDK does per resource that an offline plan never uses, left out while a plan runs.

Each shim changes how fast the SDK gets to a registration, never what it registers: the plan
JSON of every stack is byte-identical with and without them (tests/infra/plan/test_lean_sdk.py).
They reach into SDK internals, so they apply only to the pinned SDK (`PINNED_PULUMI`); another
version runs the SDK untouched (slower, same result). Outside `lean_sdk()` the SDK is as shipped.

- The stack trace of each resource: the SDK walks and formats the whole Python stack to tell the
  engine which source line declared it; a plan has no engine to show it.
- The URN each registration computes for a monitor-less test run (`create_urn`: an `Output.all`
  and two applies per resource), unused when a monitor answers, as the plan's does.
- Four futures and a task per property of every resource (`transfer_properties`: an `Output` that
  awaits its value, known, secret and dependency futures in turn): one future holding the same
  resolved data instead, as the SDK already makes a resource's `urn` and `id`.
- `unwrap_type` (Output[T] / Input[T] / Optional[T] -> T), a pure function of a type that the SDK
  recomputes for every property of every resource it serializes: cached per type; likewise the
  name and type tables of a resource or input class (`PER_CLASS`), rebuilt per registration.
- The cyclic garbage collector: the run allocates some ten thousand futures and tasks that it keeps
  until the end, and each collection walks them all again; it runs once, after the plan.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Any

from pulumi import Output, Resource
from pulumi import _types as pulumi_types
from pulumi._version import _VERSION
from pulumi.output import _OutputData
from pulumi.runtime import resource as pulumi_resource_runtime
from pulumi.runtime import rpc as pulumi_rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS

PINNED_PULUMI = "3.260.0"

# Pure functions of a resource or input class (its property names and types), which the SDK
# rebuilds on every registration; their callers only read the dicts they return.
PER_CLASS = (
    "resource_types",
    "resource_pulumi_to_py_names",
    "resource_py_to_pulumi_names",
    "input_type_py_to_pulumi_names",
)


def _nested_code(function: Any, name: str) -> CodeType:
    return next(const for const in function.__code__.co_consts if isinstance(const, CodeType) and const.co_name == name)


class _NoUrn:
    """What `create_urn` gives `do_register`: it awaits `.future()` and uses the value only without a monitor."""

    async def future(self) -> None:
        return None


def _transfer_properties(res: Resource, props: Any, custom: bool) -> dict[str, pulumi_rpc.Resolver]:
    """`rpc.transfer_properties`: each property becomes an unresolved output of `res`, tracked
    for the end of the run like every output (`Output._track`, its settings read once here)."""
    lock, pending = SETTINGS.lock, SETTINGS.outputs

    def settled(data: asyncio.Future[_OutputData[Any]]) -> None:
        if not data.cancelled() and data.exception() is None:
            with lock:
                pending.discard(data)

    resolvers: dict[str, pulumi_rpc.Resolver] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # set elsewhere, as in the SDK
        data: asyncio.Future[_OutputData[Any]] = asyncio.Future()
        output: Output[Any] = object.__new__(Output)
        output._data = data
        with lock:
            pending.add(data)
        data.add_done_callback(settled)
        res.__dict__[name] = output
        resolvers[name] = functools.partial(_resolve, res, data)
    return resolvers


def _resolve(
    res: Resource,
    data: asyncio.Future[_OutputData[Any]],
    value: Any,
    is_known: bool,
    is_secret: bool,
    deps: set[Resource] | None,
    failed: Exception | None,
) -> None:
    """The SDK's resolver of a property: the same data, in one future."""
    if failed is not None:
        data.set_exception(failed)
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    data.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))


@contextmanager
def lean_sdk() -> Iterator[None]:
    """Within: the shims above, when the SDK is the pinned one; after: the SDK as shipped."""
    if _VERSION != PINNED_PULUMI:
        yield
        return
    create_urn = pulumi_resource_runtime.create_urn
    unwrap_type = pulumi_types.unwrap_type
    do_register = _nested_code(pulumi_resource_runtime.register_resource, "do_register")
    no_urn = _NoUrn()
    cached_unwrap = functools.cache(unwrap_type)

    def lean_create_urn(*args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_code is do_register:
            return no_urn
        return create_urn(*args, **kwargs)

    def lean_unwrap_type(val: Any) -> Any:
        try:
            return cached_unwrap(val)
        except TypeError:  # an unhashable annotation
            return unwrap_type(val)

    shims: dict[tuple[Any, str], Any] = {
        (pulumi_resource_runtime, "_get_stack_trace"): source_pb2.StackTrace,
        (pulumi_resource_runtime, "create_urn"): lean_create_urn,
        (pulumi_rpc, "transfer_properties"): _transfer_properties,
        (pulumi_types, "unwrap_type"): lean_unwrap_type,
    }
    for name in PER_CLASS:
        shims[pulumi_types, name] = functools.cache(getattr(pulumi_types, name))
    shipped = {target: getattr(*target) for target in shims}
    collecting = gc.isenabled()
    for (module, name), shim in shims.items():
        setattr(module, name, shim)
    gc.disable()
    try:
        yield
    finally:
        for (module, name), original in shipped.items():
            setattr(module, name, original)
        if collecting:
            gc.enable()
