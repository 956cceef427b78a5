"""Reading planned resources the way a provider would receive them.

The replay appliers give the OpenBao and Keycloak resources of a plan to real servers.
These helpers give them what a provider gets: inputs with numbers as ints, references
between resources resolved to the ids the real server assigned, and secrets: a sealed
secret (the plan never holds a real one) is replaced by a value its caller chooses; the
lab's plan (`plan_stack(lab_key=...)`) carries its own values, which `revealed` reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.plan.document import SECRET_SIG, ExportedResource

CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class UnhandledInput(RuntimeError):
    """A planned input the applier does not translate: replaying without it would silently differ."""


def snake(name: str) -> str:
    return CAMEL.sub("_", name).lower()


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


def revealed(value: Any) -> Any:
    """The value of a lab-plan secret (`{sig, value}`); plain values as they are."""
    if is_sealed(value):
        if "value" not in value:
            raise UnhandledInput("a sealed secret: only the lab's plan (`plan_stack(lab_key=...)`) carries secret values")
        return value["value"]
    return value


def plain(value: Any) -> Any:
    """Wire numbers are floats; the APIs want ints where the value is integral."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict) and not is_sealed(value):
        return {key: plain(item) for key, item in value.items()}
    return value


def seconds(duration: str) -> int:
    """`300s`, `1h30m` (Go durations, as the Keycloak provider takes lifespans) -> seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    if not parts or not duration:
        raise ValueError(f"not a duration: {duration!r}")
    hours, minutes, secs = (int(group or 0) for group in parts.groups())
    return hours * 3600 + minutes * 60 + secs


@dataclass
class PlannedResource:
    """One planned resource with its inputs, and the planned id others refer to it by."""

    resource: ExportedResource
    planned_id: str
    consumed: set[str] = field(default_factory=set)

    @property
    def type(self) -> str:
        return self.resource.type

    @property
    def name(self) -> str:
        return self.resource.name

    def get(self, key: str, default: Any = None) -> Any:
        self.consumed.add(key)
        return plain(self.resource.inputs.get(key, default))

    def require(self, key: str) -> Any:
        if key not in self.resource.inputs:
            raise UnhandledInput(f"{self.resource.urn}: planned input {key!r} is missing")
        return self.get(key)

    def secret(self, key: str, substitute: Callable[[PlannedResource, str], str]) -> str:
        """A secret input: `substitute` gives its value (the caller's choice, or the lab plan's own)."""
        value = self.resource.inputs.get(key)
        self.consumed.add(key)
        if not is_sealed(value):
            raise UnhandledInput(f"{self.resource.urn}: {key!r} was expected to be a sealed secret, got {value!r}")
        return substitute(self, key)

    def ignore(self, *keys: str) -> None:
        """Inputs that have no server-side effect (e.g. Pulumi-only switches)."""
        self.consumed.update(keys)

    def check_consumed(self) -> None:
        left = sorted(set(self.resource.inputs) - self.consumed)
        if left:
            raise UnhandledInput(f"{self.resource.urn}: planned inputs not applied: {', '.join(left)}")


def planned(document: dict[str, Any], resources: Iterable[ExportedResource], prefix: str) -> list[PlannedResource]:
    """The custom resources whose type starts with `prefix`, in the plan's (topological) order."""
    ids = {entry["urn"]: entry.get("id", "") for entry in document["deployment"]["resources"]}
    return [PlannedResource(r, ids.get(r.urn, "")) for r in resources if r.custom and r.type.startswith(prefix)]
