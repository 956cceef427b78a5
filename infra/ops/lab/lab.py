"""`lab up | check | down`: the lab stack on the local Docker engine, proven by live checks.

`up`: the engine (Debian's docker.io, installed and started when absent), the local images
(cached by content hash), the plan of the lab stack with the lab's own secret values (in
memory only), the lab-only Pebble ACME server, then the plan applied (`applier`) with the
Keycloak and OpenBao content replayed on the lab's own servers (`content`). `check`: the live
checks (`checks`), as a report (`report`). `down`: every container, network and volume the
lab created, and its state file.

No Rich here: progress goes to a callback (the CLI shows it).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from infra.ops.lab import applier, content, images
from infra.ops.lab.state import LabState
from infra.plan.offline import StackPlan

REPO_ROOT = Path(__file__).resolve().parents[3]
INSTALL_DOCKER = REPO_ROOT / "scripts" / "install-docker.sh"
DEFAULT_STACK = "lab"
PEBBLE = "pebble"
PEBBLE_NETWORK = "traefik-net"

Progress = Callable[[str], None]


@dataclass
class UpResult:
    stack: str
    applied: applier.Applied
    image_seconds: float
    plan_seconds: float
    total_seconds: float
    stand_ins: list[str] = field(default_factory=list)


def ensure_engine(progress: Progress) -> None:
    """Debian's Docker engine, installed and started when absent (idempotent script, needs root)."""
    progress("Docker engine")
    completed = subprocess.run(["bash", str(INSTALL_DOCKER)], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise applier.LabApplyError(f"installing/starting the Docker engine failed:\n{completed.stderr[-2000:]}")


def client() -> docker.DockerClient:
    return docker.from_env(timeout=600)


def build_images(progress: Progress) -> dict[str, Any]:
    """Every lab image (unchanged ones are cached), then the override map the applier uses."""
    builder = images.Builder(client(), on_step=lambda name, step: progress(f"image {name}: {step}"))
    for recipe in images.build_order():
        builder.build(recipe)
    return json.loads(images.write_overrides().read_text())


def overrides() -> dict[str, Any]:
    path = images.OVERRIDES_FILE
    if not path.exists():
        raise applier.LabApplyError(f"{path} is missing: build the lab images first (`make lab` does)")
    return json.loads(path.read_text())


def lab_plan(stack: str, state: LabState) -> StackPlan:
    """The plan of `stack` with the lab's secret values readable (in memory only, never written)."""
    from infra.plan.offline import plan_stack

    return plan_stack(stack, lab_key=state.key())


def start_pebble(docker_client: docker.DockerClient, stack: str, image: str) -> None:
    """The lab-only ACME server, on Traefik's public network (the plan does not declare it)."""
    labels = {applier.LAB_LABEL: stack, applier.ROLE_LABEL: "lab-acme-server"}
    try:
        existing = docker_client.containers.get(PEBBLE)
        if existing.image.id == docker_client.images.get(image).id and existing.status == "running":
            return
        existing.remove(force=True)
    except docker.errors.NotFound:
        pass
    docker_client.containers.run(
        image,
        name=PEBBLE,
        detach=True,
        labels=labels,
        network=PEBBLE_NETWORK,
        environment={"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1"},
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit="64m",
        restart_policy={"Name": "unless-stopped"},
    )


def up(
    stack: str = DEFAULT_STACK,
    progress: Progress = lambda message: None,
    families: Mapping[str, applier.FamilyApplier] | None = None,
    # None: Keycloak's and OpenBao's content replayed on the lab's servers (`content`)
    engine: bool = True,
    build: bool = True,
) -> UpResult:
    started = time.monotonic()
    if engine:
        ensure_engine(progress)
    image_started = time.monotonic()
    image_map = build_images(progress) if build else overrides()
    image_seconds = time.monotonic() - image_started
    state = LabState(stack)
    plan_started = time.monotonic()
    progress(f"plan of stack {stack}")
    plan = lab_plan(stack, state)
    plan_seconds = time.monotonic() - plan_started
    docker_client = client()
    lab_applier = applier.Applier(
        docker_client,
        stack,
        image_map.get("images", {}),
        families=content.content_appliers(plan, state, progress) if families is None else families,
        progress=progress,
        on_networks=lambda: start_pebble(docker_client, stack, image_map["pebble"]["image"]),
    )
    applied = lab_applier.up(plan.document)
    return UpResult(
        stack=stack,
        applied=applied,
        image_seconds=image_seconds,
        plan_seconds=plan_seconds,
        total_seconds=time.monotonic() - started,
        stand_ins=list(image_map.get("standIns", [])),
    )


def down(stack: str = DEFAULT_STACK) -> list[str]:
    removed = applier.down(client(), stack)
    LabState(stack).remove()
    return removed
