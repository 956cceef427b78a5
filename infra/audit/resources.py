"""The declared resource graph as the rules read it: typed views over export entries.

`Resources` indexes an export (plan or `pulumi stack export`) once: resources by type,
containers with their role (what they are, told from the image or the name), Docker
networks by name, the stack's outputs. Views read inputs lazily so that a value unknown at
preview raises `UnknownValueError` only inside the check that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from infra.audit.model import (
    UnknownValueError,
    is_secret,
    is_unknown,
    known,
    number,
    strings,
    text,
    truthy,
)
from infra.audit.reference import SeedReference, seed_reference, seed_subdomains
from infra.plan.document import ExportedResource

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
BUILT_IMAGE = "docker:index/image:Image"
STACK = "pulumi:pulumi:Stack"
SERVICE_LABEL = "nl.sevensa.platform.service"
IMAGE_LABEL = "nl.sevensa.platform.image"
DOCKER_SOCKET = re.compile(r"(^|/)docker\.sock$")
HOST_RULE = re.compile(r"Host\(\s*`([^`]+)`")

# What a container is, told from its image repository (first match wins), else its name.
ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(pattern))
    for role, pattern in (
        ("socket-proxy", r"docker-socket-proxy|socket-proxy"),
        ("traefik", r"(^|/)traefik$"),
        ("oauth2-proxy", r"oauth2-proxy"),
        ("keycloak", r"(^|/)keycloak$"),
        ("openbao", r"(^|/)(openbao|vault)$"),
        ("postgres", r"(^|/)(postgres|postgis)$|-db$"),
        ("mysql", r"(^|/)(mysql|mariadb)$"),
        ("redis", r"(^|/)(redis|valkey)$|-redis$"),
        ("prometheus", r"(^|/)prometheus$"),
        ("alertmanager", r"(^|/)alertmanager$"),
        ("grafana", r"(^|/)grafana$"),
        ("backup", r"backup"),
    )
)
DATASTORE_ROLES = frozenset({"postgres", "mysql", "redis"})
MONITORING_UI_ROLES = frozenset({"prometheus", "alertmanager", "grafana"})


def image_repository(reference: str) -> str:
    """`quay.io/keycloak/keycloak:26.4.2@sha256:…` -> `quay.io/keycloak/keycloak`."""
    without_digest = reference.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    if ":" in last:
        without_digest = without_digest[: len(without_digest) - len(last)] + last.split(":", 1)[0]
    return without_digest


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    kind: str  # bind | volume | tmpfs
    read_only: bool


@dataclass(frozen=True)
class Upload:
    path: str
    content: Any  # a string, or a secret envelope

    @property
    def readable(self) -> str | None:
        return text(self.content)


@dataclass(frozen=True)
class Container:
    """One `docker.Container` of the export."""

    resource: ExportedResource
    image_ref: str | None

    @property
    def urn(self) -> str:
        return self.resource.urn

    @property
    def inputs(self) -> dict[str, Any]:
        return self.resource.inputs

    def _list(self, key: str) -> list[Any]:
        """A list input; anything else (absent, or a hostile export's text or number) reads as empty."""
        value = known(self.inputs.get(key))
        return value if isinstance(value, list) else []

    @cached_property
    def name(self) -> str:
        return text(self.inputs.get("name")) or self.resource.name

    @cached_property
    def service(self) -> str:
        """The platform service this container belongs to (its file seed shares it)."""
        label = self.labels.get(SERVICE_LABEL)
        return label if isinstance(label, str) else self.name

    @cached_property
    def runs(self) -> bool:
        """False for containers created but never started (file seeds)."""
        start = known(self.inputs.get("start"))
        return start is not False and not (isinstance(start, str) and start.lower() == "false")

    @cached_property
    def role(self) -> str | None:
        candidates = [image_repository(self.image_ref)] if self.image_ref else []
        candidates += [self.service, self.name]
        for candidate in candidates:
            for role, pattern in ROLE_PATTERNS:
                if pattern.search(candidate):
                    return role
        return None

    @cached_property
    def env(self) -> dict[str, Any]:
        """K -> V of the `envs` entries; an entry that is itself a secret is under `secret_entries`."""
        result: dict[str, Any] = {}
        for entry in self._list("envs"):
            entry = known(entry)
            if isinstance(entry, str):
                key, _, value = entry.partition("=")
                result[key] = value
        return result

    @cached_property
    def secret_env_entries(self) -> int:
        envs = known(self.inputs.get("envs"))
        if is_secret(envs):
            return 1
        return sum(1 for entry in envs or [] if is_secret(entry))

    @cached_property
    def labels(self) -> dict[str, Any]:
        labels = known(self.inputs.get("labels"))
        if isinstance(labels, dict):  # a map form, in hand-written exports
            return dict(labels)
        return {item.get("label"): item.get("value") for item in self._list("labels") if isinstance(item, dict)}

    @cached_property
    def networks(self) -> list[str]:
        return [text(net.get("name")) or "" for net in self._list("networksAdvanced") if isinstance(net, dict)]

    @cached_property
    def network_mode(self) -> str | None:
        return text(self.inputs.get("networkMode"))

    @cached_property
    def ports(self) -> list[dict[str, Any]]:
        return [port for port in self._list("ports") if isinstance(port, dict)]

    @cached_property
    def mounts(self) -> list[Mount]:
        found = [
            Mount(
                source=text(m.get("source")) or "",
                target=text(m.get("target")) or "",
                kind=text(m.get("type")) or "volume",
                read_only=truthy(m.get("readOnly")),
            )
            for m in self._list("mounts")
            if isinstance(m, dict)
        ]
        for volume in self._list("volumes"):
            if not isinstance(volume, dict):
                continue
            host_path = text(volume.get("hostPath"))
            found.append(
                Mount(
                    source=host_path or text(volume.get("volumeName")) or "",
                    target=text(volume.get("containerPath")) or "",
                    kind="bind" if host_path else "volume",
                    read_only=truthy(volume.get("readOnly")),
                )
            )
        return found

    @cached_property
    def uploads(self) -> list[Upload]:
        return [
            Upload(text(u.get("file")) or "", known(u.get("content")))
            for u in self._list("uploads")
            if isinstance(u, dict)
        ]

    @cached_property
    def command(self) -> list[str]:
        return strings(self.inputs.get("command"))

    @cached_property
    def capabilities(self) -> tuple[set[str], set[str]]:
        """(drops, adds), upper-case without the CAP_ prefix."""
        caps = known(self.inputs.get("capabilities")) or {}

        def norm(values: Any) -> set[str]:
            return {v.upper().removeprefix("CAP_") for v in strings(values)}

        return norm(caps.get("drops")), norm(caps.get("adds"))

    @property
    def user(self) -> str | None:
        return text(self.inputs.get("user"))

    @property
    def memory(self) -> float | None:
        return number(self.inputs.get("memory"))

    @property
    def image_tag(self) -> str | None:
        if not self.image_ref:
            return None
        last = self.image_ref.split("@", 1)[0].rsplit("/", 1)[-1]
        return last.split(":", 1)[1] if ":" in last else None


View = TypeVar("View")


class Resources:
    """An export's resources with the lookups the rules share."""

    def __init__(self, resources: list[ExportedResource]) -> None:
        self.all = resources
        self._views: dict[Callable[..., Any], Any] = {}
        self.by_urn = {r.urn: r for r in resources}
        self._by_type: dict[str, list[ExportedResource]] = {}
        for resource in resources:
            self._by_type.setdefault(resource.type, []).append(resource)

    def view(self, factory: Callable[[Resources], View]) -> View:
        """A derived view (Traefik's config, the vault policies …), built once per export."""
        if factory not in self._views:
            self._views[factory] = factory(self)
        return self._views[factory]

    def of_type(self, *types: str) -> list[ExportedResource]:
        return [r for t in types for r in self._by_type.get(t, [])]

    def dependencies_of(self, resource: ExportedResource, *types: str) -> list[ExportedResource]:
        found = [self.by_urn[urn] for urn in resource.dependencies if urn in self.by_urn]
        return [r for r in found if not types or r.type in types]

    @cached_property
    def stack(self) -> ExportedResource | None:
        stacks = self.of_type(STACK)
        return stacks[0] if stacks else None

    @property
    def stack_urn(self) -> str:
        return self.stack.urn if self.stack else "urn:pulumi:unknown::unknown::pulumi:pulumi:Stack::unknown"

    @cached_property
    def domain(self) -> str | None:
        """The stack's `domain` output; inferred from routed hostnames where the engine's view
        has no stack outputs (a policy pack during preview)."""
        outputs = self.stack.outputs if self.stack else {}
        value = outputs.get("domain")
        return value if isinstance(value, str) else self._routed_domain()

    def _routed_domain(self) -> str | None:
        subdomains = sorted(seed_subdomains(), key=len, reverse=True)
        for container in self.containers:
            for key, rule in container.labels.items():
                if not (isinstance(key, str) and key.endswith(".rule") and isinstance(rule, str)):
                    continue
                for host in HOST_RULE.findall(rule):
                    for sub in subdomains:
                        if host.startswith(sub + "."):
                            return host[len(sub) + 1 :]
        return None

    @cached_property
    def seed(self) -> SeedReference:
        return seed_reference(self.domain)

    @cached_property
    def containers(self) -> list[Container]:
        return [Container(r, self._image_ref(r)) for r in self.of_type(CONTAINER)]

    def running(self) -> Iterator[Container]:
        """Containers that run (file seeds are created, never started)."""
        for container in self.containers:
            try:
                if container.runs:
                    yield container
            except UnknownValueError:  # an unknown `start` counts as running
                yield container

    def with_role(self, *roles: str) -> list[Container]:
        return [c for c in self.running() if c.role in roles]

    def service_files(self, service: str) -> list[Upload]:
        """Every uploaded file of a service: its own and its file seed's."""
        return [u for c in self.containers if c.service == service for u in c.uploads]

    @cached_property
    def networks(self) -> dict[str, ExportedResource]:
        return {str(r.inputs.get("name") or r.name): r for r in self.of_type(NETWORK)}

    def network_internal(self, name: str) -> bool:
        network = self.networks.get(name)
        return network is not None and truthy(network.inputs.get("internal"))

    def members(self, network: str) -> list[Container]:
        return [c for c in self.running() if network in c.networks]

    def _image_ref(self, resource: ExportedResource) -> str | None:
        """The image reference a container runs: its `image` input when that is a reference,
        else the platform's image label, else the pulled/built image it depends on (a sibling
        first: a container may also depend on another component's image)."""
        image = resource.inputs.get("image")
        if isinstance(image, str) and image and not image.startswith("sha256:") and not is_unknown(image):
            return image
        labels = resource.inputs.get("labels")
        for item in labels if isinstance(labels, list) else []:
            if isinstance(item, dict) and item.get("label") == IMAGE_LABEL and isinstance(item.get("value"), str):
                return item["value"]
        images = self.dependencies_of(resource, REMOTE_IMAGE, BUILT_IMAGE)
        for dependency in sorted(images, key=lambda d: d.parent != resource.parent):
            name = dependency.inputs.get("name") or dependency.inputs.get("imageName")
            if isinstance(name, str) and not is_unknown(name):
                return name
        return None
