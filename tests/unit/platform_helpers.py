"""Reading containers out of a plan the way an operator thinks of them: files, labels, env."""

from __future__ import annotations

import posixpath
from typing import Any

from components.container import ROLE_LABEL, SEED_ROOT
from infra.stack_export import ExportedResource
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
    containers = planned.containers()
    service = containers[name]
    files = {u["file"]: u for u in service.inputs.get("uploads", [])}
    seed = containers.get(f"{name}-files-seed")
    if seed is not None:
        roots = {
            m["volumeOptions"]["subpath"]: m["target"]
            for m in service.inputs.get("mounts", [])
            if m.get("volumeOptions", {}).get("subpath")
        }
        for upload in seed.inputs["uploads"]:
            slug, _, rest = posixpath.relpath(upload["file"], SEED_ROOT).partition("/")
            files[posixpath.join(roots[slug], rest)] = upload
    return files


def file_content(planned: Planned, name: str, path: str) -> str:
    content = uploaded_files(planned, name)[path]["content"]
    if not isinstance(content, str):
        raise AssertionError(f"{name}:{path} is a sealed secret; its plaintext is not in the plan")
    return content
