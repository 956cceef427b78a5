"""Run the program (or any Pulumi function) under mocks and look up what it registered.

The harness goes through the same path as `cli.py plan`: the real program, Pulumi's mock
runtime, the stack-export document. Assertions therefore see exactly what an auditor sees
(secrets sealed in the envelope, camelCase input names, Pulumi URNs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.plan.document import ExportedResource, build_export, parse_export
from infra.plan.offline import run_program
from infra.spec.load import as_pulumi_config, build_spec, from_pulumi_config
from infra.spec.models import PROJECT, PlatformSpec
from stacks import build_platform

BASE_CONFIG: dict[str, Any] = {
    "domain": "sevensa.nl",
    "acmeEmail": "ops@sevensa.nl",
    "dockerHost": "ssh://deploy@147.93.57.40",
}


@dataclass
class Planned:
    """The resources of one offline run, with lookups for assertions."""

    document: dict[str, Any]
    resources: list[ExportedResource]

    def of_type(self, type_: str) -> list[ExportedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, type_: str, name: str) -> ExportedResource:
        matches = [r for r in self.of_type(type_) if r.name == name]
        if len(matches) != 1:
            known = sorted(r.name for r in self.of_type(type_))
            raise KeyError(f"{len(matches)} resources of type {type_} named {name!r}; known: {known}")
        return matches[0]

    def containers(self) -> dict[str, ExportedResource]:
        """Docker containers by their container name (inputs.name)."""
        return {r.inputs["name"]: r for r in self.of_type("docker:index/container:Container")}


def spec_for(overrides: dict[str, Any] | None = None, stack: str = "test") -> PlatformSpec:
    return build_spec({**BASE_CONFIG, **(overrides or {})}, stack_name=stack, source=f"Pulumi.{stack}.yaml")


def plan_config(overrides: dict[str, Any] | None = None, stack: str = "test") -> Planned:
    """Plan the whole program for `BASE_CONFIG` + overrides, config passed as Pulumi config.

    The program reads its spec from the runtime config, as `__main__.py` does under the real engine.
    """
    raw = {**BASE_CONFIG, **(overrides or {})}
    run = run_program(lambda: build_platform(from_pulumi_config()), project=PROJECT, stack=stack, config=as_pulumi_config(raw))
    document = build_export(run)
    return Planned(document=document, resources=parse_export(document))


def plan_function(program: Callable[[], None], stack: str = "test") -> Planned:
    """Plan an arbitrary Pulumi function (e.g. one component with hand-made args)."""
    run = run_program(program, project=PROJECT, stack=stack)
    document = build_export(run)
    return Planned(document=document, resources=parse_export(document))
