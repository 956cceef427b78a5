"""Offline plan: run the real Pulumi program in-process under Pulumi's mock runtime.

No Pulumi CLI, no Docker, no credentials, no network. Every `RegisterResource` call is
recorded as the SDK sends it on the wire (camelCase names, secrets still marked), so the
document built from it has the shape of `pulumi stack export` (see `infra.plan.document`).

Each run executes inside a fresh `contextvars.Context` and a fresh event loop: Pulumi keeps
its root resource, config and settings in context variables, and reusing them across runs
would leak one plan's resources into the next.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import dataclasses
import hashlib
import hmac
import math
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from infra.plan.document import (
    SECRET_SIG,
    SECRET_VALUE,
    STACK_TYPE,
    build_export,
    is_secret,
)
from infra.plan.engine import engine_problems
from infra.plan.lazy_providers import subpackages_by_name
from infra.plan.lean_sdk import lean_sdk, note_read, register_resource
from infra.plan.record import PlanRun, Registration
from infra.spec import load
from infra.spec.models import PlatformSpec
from infra.spec.problems import SpecError
from stacks import build_platform

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def mock_secret(name: str, kind: str, length: int | None = None) -> str:
    """A stand-in secret value for the offline plan: deterministic, obviously not real."""
    return "mock-" + hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()[:24]


# What pulumi_random computes, per resource type (the provider marks the secret ones).
RANDOM_OUTPUTS: dict[str, tuple[str, ...]] = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "random:index/randomString:RandomString": ("result",),
    "random:index/randomId:RandomId": ("hex", "b64Url", "b64Std", "dec"),
    "random:index/randomBytes:RandomBytes": ("base64", "hex"),
    "random:index/randomUuid:RandomUuid": ("result",),
}


def keyed_secret(key: bytes) -> Callable[[str, str, int | None], str]:
    """Secret values derived from `key` (the lab's): unpredictable, the same on every run, and
    shaped as the provider makes them (`length` characters; `length` bytes as hex or base64)."""
    alphabet = string.ascii_letters + string.digits

    def secret(name: str, kind: str, length: int | None = None) -> str:
        size = length or 40
        stream = b"".join(hmac.new(key, f"{kind}:{name}:{block}".encode(), hashlib.sha256).digest() for block in range(size // 32 + 1))[:size]
        if kind.endswith(".hex"):
            return stream.hex()
        if kind.endswith(".base64"):
            return base64.b64encode(stream).decode()
        return "".join(alphabet[byte % len(alphabet)] for byte in stream)

    return secret


# Values the server assigns and the provider reads back (the lab sets them to these on its OpenBao).
PROVIDER_COMPUTED: dict[str, tuple[str, ...]] = {
    "vault:appRole/authBackendRole:AuthBackendRole": ("roleId",),
    "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId": ("secretId",),
}


class PlanMocks(pulumi_mocks.Mocks):
    """Outputs = inputs plus what the provider would compute; random values are stand-ins
    (`secret(name, kind, length)`: `mock_secret` unless the lab gives keyed ones)."""

    def __init__(self, secret: Callable[[str, str, int | None], str] = mock_secret) -> None:
        super().__init__()
        self.secret = secret

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        token = args.typ
        length = args.inputs.get("length")
        for output in RANDOM_OUTPUTS.get(token, ()):
            outputs[output] = self.secret(args.name, f"{token}.{output}", int(length) if length else None)
        if token == "keycloak:openid/client:Client" and "clientSecret" not in outputs:
            outputs["clientSecret"] = self.secret(args.name, token)
        for output in PROVIDER_COMPUTED.get(token, ()):
            outputs.setdefault(output, self.secret(args.name, f"{token}.{output}"))
        if token.startswith("docker:index/remoteImage"):
            outputs.setdefault("repoDigest", f"{args.inputs.get('name', args.name)}@sha256:{'0' * 64}")
            outputs.setdefault("imageId", f"sha256:{hashlib.sha256(args.name.encode()).hexdigest()}")
        return f"{args.name}-id", outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps what `pulumi stack export` would show of each resource."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # Pulumi qualifies a child's type with its ancestors' type chain (the stack excluded);
        # the stock mock monitor keeps only the nearest parent.
        qualified = type_
        if parent and type_ != STACK_TYPE:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type == STACK_TYPE:
            return super().RegisterResource(request)
        inputs = struct_values(request.object)
        response = register_resource(self, request, inputs)
        if response is None:
            response = super().RegisterResource(request)
        outputs = _mark_secret_outputs(response.object, request, inputs)
        note_read(response.object, outputs)
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            provider=request.provider,
            id=response.id if request.custom else "",
            inputs=inputs,
            outputs=outputs if request.custom else {},
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={
                key: sorted(set(value.urns)) for key, value in request.propertyDependencies.items() if value.urns
            },
            additional_secret_outputs=sorted(request.additionalSecretOutputs),
            version=request.version,
            delete_before_replace=bool(request.deleteBeforeReplace),
            protect=bool(request.protect),
        )
        with self._lock:
            self.registrations[registration.urn] = registration
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        outputs = struct_values(request.outputs)
        with self._lock:
            if request.urn.split("::")[2] == STACK_TYPE:
                self.stack_outputs = outputs
            elif request.urn in self.registrations:
                self.registrations[request.urn].outputs = outputs
        return super().RegisterResourceOutputs(request)


def struct_values(struct: struct_pb2.Struct) -> dict[str, Any]:
    """`json_format.MessageToDict(struct)`: the same JSON values (numbers as the struct's floats),
    read without its generic walk over each value's descriptor (some 12,000 values a prod plan)."""
    fields = struct.fields
    return {key: _value(fields[key]) for key in fields}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return struct_values(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        if math.isfinite(number):
            return number
        from google.protobuf import json_format  # for its error alone (a NaN or an infinity): a plan has none

        return json_format.MessageToDict(value)  # raises its ValueError
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or a value without a kind


def _mark_secret_outputs(outputs: struct_pb2.Struct, request: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Do what the engine does: wrap declared-secret outputs (and outputs of secret inputs).
    Marks `outputs` (what the program gets back) and returns them as a dict (what the plan records).

    The stock mock monitor returns them in plaintext, so everything the program derives
    from e.g. a RandomPassword's `result` would silently stop being secret.
    """
    marked = struct_values(outputs)
    secret_keys = set(request.additionalSecretOutputs) | {k for k, v in inputs.items() if is_secret(v)}
    for key in secret_keys & marked.keys():
        if not is_secret(marked[key]):
            marked[key] = {SECRET_SIG: SECRET_VALUE, "value": marked[key]}
            outputs[key] = marked[key]
    return marked


class PlanLoop(asyncio.SelectorEventLoop):
    """The plan's event loop: a call for its default executor runs at once, on the loop's thread,
    and comes back as a future already done; it never starts a thread.

    The SDK hands every monitor call (one or two per resource) to a worker thread, made for a
    gRPC engine that blocks; the recording monitor answers at once, in memory, so the thread
    switches, their wake-ups and the hand-back through the loop's self-pipe are all the threads
    would add.
    """

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        if executor is not None:
            return super().run_in_executor(executor, func, *args)
        future = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as error:  # as a worker thread hands it back: the awaiting task sees it
            future.set_exception(error)
        return future


def run_program(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: PlanMocks | None = None,
) -> PlanRun:
    """Run `program` under mocks with `config` as its Pulumi config; return every registration."""
    monitor = RecordingMonitor(mocks or PlanMocks())

    def run() -> None:
        loop = PlanLoop()
        asyncio.set_event_loop(loop)
        try:
            set_all_config(dict(config or {}), secret_keys or [])
            pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
            # set_mocks makes and finishes a root stack at once; the program's exports
            # need one that stays open while it runs, as the real language host makes.
            set_root_resource(None)
            _sync_await(run_in_stack(program))
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with lean_sdk(), subpackages_by_name():
        contextvars.Context().run(run)
    return PlanRun(project=project, stack=stack, registrations=list(monitor.registrations.values()), stack_outputs=monitor.stack_outputs)


@dataclass
class StackPlan:
    spec: PlatformSpec
    document: dict[str, Any]


def plan_stack(
    stack: str,
    project_dir: Path = load.PROJECT_DIR,
    lab_key: bytes | None = None,
    lab_values: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> StackPlan:
    """Stack file (read once) -> validated spec (all problems at once) -> the program under mocks -> document.

    The program gets the spec built here, not one re-derived from the runtime config: the
    config is still set, as Pulumi would set it, for what reads other namespaces. A plan that
    needs a newer Docker API than the stack's `dockerApiVersion` is refused (`SpecError`).

    `lab_key` and `lab_values` are for the live lab only: random values are derived from the
    key and the document keeps secrets readable (`{sig, value}`), for the lab to apply in
    memory (never write it); `lab_values` gives, from the file's keys, the keys only known
    once the lab runs (its ACME CA's root), validated like the file's own.
    """
    stack_file = load.read_stack(stack, project_dir)
    if lab_values is not None:
        stack_file = dataclasses.replace(stack_file, raw=stack_file.raw | dict(lab_values(stack_file.raw)))
    spec = stack_file.spec()
    secure = {key: value for key, value in stack_file.raw.items() if isinstance(value, dict) and "secure" in value}
    plain = {key: value for key, value in stack_file.raw.items() if key not in secure}
    run = run_program(
        lambda: build_platform(spec),
        project=spec.project,
        stack=stack,
        # encrypted config cannot be read offline: the program sees a stand-in, still secret
        config=load.as_pulumi_config(plain) | {f"{load.NAMESPACE}:{key}": f"<encrypted {key}>" for key in secure},
        secret_keys=[f"{load.NAMESPACE}:{key}" for key in secure],
        mocks=PlanMocks(keyed_secret(lab_key)) if lab_key is not None else None,
    )
    document = build_export(run, sealed=lab_key is None)
    problems = engine_problems(document, spec.docker_api_version, stack_file.shown)
    if problems:
        raise SpecError(problems)
    return StackPlan(spec=spec, document=document)
