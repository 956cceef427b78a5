"""Which Docker Engine API a plan needs, against what the stack's host speaks (`dockerApiVersion`).

An engine older than a feature does not always refuse it: API 1.41 (Debian stable's Docker
20.10) silently ignores a volume mount's sub-path and mounts the whole volume. So the plan is
checked before anything is deployed: every planned container input that needs a newer API
than the stack declares is a problem under `platform:dockerApiVersion`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra.spec.problems import Problem

CONTAINER = "docker:index/container:Container"
DEFAULT_API = "1.41"


@dataclass(frozen=True)
class EngineFeature:
    name: str
    min_api: str
    used: Callable[[Mapping[str, Any]], bool]
    """True when a container's planned inputs use the feature."""


def _mounts(inputs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m for m in inputs.get("mounts", []) if isinstance(m, Mapping)]


FEATURES: tuple[EngineFeature, ...] = (
    EngineFeature("volume sub-path mounts (mounts[].volumeOptions.subpath)", "1.45", lambda i: any("subpath" in (m.get("volumeOptions") or {}) for m in _mounts(i))),
    EngineFeature("non-recursive read-only bind mounts (mounts[].bindOptions.readOnlyNonRecursive)", "1.44", lambda i: any("readOnlyNonRecursive" in (m.get("bindOptions") or {}) for m in _mounts(i))),
    EngineFeature("healthcheck start interval (healthcheck.startInterval)", "1.44", lambda i: "startInterval" in (i.get("healthcheck") or {})),
    EngineFeature("several networks with per-network options in one create (networksAdvanced[].driverOpts)", "1.44", lambda i: any("driverOpts" in n for n in i.get("networksAdvanced", []))),
)


def api_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor)


@dataclass(frozen=True)
class Requirement:
    container: str
    feature: EngineFeature


def requirements(document: Mapping[str, Any]) -> Iterator[Requirement]:
    """Every (container, feature) the plan uses."""
    for resource in document.get("deployment", {}).get("resources", []):
        if resource.get("type") != CONTAINER:
            continue
        inputs = resource.get("inputs") or {}
        for feature in FEATURES:
            if feature.used(inputs):
                yield Requirement(str(inputs.get("name", resource.get("urn"))), feature)


def engine_problems(document: Mapping[str, Any], api_version: str, source: str) -> list[Problem]:
    """One problem per feature the plan uses that `api_version` does not have."""
    have = api_tuple(api_version)
    too_new: dict[EngineFeature, list[str]] = {}
    for requirement in requirements(document):
        if api_tuple(requirement.feature.min_api) > have:
            too_new.setdefault(requirement.feature, []).append(requirement.container)
    return [
        Problem(
            source,
            "platform:dockerApiVersion",
            f"the plan uses {feature.name}, which needs Docker API {feature.min_api}; the host speaks {api_version} "
            f"(containers: {', '.join(sorted(containers))}). An older engine may ignore it silently.",
        )
        for feature, containers in too_new.items()
    ]
