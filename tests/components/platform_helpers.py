"""Reading containers out of a plan the way an operator thinks of them: files, labels, env."""

from __future__ import annotations

from typing import Any

from components.container import ROLE_LABEL
from infra.plan.document import ExportedResource
from infra.plan.files import files_by_container
from tests.harness import Planned

CONTAINER = "docker:index/container:Container"


def labels(container: ExportedResource) -> dict[str, str]:
    return {item["label"]: item["value"] for item in container.inputs.get("labels", [])}


def envs(container: ExportedResource) -> dict[str, Any]:
    """`K=V` entries as a dict (a sealed secret entry stays the envelope, keyed by `<sealed>`)."""
    found: dict[str, Any] = {}
    for entry in container.inputs.get("envs", []):
        if isinstance(entry, str):
            key, _, value = entry.partition("=")
            found[key] = value
        else:
            found.setdefault("<sealed>", []).append(entry)
    return found


def service_containers(planned: Planned) -> dict[str, ExportedResource]:
    """Every container that runs (file-seed containers are created but never started)."""
    return {name: c for name, c in planned.containers().items() if labels(c).get(ROLE_LABEL) != "file-seed"}


def uploaded_files(planned: Planned, name: str) -> dict[str, Any]:
    """Container path -> upload entry of service `name`, whether uploaded directly or via its seed."""
    return files_by_container(planned.resources)[name]


def file_content(planned: Planned, name: str, path: str) -> str:
    content = uploaded_files(planned, name)[path]["content"]
    if not isinstance(content, str):
        raise AssertionError(f"{name}:{path} is a sealed secret; its plaintext is not in the plan")
    return content
