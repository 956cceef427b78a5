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
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx

from components.traefik import ACME_STORAGE_FILE
from infra.ops.lab import applier, content, images
from infra.ops.lab.state import LabState
from infra.plan.offline import StackPlan

REPO_ROOT = Path(__file__).resolve().parents[3]
INSTALL_DOCKER = REPO_ROOT / "scripts" / "install-docker.sh"
DEFAULT_STACK = "lab"
PEBBLE = "pebble"
PEBBLE_NETWORK = "traefik-net"
PEBBLE_OWN_NETWORK = "lab-acme"
PEBBLE_ROOT_KEY = "pebble_root"
TRAEFIK = "traefik"

Progress = Callable[[str], None]


@dataclass
class UpResult:
    stack: str
    document: dict[str, Any]
    """The plan applied (secret values readable: in memory only)."""
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


def lab_plan(stack: str, state: LabState, docker_client: docker.DockerClient, renew: bool = False) -> StackPlan:
    """The plan of `stack` with the lab's secret values readable (in memory only, never written)
    and the root of the running Pebble as `acmeIssuerCertificate` (`renew`: Traefik's certificates
    of an earlier root are dropped, see `drop_certificates_of_an_old_root`)."""
    from infra.plan.offline import plan_stack

    def issuer_root(raw: Mapping[str, Any]) -> dict[str, str]:
        acme_ca = raw.get("acmeCaCertificate")
        if not isinstance(acme_ca, str):
            raise applier.LabApplyError(f"stack {stack} has no acmeCaCertificate: the lab cannot reach its Pebble")
        root = pebble_root(docker_client, acme_ca)
        if renew:
            drop_certificates_of_an_old_root(docker_client, state, root)
        return {"acmeIssuerCertificate": root}

    return plan_stack(stack, lab_key=state.key(), lab_values=issuer_root)


def drop_certificates_of_an_old_root(docker_client: docker.DockerClient, state: LabState, root: str) -> None:
    """Pebble makes a new root each time it starts (a restart of the engine restarts it): the
    certificates Traefik stored then chain to a root nothing trusts, and Traefik would not ask for
    new ones before they expire. Its ACME store is emptied and Traefik restarted, so it asks anew."""
    if state.load().get(PEBBLE_ROOT_KEY) != root:  # unknown (an earlier version) counts as changed
        try:
            traefik = docker_client.containers.get(TRAEFIK)
        except docker.errors.NotFound:
            traefik = None
        if traefik is not None:
            for mount in traefik.attrs["Mounts"]:
                store = Path(mount.get("Source", "")) / ACME_STORAGE_FILE
                if mount.get("Type") == "volume" and store.is_file():
                    store.unlink()
            traefik.restart(timeout=10)
    state.update(**{PEBBLE_ROOT_KEY: root})


def pebble_root(docker_client: docker.DockerClient, acme_ca_certificate: str) -> str:
    """The root Pebble issues under (a new one each time it starts), read from its management
    listener, whose own certificate is checked against the stack's `acmeCaCertificate`."""
    context = ssl.create_default_context(cadata=acme_ca_certificate)
    context.check_hostname = False  # its certificate names `pebble`; the lab reaches it by address
    container = docker_client.containers.get(PEBBLE)
    address = container.attrs["NetworkSettings"]["Networks"][PEBBLE_OWN_NETWORK]["IPAddress"]
    deadline, last = time.monotonic() + 60, "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"https://{address}:15000/roots/0", verify=context, timeout=5)
            if response.status_code == 200 and "BEGIN CERTIFICATE" in response.text:
                return response.text if response.text.endswith("\n") else response.text + "\n"
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            last = type(error).__name__
        time.sleep(1)
    raise applier.LabApplyError(f"Pebble's root could not be read ({last})")


def start_pebble(docker_client: docker.DockerClient, stack: str, image: str) -> None:
    """The lab-only ACME server (the plan does not declare it), on a network of its own, where the
    lab reads its root before planning; it joins Traefik's network (`join_pebble`) once that exists."""
    labels = {applier.LAB_LABEL: stack, applier.ROLE_LABEL: "lab-acme-server"}
    try:
        docker_client.networks.get(PEBBLE_OWN_NETWORK)
    except docker.errors.NotFound:
        docker_client.networks.create(PEBBLE_OWN_NETWORK, driver="bridge", internal=True, labels=labels)
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
        network=PEBBLE_OWN_NETWORK,
        environment={"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1"},
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit="64m",
        restart_policy={"Name": "unless-stopped"},
    )


def join_pebble(docker_client: docker.DockerClient) -> None:
    """Pebble on Traefik's public network, as `pebble` (the stack's `acmeCaServer`)."""
    container = docker_client.containers.get(PEBBLE)
    if PEBBLE_NETWORK not in container.attrs["NetworkSettings"]["Networks"]:
        docker_client.networks.get(PEBBLE_NETWORK).connect(container, aliases=[PEBBLE])


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
    docker_client = client()
    progress("Pebble (the lab's ACME server)")
    start_pebble(docker_client, stack, image_map["pebble"]["image"])
    plan_started = time.monotonic()
    progress(f"plan of stack {stack}")
    plan = lab_plan(stack, state, docker_client, renew=True)
    plan_seconds = time.monotonic() - plan_started
    lab_applier = applier.Applier(
        docker_client,
        stack,
        image_map.get("images", {}),
        families=content.content_appliers(plan, state, progress) if families is None else families,
        progress=progress,
        on_networks=lambda: join_pebble(docker_client),
    )
    applied = lab_applier.up(plan.document)
    return UpResult(
        stack=stack,
        document=plan.document,
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
