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
- `serialize_property` of a plain str, int, float, bool or None: the SDK checks it against a
  dozen kinds of value (a resource, an asset, an output, an input type...) before it returns it as
  it is; the shim returns it at once (a return_protobuf_value call, and any other value, still
  takes the SDK's path). Likewise `contains_unknowns` (asked of every output value): such a value
  is no unknown, nor holds one.
- `unwrap_type` (Output[T] / Input[T] / Optional[T] -> T), a pure function of a type that the SDK
  recomputes for every property of every resource it serializes: cached per type; likewise the
  name and type tables of a resource or input class (`PER_CLASS`), rebuilt per registration.
- The type table of a class (`_types_from_py_properties`: `get_type_hints` of every property's
  getter, the SDK's cache keeps it per class): a plan reads the types of the few properties a
  resource or input sets, of classes that declare dozens (a container some eighty); each type is
  worked out when first read (`PropertyTypes`), in the SDK's own way, and a resource's table reads
  its properties' types before its annotations', as the SDK's merge of the two does. A getter's
  return hint is worked out once per return annotation and class namespace (`_RETURN_HINTS`), or once
  per annotation when no name in it is looked up in that namespace (`pulumi.Input[str]`'s only
  forward reference, `'Output[T]'`, is read from the SDK's locals): of 1083 getters a prod plan
  reads, 386 differ in annotation and namespace, 116 in what their hint is worked out from.
- The mock monitor's round trip of each resource (`MockMonitor.RegisterResource`): it turns the
  request's protobuf into Python values for the mocks and their answer back into protobuf through
  the SDK's async serializer, pumping an event loop of its own in the worker thread. The recording
  monitor has already read the request as plain JSON values: `register_resource` makes from them
  what the SDK's deserializer makes (secrets pushed up a level, nulls and unknowns dropped) and
  writes the mocks' plain answer with the `Struct` setter that serializer ends in. A value only the
  SDK converts (an asset, a resource reference, an output value) takes the SDK's own path.
- The SDK's read of each response (`deserialize_properties` of the struct the monitor answers
  with): the recording monitor has already read it as JSON values (`MessageToDict`, numbers as the
  struct's floats) to record the outputs; the SDK's Python values are made from those, in the way
  `register_resource` makes them of a request (`note_read`). An SDK-only value, or another reader of
  the struct, takes the SDK's own path.
- The SDK's debug messages (`log.debug`, a few per resource): each becomes a `LogRequest` protobuf
  that the mock engine hands to its logger, which drops it unless that logger takes debug records;
  when it does not, the message is not made at all. A message about a resource (its URN awaited
  in a task of its own) still takes the SDK's path.
- The cyclic garbage collector: the run allocates some ten thousand futures and tasks that it keeps
  until the end, and each collection walks them all again. It is off while the plan runs; after,
  what the run allocated joins the oldest generation (`gc.freeze()` then `gc.unfreeze()`, two list
  splices), so the first young collection does not walk all of it at once: the next full
  collection, when it comes due, frees what the run left.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import re
import sys
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any

from google.protobuf import struct_pb2
from pulumi import Output, Resource
from pulumi import _types as pulumi_types
from pulumi import log as pulumi_log
from pulumi._version import _VERSION
from pulumi.output import _OutputData
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource_runtime
from pulumi.runtime import rpc as pulumi_rpc
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.settings import SETTINGS, is_dry_run
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

PINNED_PULUMI = "3.260.0"

# Pure functions of a resource or input class (its property names and types), which the SDK
# rebuilds on every registration; their callers only read the dicts they return.
PER_CLASS = (
    "resource_pulumi_to_py_names",
    "resource_py_to_pulumi_names",
    "input_type_py_to_pulumi_names",
)


# Values `rpc.serialize_property` returns as they are, after a dozen type checks that all fail.
_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def _nested_code(function: Any, name: str) -> CodeType:
    return next(const for const in function.__code__.co_consts if isinstance(const, CodeType) and const.co_name == name)


class _NoUrn:
    """What `create_urn` gives `do_register`: it awaits `.future()` and uses the value only without a monitor."""

    async def future(self) -> None:
        return None


def _transfer_properties(res: Resource, props: Any, custom: bool) -> dict[str, pulumi_rpc.Resolver]:
    """`rpc.transfer_properties`: each property becomes an unresolved output of `res`, tracked
    for the end of the run like every output (`Output._track`: pending until it resolves), its
    settings read once here. Its resolver takes it out of the pending ones as it resolves it, where
    `_track`'s done-callback would one loop turn later (a scheduled callback per property)."""
    lock, pending = SETTINGS.lock, SETTINGS.outputs
    resolvers: dict[str, pulumi_rpc.Resolver] = {}
    futures: list[asyncio.Future[_OutputData[Any]]] = []
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # set elsewhere, as in the SDK
        data: asyncio.Future[_OutputData[Any]] = asyncio.Future()
        output: Output[Any] = object.__new__(Output)
        output._data = data
        futures.append(data)
        res.__dict__[name] = output
        resolvers[name] = functools.partial(_resolve, res, data, lock, pending)
    with lock:
        pending.update(futures)
    return resolvers


def _resolve(
    res: Resource,
    data: asyncio.Future[_OutputData[Any]],
    lock: Any,
    pending: set[asyncio.Future[Any]],
    value: Any,
    is_known: bool,
    is_secret: bool,
    deps: set[Resource] | None,
    failed: Exception | None,
) -> None:
    """The SDK's resolver of a property: the same data, in one future (a failed one stays pending,
    for the end of the run to raise, as `_track` leaves it)."""
    if failed is not None:
        data.set_exception(failed)
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    data.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))
    with lock:
        pending.discard(data)


_ABSENT = object()
_UNSEEN = object()


class PropertyTypes(Mapping[str, Any]):
    """`_types_from_py_properties(cls)` (Pulumi names to the types of the class's property getters),
    each type worked out when first read; iterating it works out the whole table, as the SDK does."""

    def __init__(self, cls: type) -> None:
        self._cls = cls
        self._props: dict[str, list[property]] = {}
        for _, pulumi_name, prop in pulumi_types._py_properties(cls):
            self._props.setdefault(pulumi_name, []).append(prop)
        self._known: dict[str, Any] = {}
        self._globalns: dict[str, Any] | None = None
        # What `_globals_for_cls` merges: the modules of the class's bases
        self._modules = tuple(base.__module__ for base in reversed(cls.__mro__) if base.__module__ in sys.modules)

    def _return_hint(self, getter: Any) -> Any:
        """`get_type_hints(getter, the class's globals, the SDK's locals)["return"]`: a function of
        the getter's return annotation and the modules those globals come from, which many getters
        share (`Output[str]`, `Output[Optional['outputs.X']]` of one module): worked out once; and
        once for all modules when the globals play no part in it (`_reads_globals`)."""
        annotations = getattr(getter, "__annotations__", None)
        shared = type(annotations) is dict and annotations.keys() == {"return"} and not getattr(getter, "__no_type_check__", None)
        annotation = annotations["return"] if shared else None
        try:
            by_scope = _RETURN_HINTS.get(annotation) if shared else None
        except TypeError:  # an unhashable annotation
            shared, by_scope = False, None
        if by_scope is not None:
            hint = by_scope.get((), _UNSEEN)
            if hint is _UNSEEN:
                hint = by_scope.get(self._modules, _UNSEEN)
            if hint is not _UNSEEN:
                return hint
        if self._globalns is None:
            self._globalns = pulumi_types._globals_for_cls(self._cls)
        hint = typing.get_type_hints(getter, globalns=self._globalns, localns=_HINT_LOCALS).get("return")
        if shared:
            _RETURN_HINTS.setdefault(annotation, {})[self._modules if _reads_globals(annotation) else ()] = hint
        return hint

    def _type(self, name: str) -> Any:
        """As the SDK's loop leaves `name`: the last getter with a return hint that is not `Output`."""
        found = self._known.get(name, _UNSEEN)
        if found is _UNSEEN:
            found = _ABSENT
            for prop in self._props.get(name, ()):
                hint = self._return_hint(prop.fget)
                if hint is not None and (typ := pulumi_types.unwrap_type(hint)) is not Output:
                    found = typ
            self._known[name] = found
        return found

    def __getitem__(self, name: str) -> Any:
        typ = self._type(name)
        if typ is _ABSENT:
            raise KeyError(name)
        return typ

    def get(self, name: str, default: Any = None) -> Any:
        """`Mapping.get` without a `KeyError` raised and caught per absent name (most are, per read)."""
        typ = self._type(name)
        return default if typ is _ABSENT else typ

    def __iter__(self) -> Iterator[str]:
        return iter(_SHIPPED["_types_from_py_properties"](self._cls))

    def __len__(self) -> int:
        return len(_SHIPPED["_types_from_py_properties"](self._cls))


class ResourceTypes(Mapping[str, Any]):
    """`resource_types(cls)`: the types of the resource's annotations, then of its property getters
    (which win, as in the SDK's merge), each read when first asked for."""

    def __init__(self, cls: type) -> None:
        self._cls = cls
        self._annotations = pulumi_types._types_from_annotations(cls)
        self._properties = _property_types(cls)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._properties[name]
        except KeyError:
            return self._annotations[name]

    def get(self, name: str, default: Any = None) -> Any:
        typ = self._properties.get(name, _ABSENT)
        return self._annotations.get(name, default) if typ is _ABSENT else typ

    def __iter__(self) -> Iterator[str]:
        return iter(_SHIPPED["resource_types"](self._cls))

    def __len__(self) -> int:
        return len(_SHIPPED["resource_types"](self._cls))


# The SDK's own type tables, for a whole one (set by `lean_sdk`, which alone hands these out).
_SHIPPED: dict[str, Any] = {}
# Per class for the whole process, as the SDK's own cache of the table.
_property_types = functools.cache(PropertyTypes)
# return annotation -> modules of the globals, or () for any -> the getter's return hint (`PropertyTypes._return_hint`)
_RETURN_HINTS: dict[Any, dict[tuple[str, ...], Any]] = {}
# The locals the SDK evaluates a getter's return annotation with (`_types_from_py_properties`)
_HINT_LOCALS: dict[str, Any] = {"Output": Output, "T": type(None)}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _reads_globals(annotation: Any) -> bool:
    """Whether `get_type_hints` may look up a name of `annotation` in the globals: a forward reference
    (a string) in it names something other than the SDK's locals, as `pulumi.Input[T]`'s
    `'Output[T]'` does not. What `typing._eval_type` walks: the `__args__` of each generic."""
    if isinstance(annotation, str):
        return not set(_NAME.findall(annotation)) <= _HINT_LOCALS.keys()
    if isinstance(annotation, typing.ForwardRef):
        return _reads_globals(annotation.__forward_arg__)
    return any(_reads_globals(arg) for arg in getattr(annotation, "__args__", ()))


class _SdkOnly(Exception):
    """A value only the SDK's own (de)serializer converts."""


def _deserialized_properties(struct: dict[str, Any], keep_unknowns: bool = False) -> Any:
    """`rpc.deserialize_properties` of a Struct, given as plain JSON values (`MessageToDict`)."""
    if pulumi_rpc._special_sig_key in struct:
        if struct[pulumi_rpc._special_sig_key] != pulumi_rpc._special_secret_sig:
            raise _SdkOnly
        return pulumi_rpc.wrap_rpc_secret(_deserialized_property(struct["value"]))  # as the SDK: unknowns not kept
    output = {}
    for key, value in struct.items():
        deserialized = _deserialized_property(value, keep_unknowns)
        if deserialized is not None:
            output[key] = deserialized
    return output


def _deserialized_property(value: Any, keep_unknowns: bool = False) -> Any:
    """`rpc.deserialize_property`: a list or mapping holding a secret becomes one secret."""
    if value == pulumi_rpc.UNKNOWN:
        if keep_unknowns or is_dry_run():
            raise _SdkOnly  # an `Unknown`
        return None
    if isinstance(value, list):
        values = [_deserialized_property(item, keep_unknowns) for item in value]
        if any(pulumi_rpc.is_rpc_secret(item) for item in values):
            return pulumi_rpc.wrap_rpc_secret([pulumi_rpc.unwrap_rpc_secret(item) for item in values])
        return values
    if isinstance(value, dict):
        props = _deserialized_properties(value, keep_unknowns)
        if isinstance(props, dict) and any(pulumi_rpc.is_rpc_secret(item) for item in props.values()):
            return pulumi_rpc.wrap_rpc_secret({key: pulumi_rpc.unwrap_rpc_secret(item) for key, item in props.items()})
        return props
    return value


def _plain(value: Any) -> bool:
    """JSON data, which the SDK's serializer returns as it is (then sets into the Struct)."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, (str, int, float))


def register_resource(
    monitor: pulumi_mocks.MockMonitor, request: Any, inputs: dict[str, Any]
) -> resource_pb2.RegisterResourceResponse | None:
    """`MockMonitor.RegisterResource` of a resource (not the stack) whose request reads as `inputs`
    (`MessageToDict`); None when the SDK's own path has to run (another SDK, or an SDK-only value)."""
    if _VERSION != PINNED_PULUMI:
        return None
    try:
        args_inputs = _deserialized_properties(inputs)
    except _SdkOnly:
        return None
    urn = monitor.make_urn(request.parent, request.type, request.name)
    resource_args = pulumi_mocks.MockResourceArgs(
        typ=request.type,
        name=request.name,
        inputs=args_inputs,
        provider=request.provider,
        resource_id=request.importId,
        custom=request.custom or False,
        transforms=pulumi_mocks._resolve_callbacks(request.transforms),
    )
    id_, state = monitor.mocks.new_resource(resource_args)
    if _plain(state):
        obj = struct_pb2.Struct()
        obj.update({key: value for key, value in state.items() if value is not None})
    else:
        _ensure_event_loop()
        obj = _sync_await(pulumi_rpc.serialize_properties(state, {}))
    monitor.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)
    return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)


# Response structs the recording monitor answered with, by id, and the JSON values it read of each.
_READ: dict[int, tuple[struct_pb2.Struct, dict[str, Any]]] = {}


def note_read(struct: struct_pb2.Struct, values: dict[str, Any]) -> None:
    """`struct` (a response the monitor hands the SDK) reads as `values` (`MessageToDict`): within
    `lean_sdk`, the SDK's deserializer of that response (the resource's outputs) makes its result
    from them instead of walking the struct again."""
    if _VERSION == PINNED_PULUMI:
        _READ[id(struct)] = (struct, values)


@contextmanager
def lean_sdk() -> Iterator[None]:
    """Within: the shims above, when the SDK is the pinned one; after: the SDK as shipped."""
    if _VERSION != PINNED_PULUMI:
        yield
        return
    create_urn = pulumi_resource_runtime.create_urn
    serialize_property = pulumi_rpc.serialize_property
    contains_unknowns = pulumi_rpc.contains_unknowns
    deserialize_properties = pulumi_rpc.deserialize_properties
    unwrap_type = pulumi_types.unwrap_type
    debug = pulumi_log.debug
    do_register = _nested_code(pulumi_resource_runtime.register_resource, "do_register")
    no_urn = _NoUrn()
    cached_unwrap = functools.cache(unwrap_type)

    def lean_create_urn(*args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_code is do_register:
            return no_urn
        return create_urn(*args, **kwargs)

    async def lean_serialize_property(  # the SDK's signature
        value: Any,
        deps: Any,
        property_key: Any,
        resource_obj: Any = None,
        input_transformer: Any = None,
        typ: Any = None,
        keep_output_values: bool = False,
        exclude_resource_refs_from_deps: bool = False,
        return_protobuf_value: bool = False,
    ) -> Any:
        if type(value) in _AS_THEY_ARE and not return_protobuf_value:
            return value
        return await serialize_property(
            value,
            deps,
            property_key,
            resource_obj,
            input_transformer,
            typ,
            keep_output_values,
            exclude_resource_refs_from_deps,
            return_protobuf_value=return_protobuf_value,
        )

    def lean_deserialize_properties(props_struct: Any, keep_unknowns: Any = None, keep_internal: Any = True) -> Any:
        read = _READ.pop(id(props_struct), None)
        if read is not None and read[0] is props_struct and keep_internal is not False:
            try:
                return _deserialized_properties(read[1], bool(keep_unknowns))
            except _SdkOnly:
                pass
        return deserialize_properties(props_struct, keep_unknowns, keep_internal)

    def lean_contains_unknowns(val: Any) -> bool:
        return type(val) not in _AS_THEY_ARE and contains_unknowns(val)

    def lean_debug(msg: str, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
        engine = SETTINGS.engine
        if resource is None and type(engine) is pulumi_mocks.MockEngine and not engine.logger.isEnabledFor(logging.DEBUG):
            return  # MockEngine.Log would pass it to a logger that drops it
        debug(msg, resource, stream_id, ephemeral)

    def lean_unwrap_type(val: Any) -> Any:
        try:
            return cached_unwrap(val)
        except TypeError:  # an unhashable annotation
            return unwrap_type(val)

    shims: dict[tuple[Any, str], Any] = {
        (pulumi_resource_runtime, "_get_stack_trace"): source_pb2.StackTrace,
        (pulumi_resource_runtime, "create_urn"): lean_create_urn,
        (pulumi_rpc, "transfer_properties"): _transfer_properties,
        (pulumi_rpc, "serialize_property"): lean_serialize_property,
        (pulumi_rpc, "contains_unknowns"): lean_contains_unknowns,
        (pulumi_rpc, "deserialize_properties"): lean_deserialize_properties,
        (pulumi_types, "unwrap_type"): lean_unwrap_type,
        (pulumi_log, "debug"): lean_debug,
    }
    for name in PER_CLASS:
        shims[pulumi_types, name] = functools.cache(getattr(pulumi_types, name))
    shims[pulumi_types, "_types_from_py_properties"] = _property_types
    shims[pulumi_types, "resource_types"] = functools.cache(ResourceTypes)
    _SHIPPED.update(_types_from_py_properties=pulumi_types._types_from_py_properties, resource_types=pulumi_types.resource_types)
    shipped = {target: getattr(*target) for target in shims}
    for (module, name), shim in shims.items():
        setattr(module, name, shim)
    try:
        with paused_collection():
            yield
    finally:
        for (module, name), original in shipped.items():
            setattr(module, name, original)
        _READ.clear()


@contextmanager
def paused_collection() -> Iterator[None]:
    """No cyclic garbage collection within; after, what was allocated meanwhile joins the oldest
    generation (`gc.freeze()` then `gc.unfreeze()`, two list splices), so that the first young
    collection does not walk all of it at once: the next full one, when it comes due, frees what
    is garbage by then."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if collecting:
            gc.enable()
