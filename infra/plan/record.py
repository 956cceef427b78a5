"""What one offline run of the program registered: each resource as the SDK sent it on the
wire, and the stack's outputs. The run (`offline`) fills it; the document (`document`) is built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Registration:
    """One resource as the program registered it (wire form: secrets still wrapped)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    additional_secret_outputs: list[str] = field(default_factory=list)
    version: str = ""
    delete_before_replace: bool = False
    protect: bool = False



@dataclass
class PlanRun:
    """What one offline run of the program registered."""

    project: str
    stack: str
    registrations: list[Registration]
    stack_outputs: dict[str, Any]
