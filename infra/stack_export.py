"""Reading export documents (a plan's or a real `pulumi stack export`) for diff, audit and diagram."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ExportError(ValueError):
    """The file is not a version-3 stack export."""


@dataclass(frozen=True)
class ExportedResource:
    urn: str
    type: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str
    provider: str
    dependencies: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def read_export(path: Path) -> list[ExportedResource]:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read a JSON stack export: {exc}") from exc
    return parse_export(document, str(path))


def parse_export(document: Any, source: str = "document") -> list[ExportedResource]:
    if not isinstance(document, dict) or document.get("version") != 3 or "deployment" not in document:
        raise ExportError(f"{source}: not a version-3 stack export ({{'version': 3, 'deployment': …}})")
    resources = document["deployment"].get("resources") or []
    parsed: list[ExportedResource] = []
    for index, entry in enumerate(resources):
        if not isinstance(entry, dict) or "urn" not in entry or "type" not in entry:
            raise ExportError(f"{source}: deployment.resources[{index}] has no urn/type")
        parsed.append(
            ExportedResource(
                urn=entry["urn"],
                type=entry["type"],
                custom=bool(entry.get("custom", False)),
                inputs=entry.get("inputs") or {},
                outputs=entry.get("outputs") or {},
                parent=entry.get("parent", ""),
                provider=entry.get("provider", ""),
                dependencies=tuple(entry.get("dependencies") or ()),
            )
        )
    return parsed
