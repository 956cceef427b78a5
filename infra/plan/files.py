"""The files each container receives, as the plan (or a stack export) declares them.

Read-only containers get their files through a never-started seed container that uploads
into volumes the service mounts (see `components.container`); this maps those uploads back,
through the volume both mount, to the paths the service sees, so `render` and the tests read
the files where the service does.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from components.container import SEED_SUFFIX
from infra.plan.document import ExportedResource

CONTAINER = "docker:index/container:Container"


def files_by_container(resources: list[ExportedResource]) -> dict[str, dict[str, dict[str, Any]]]:
    """Container name -> {path inside the container -> upload entry (content may be sealed)}."""
    containers = {str(r.inputs.get("name")): r for r in resources if r.type == CONTAINER}
    files: dict[str, dict[str, dict[str, Any]]] = {}
    for name, container in containers.items():
        if name.endswith(SEED_SUFFIX):
            continue
        own = {u["file"]: u for u in container.inputs.get("uploads", [])}
        seed = containers.get(name + SEED_SUFFIX)
        if seed is not None:
            seen_at = {m["source"]: m["target"] for m in container.inputs.get("mounts", []) if m.get("type") == "volume"}
            seeded_at = {m["target"]: m["source"] for m in seed.inputs.get("mounts", [])}
            for upload in seed.inputs.get("uploads", []):
                seed_dir = next(d for d in seeded_at if upload["file"].startswith(d + "/"))
                own[posixpath.join(seen_at[seeded_at[seed_dir]], posixpath.relpath(upload["file"], seed_dir))] = upload
        files[name] = own
    return files


def write_files(resources: list[ExportedResource], out_dir: Path) -> tuple[list[Path], list[str]]:
    """Write every non-secret file under `out_dir/<container>/<path>`; secret ones are only named.

    Returns (written paths, `container:path` of the sealed files that were not written).
    """
    written: list[Path] = []
    sealed: list[str] = []
    for container, files in sorted(files_by_container(resources).items()):
        for path, upload in sorted(files.items()):
            content = upload.get("content")
            if not isinstance(content, str):
                sealed.append(f"{container}:{path}")
                continue
            target = out_dir / container / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            written.append(target)
    return written, sealed
