"""Apply a plan document's Docker resources to a Docker engine: the lab's proving instrument.

Production deploys go through Pulumi and its docker provider; this applier exists so the
lab can prove what the *plan* declares on a real engine. It reads the plan document as
JSON (the shape of `pulumi stack export`) and creates networks, volumes and containers
with the Docker SDK. One table, `CONTAINER_INPUTS`, maps each docker-provider container
input to the Docker SDK argument it becomes; an input (or a nested key of one) that the
table does not translate raises `UntranslatedInput`, so nothing declared is ever
silently dropped. Resource families it does not apply itself (Keycloak, OpenBao) are
handed to the `FamilyApplier`s the caller gives, in dependency order.

Convergence works like a second `pulumi up`: every object carries the lab label and a
digest of what it was created from; an unchanged object is kept, a changed one is
replaced, and lab objects the plan no longer declares are removed. Volumes are never
replaced (they hold data); `down` removes them.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.types import EndpointConfig, IPAMConfig, IPAMPool, LogConfig, Mount, Ulimit

SECRET_SIG = "4dabf18193072939515e22adb298388d"
LAB_LABEL = "nl.sevensa.platform.lab"
DIGEST_LABEL = "nl.sevensa.platform.lab.digest"
ROLE_LABEL = "nl.sevensa.platform.role"
CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE_TYPES = ("docker:index/remoteImage:RemoteImage", "docker:index/image:Image")
# Resources whose values are already in the document (random) or that configure a client.
NOTHING_TO_APPLY = ("random:", "pulumi:providers:")
NANO = 1_000_000_000


class UntranslatedInput(RuntimeError):
    """A planned input the applier cannot translate: applying without it would misdeploy."""


class LabApplyError(RuntimeError):
    """The engine refused or a container did not become healthy (names the container)."""


def _reveal(value: Any, where: str) -> Any:
    """Plain values pass; an unsealed secret `{sig, value}` gives its value; a sealed one is refused."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            if "value" not in value:
                raise UntranslatedInput(f"{where}: the secret is sealed; the lab needs the plan with its lab secret values")
            return _reveal(value["value"], where)
        return {key: _reveal(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_reveal(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _keys(value: Mapping[str, Any], allowed: Iterable[str], where: str) -> Mapping[str, Any]:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise UntranslatedInput(f"{where}: keys the lab does not translate: {', '.join(unknown)}")
    return value


def _duration_ns(text: str, where: str) -> int:
    """`10s`, `1m30s`, `500ms` (what the provider takes) -> nanoseconds (what the engine takes)."""
    units = {"h": 3600 * NANO, "m": 60 * NANO, "s": NANO, "ms": NANO // 1000, "us": 1000, "ns": 1}
    total, number, rest = 0, "", text
    while rest:
        if rest[0].isdigit() or rest[0] == ".":
            number, rest = number + rest[0], rest[1:]
            continue
        unit = next((u for u in ("ms", "us", "ns", "h", "m", "s") if rest.startswith(u)), None)
        if unit is None or not number:
            raise UntranslatedInput(f"{where}: {text!r} is not a duration")
        total += int(float(number) * units[unit])
        number, rest = "", rest[len(unit):]
    if number:
        raise UntranslatedInput(f"{where}: {text!r} is not a duration")
    return total


# -- the table: docker-provider container input -> Docker SDK arguments ------------------
# Each translation returns {"create": {...}, "host": {...}}: keyword arguments of
# `APIClient.create_container` and of `APIClient.create_host_config`. Inputs the applier
# acts on itself (name, image, networks, uploads, start/wait) return {"lab": {...}}.
Translation = Callable[[Any, str], dict[str, dict[str, Any]]]


def _mounts(value: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    mounts = []
    for index, mount in enumerate(value):
        at = f"{where}[{index}]"
        _keys(mount, ("type", "source", "target", "readOnly", "volumeOptions", "bindOptions", "tmpfsOptions"), at)
        volume = _keys(mount.get("volumeOptions", {}), ("noCopy", "labels", "driverName", "driverOptions", "subpath"), f"{at}.volumeOptions")
        if "subpath" in volume:
            raise UntranslatedInput(
                f"{at}.volumeOptions.subpath: volume sub-paths need Docker API 1.45; an older engine silently mounts the whole volume"
            )
        bind = _keys(mount.get("bindOptions", {}), ("propagation",), f"{at}.bindOptions")
        tmpfs = _keys(mount.get("tmpfsOptions", {}), ("sizeBytes", "mode"), f"{at}.tmpfsOptions")
        mounts.append(
            Mount(
                target=mount["target"],
                source=mount.get("source"),
                type=mount["type"],
                read_only=bool(mount.get("readOnly", False)),
                propagation=bind.get("propagation"),
                no_copy=bool(volume.get("noCopy", False)),
                labels={lbl["label"]: lbl["value"] for lbl in volume.get("labels", [])} or None,
                driver_config=docker.types.DriverConfig(volume["driverName"], volume.get("driverOptions")) if "driverName" in volume else None,
                tmpfs_size=tmpfs.get("sizeBytes"),
                tmpfs_mode=tmpfs.get("mode"),
            )
        )
    return {"host": {"mounts": mounts}}


def _capabilities(value: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    _keys(value, ("drops", "adds"), where)
    return {"host": {"cap_drop": value.get("drops") or None, "cap_add": value.get("adds") or None}}


def _healthcheck(value: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    _keys(value, ("tests", "interval", "timeout", "retries", "startPeriod"), where)
    check: dict[str, Any] = {"test": value["tests"]}
    for key, sdk in (("interval", "interval"), ("timeout", "timeout"), ("startPeriod", "start_period")):
        if key in value:
            check[sdk] = _duration_ns(value[key], f"{where}.{key}")
    if "retries" in value:
        check["retries"] = int(value["retries"])
    return {"create": {"healthcheck": check}}


def _ulimits(value: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    limits = [Ulimit(**dict(_keys(u, ("name", "soft", "hard"), f"{where}[{i}]"))) for i, u in enumerate(value)]
    return {"host": {"ulimits": limits}}


def _ports(value: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    bindings: dict[str, tuple[str, int]] = {}
    for index, port in enumerate(value):
        _keys(port, ("internal", "external", "protocol", "ip"), f"{where}[{index}]")
        bindings[f"{port['internal']}/{port.get('protocol', 'tcp')}"] = (port.get("ip", "0.0.0.0"), int(port["external"]))
    return {"create": {"ports": [tuple(key.split("/")) for key in bindings]}, "host": {"port_bindings": bindings}}


def _networks(value: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    for index, network in enumerate(value):
        _keys(network, ("name", "aliases", "ipv4Address"), f"{where}[{index}]")
    return {"lab": {"networks": value}}


def _uploads(value: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    for index, upload in enumerate(value):
        _keys(upload, ("file", "content", "owner", "group", "permissions"), f"{where}[{index}]")
    return {"lab": {"uploads": value}}


def _log_driver(value: str, where: str) -> dict[str, dict[str, Any]]:
    return {"host": {"log_config": {"type": value}}}


def _log_opts(value: dict[str, str], where: str) -> dict[str, dict[str, Any]]:
    return {"host": {"log_config": {"config": value}}}


def _create(key: str, convert: Callable[[Any], Any] = lambda v: v) -> Translation:
    return lambda value, where: {"create": {key: convert(value)}}


def _host(key: str, convert: Callable[[Any], Any] = lambda v: v) -> Translation:
    return lambda value, where: {"host": {key: convert(value)}}


def _lab(key: str) -> Translation:
    return lambda value, where: {"lab": {key: value}}


CONTAINER_INPUTS: dict[str, Translation] = {
    "name": _create("name"),
    "image": _lab("image"),
    "command": _create("command"),
    "entrypoints": _create("entrypoint"),
    "envs": _create("environment"),
    "user": _create("user"),
    "hostname": _create("hostname"),
    "workingDir": _create("working_dir"),
    "stopSignal": _create("stop_signal"),
    "stopTimeout": _create("stop_timeout", int),
    "labels": _create("labels", lambda v: {item["label"]: item["value"] for item in v}),
    "healthcheck": _healthcheck,
    "readOnly": _host("read_only", bool),
    "tmpfs": _host("tmpfs", dict),
    "mounts": _mounts,
    "capabilities": _capabilities,
    "securityOpts": _host("security_opt"),
    "privileged": _host("privileged", bool),
    "ulimits": _ulimits,
    "sysctls": _host("sysctls", dict),
    "memory": _host("mem_limit", lambda mb: f"{int(mb)}m"),
    "memorySwap": _host("memswap_limit", lambda mb: f"{int(mb)}m"),
    "cpus": _host("nano_cpus", lambda cpus: int(float(cpus) * NANO)),
    "shmSize": _host("shm_size", lambda mb: f"{int(mb)}m"),
    "init": _host("init", bool),
    "restart": _host("restart_policy", lambda policy: {"Name": policy}),
    "logDriver": _log_driver,
    "logOpts": _log_opts,
    "networkMode": _host("network_mode"),
    "networksAdvanced": _networks,
    "ports": _ports,
    "uploads": _uploads,
    "start": _lab("start"),
    "mustRun": _lab("must_run"),
    "wait": _lab("wait"),
    "waitTimeout": _lab("wait_timeout"),
}


def _merge(into: dict[str, Any], part: Mapping[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


@dataclass
class ContainerRequest:
    """One planned container translated: SDK arguments plus what the applier does itself."""

    name: str
    create: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    lab: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> bool:
        return bool(self.lab.get("start", True))

    @property
    def role(self) -> str:
        return self.create.get("labels", {}).get(ROLE_LABEL, "")


def translate_container(inputs: Mapping[str, Any], where: str) -> ContainerRequest:
    """Every input through `CONTAINER_INPUTS`; any input the table lacks is refused."""
    values = _reveal(dict(inputs), where)
    unknown = sorted(set(values) - set(CONTAINER_INPUTS))
    if unknown:
        raise UntranslatedInput(f"{where}: container inputs the lab does not translate: {', '.join(unknown)}")
    parts: dict[str, dict[str, Any]] = {"create": {}, "host": {}, "lab": {}}
    for key, value in values.items():
        _merge(parts, CONTAINER_INPUTS[key](value, f"{where}.{key}"))
    if "log_config" in parts["host"]:
        parts["host"]["log_config"] = LogConfig(**parts["host"]["log_config"])
    return ContainerRequest(name=values["name"], **parts)


# -- the document -------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedEntry:
    urn: str
    type: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, list[str]]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def entries(document: Mapping[str, Any]) -> list[PlannedEntry]:
    """The document's resources in its (topological) order."""
    try:
        resources = document["deployment"]["resources"]
    except (KeyError, TypeError) as exc:
        raise LabApplyError("not a plan document: no deployment.resources") from exc
    return [
        PlannedEntry(
            urn=r["urn"],
            type=r["type"],
            custom=bool(r.get("custom")),
            inputs=r.get("inputs") or {},
            # a resource also waits for its provider (e.g. Keycloak's provider waits for the Keycloak container)
            dependencies=tuple(r.get("dependencies") or ()) + ((r["provider"].rsplit("::", 1)[0],) if r.get("provider") else ()),
            property_dependencies=r.get("propertyDependencies") or {},
        )
        for r in resources
    ]


@dataclass(frozen=True)
class Unit:
    """One step of `up`: a Docker resource (named by URN) or a whole family (named by prefix)."""

    name: str
    items: list[PlannedEntry]
    after: set[str]


def _closure(entry: PlannedEntry, by_urn: Mapping[str, PlannedEntry], unit_of: Mapping[str, str]) -> set[str]:
    """Applied resources `entry` depends on, looking through those with nothing to apply."""
    found: set[str] = set()
    stack, seen = list(entry.dependencies), set()
    while stack:
        urn = stack.pop()
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        if urn in unit_of:
            found.add(urn)
        else:
            stack.extend(by_urn[urn].dependencies)
    return found


def _volume_sources(entry: PlannedEntry) -> set[str]:
    return {m.get("source") for m in entry.inputs.get("mounts", []) if m.get("type") == "volume"}


def _seeds_by_volume(planned: list[PlannedEntry]) -> dict[str, list[str]]:
    """Volume name -> never-started containers that upload into it (file seeds)."""
    seeds: dict[str, list[str]] = {}
    for entry in planned:
        if entry.type == CONTAINER and entry.inputs.get("start") is False and entry.inputs.get("uploads"):
            for source in _volume_sources(entry):
                seeds.setdefault(source, []).append(entry.urn)
    return seeds


FamilyApplier = Callable[[Mapping[str, Any]], None]
"""Applies every resource of one family (e.g. all `keycloak:` resources) of the document."""


@dataclass
class Applied:
    """What one `up` did, for the report."""

    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    seconds: float = 0.0


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Applier:
    """Creates what the plan declares on one engine, labelled as the lab `lab`'s."""

    def __init__(
        self,
        client: docker.DockerClient,
        lab: str,
        image_overrides: Mapping[str, str],
        families: Mapping[str, FamilyApplier] | None = None,
        progress: Callable[[str], None] = lambda message: None,
        on_networks: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_networks` runs once every planned network exists, before the first container
        (the lab starts what it adds beside the plan, e.g. its ACME server, there)."""
        self.client = client
        self.api = client.api
        self.lab = lab
        self.overrides = dict(image_overrides)
        self.families = dict(families or {})
        self.progress = progress
        self.on_networks = on_networks
        self.result = Applied()
        self._digests: dict[str, str] = {}

    # -- planning the order -----------------------------------------------------------
    def units(self, document: Mapping[str, Any]) -> list[Unit]:
        """The work in dependency order: single Docker resources, and one unit per family.

        Besides the plan's dependencies, a container comes after the file seeds that upload
        into a volume it mounts (the plan links them only through the volume).
        """
        planned = entries(document)
        by_urn = {entry.urn: entry for entry in planned}
        unit_of: dict[str, str] = {}
        members: dict[str, list[PlannedEntry]] = {}
        for entry in planned:
            if not entry.custom or entry.type.startswith(NOTHING_TO_APPLY) or entry.type in IMAGE_TYPES:
                continue
            if entry.type in (CONTAINER, NETWORK, VOLUME):
                unit = entry.urn
            else:
                family = next((prefix for prefix in self.families if entry.type.startswith(prefix)), None)
                if family is None:
                    raise UntranslatedInput(f"{entry.urn}: the lab does not apply resources of type {entry.type}")
                unit = family
            unit_of[entry.urn] = unit
            members.setdefault(unit, []).append(entry)
        seeds = _seeds_by_volume(planned)
        after: dict[str, set[str]] = {unit: set() for unit in members}
        for unit, items in members.items():
            for entry in items:
                dependencies = _closure(entry, by_urn, unit_of)
                if entry.type == CONTAINER:
                    dependencies |= {seed for source in _volume_sources(entry) for seed in seeds.get(source, ()) if seed != entry.urn}
                after[unit] |= {unit_of[d] for d in dependencies if unit_of[d] != unit}
        ordered: list[Unit] = []
        done: set[str] = set()
        while len(done) < len(members):
            ready = [u for u in members if u not in done and after[u] <= done]
            if not ready:
                raise LabApplyError(f"dependency cycle among {sorted(set(members) - done)}")
            ordered.extend(Unit(u, members[u], after[u]) for u in ready)
            done.update(ready)
        return ordered

    # -- up ---------------------------------------------------------------------------
    def up(self, document: Mapping[str, Any]) -> Applied:
        started = time.monotonic()
        images = self._images(entries(document))
        declared: set[tuple[str, str]] = set()
        units = self.units(document)
        networks_pending = sum(1 for unit in units if unit.items[0].type == NETWORK)
        if networks_pending == 0:
            self.on_networks()
        # like the engine: a resource waits only for what it depends on (a container with
        # `wait` counts as created once healthy); everything else goes ahead meanwhile
        waits: dict[str, tuple[str, int]] = {}
        started_at: dict[str, float] = {}
        healthy: set[str] = set()
        pending = list(units)
        applied: set[str] = set()
        while pending:
            # ready: everything it depends on is applied, and the containers among them are healthy
            unit = next((u for u in pending if u.after <= applied and not (u.after & set(waits)) - self._now_healthy(waits, healthy)), None)
            if unit is None:  # everything left waits for a container still starting: poll them all
                for urn in sorted({d for u in pending for d in u.after & set(waits)} - healthy):
                    name, timeout = waits[urn]
                    if time.monotonic() - started_at[urn] > timeout:
                        self.wait_healthy(name, 0)  # raises with its state, probes and logs
                time.sleep(2)
                continue
            pending.remove(unit)
            applied.add(unit.name)
            if unit.name in self.families:
                self.progress(f"applying {unit.name} resources ({len(unit.items)})")
                self.families[unit.name](document)
                self.result.families.append(unit.name)
                continue
            entry = unit.items[0]
            if entry.type == NETWORK:
                declared.add(("network", self._network(entry)))
                networks_pending -= 1
                if networks_pending == 0:
                    self.on_networks()
            elif entry.type == VOLUME:
                declared.add(("volume", self._volume(entry)))
            else:
                request = translate_container(entry.inputs, entry.urn)
                declared.add(("container", request.name))
                changed = self._container(entry, request, images, unit.after)
                # like a second `pulumi up`: an unchanged container is not waited for again
                if changed and request.start and request.lab.get("wait"):
                    waits[entry.urn] = (request.name, int(request.lab.get("wait_timeout", 300)))
                    started_at[entry.urn] = time.monotonic()
        for urn in sorted(set(waits) - healthy):
            self.wait_healthy(*waits[urn])
        self._remove_undeclared(declared)
        self.result.seconds = time.monotonic() - started
        return self.result

    def _now_healthy(self, waits: Mapping[str, tuple[str, int]], healthy: set[str]) -> set[str]:
        """`healthy`, plus the waited containers whose healthcheck passes right now (no waiting)."""
        for urn, (name, _) in waits.items():
            if urn not in healthy and (self.client.containers.get(name).attrs["State"].get("Health") or {}).get("Status") == "healthy":
                healthy.add(urn)
        return healthy

    def _labels(self, own: Mapping[str, str], digest_value: str) -> dict[str, str]:
        return {**own, LAB_LABEL: self.lab, DIGEST_LABEL: digest_value}

    def _images(self, planned: list[PlannedEntry]) -> dict[str, str]:
        """Image resource URN -> the local image id it resolves to (overridden; never pulled),
        for every image a planned container runs: all are checked before anything is created."""
        used = {urn for entry in planned if entry.type == CONTAINER for urn in entry.property_dependencies.get("image", [])}
        resolved: dict[str, str] = {}
        for entry in planned:
            if entry.type not in IMAGE_TYPES or entry.urn not in used:
                continue
            reference = entry.inputs.get("name") or entry.inputs.get("imageName")
            local = self.overrides.get(reference, reference)
            try:
                resolved[entry.urn] = self.client.images.get(local).id
            except docker.errors.ImageNotFound as exc:
                raise LabApplyError(
                    f"image {reference!r} (local {local!r}) is not on the engine; build the lab images first (no registry is pulled from)"
                ) from exc
        return resolved

    def _image_for(self, entry: PlannedEntry, images: Mapping[str, str]) -> str:
        sources = [urn for urn in entry.property_dependencies.get("image", []) if urn in images]
        if len(sources) == 1:
            return images[sources[0]]
        reference = entry.inputs["image"]
        local = self.overrides.get(reference, reference)
        try:
            return self.client.images.get(local).id
        except docker.errors.ImageNotFound as exc:
            raise LabApplyError(f"{entry.urn}: image {reference!r} is not on the engine") from exc

    def _network(self, entry: PlannedEntry) -> str:
        inputs = _reveal(entry.inputs, entry.urn)
        _keys(inputs, ("name", "driver", "internal", "attachable", "ipamConfigs", "labels", "options", "ipv6", "checkDuplicate"), entry.urn)
        name = inputs["name"]
        wanted = digest(inputs)
        existing = self.client.networks.list(names=[name])
        existing = [n for n in existing if n.name == name]
        if existing and existing[0].attrs.get("Labels", {}).get(DIGEST_LABEL) == wanted:
            self.result.kept.append(f"network {name}")
            return name
        if existing:
            # the list omits the attached containers; the network itself names them
            for container_id in self.client.networks.get(existing[0].id).attrs.get("Containers") or {}:
                self.client.containers.get(container_id).remove(force=True)
            existing[0].remove()
            self.result.replaced.append(f"network {name}")
        else:
            self.result.created.append(f"network {name}")
        pools = [
            IPAMPool(**{k: v for k, v in dict(_keys(c, ("subnet", "gateway", "ipRange"), f"{entry.urn}.ipamConfigs")).items() if k != "ipRange"},
                     iprange=c.get("ipRange"))
            for c in inputs.get("ipamConfigs", [])
        ]
        self.client.networks.create(
            name,
            driver=inputs.get("driver", "bridge"),
            internal=bool(inputs.get("internal", False)),
            attachable=bool(inputs.get("attachable", False)),
            options=inputs.get("options"),
            enable_ipv6=bool(inputs.get("ipv6", False)),
            ipam=IPAMConfig(pool_configs=pools) if pools else None,
            labels=self._labels({lbl["label"]: lbl["value"] for lbl in inputs.get("labels", [])}, wanted),
        )
        return name

    def _volume(self, entry: PlannedEntry) -> str:
        inputs = _reveal(entry.inputs, entry.urn)
        _keys(inputs, ("name", "driver", "driverOpts", "labels"), entry.urn)
        name = inputs["name"]
        try:
            self.client.volumes.get(name)
            self.result.kept.append(f"volume {name}")
        except docker.errors.NotFound:
            self.client.volumes.create(
                name,
                driver=inputs.get("driver", "local"),
                driver_opts=inputs.get("driverOpts"),
                labels=self._labels({lbl["label"]: lbl["value"] for lbl in inputs.get("labels", [])}, digest(inputs)),
            )
            self.result.created.append(f"volume {name}")
        return name

    def _container(self, entry: PlannedEntry, request: ContainerRequest, images: Mapping[str, str], after: set[str]) -> bool:
        """Create, replace or keep one container; True when it was (re)created."""
        image = self._image_for(entry, images)
        # a container is replaced when its inputs, its image or a container it comes after (a file seed) change
        seeds = sorted(self._digests[d] for d in after if d in self._digests)
        wanted = digest(_reveal(entry.inputs, entry.urn), image, seeds)
        self._digests[entry.urn] = wanted
        current = self._existing(request.name)
        if current is not None and current.labels.get(DIGEST_LABEL) == wanted:
            if request.start and current.status != "running":
                current.start()
            self.result.kept.append(f"container {request.name}")
            return False
        if current is not None:
            current.remove(force=True, v=True)
            self.result.replaced.append(f"container {request.name}")
        else:
            self.result.created.append(f"container {request.name}")
        self.progress(f"creating {request.name}")
        networks = request.lab.get("networks", [])
        create = dict(request.create)
        create["labels"] = self._labels(create.get("labels", {}), wanted)
        host = dict(request.host)
        if networks:
            host.setdefault("network_mode", networks[0]["name"])
            create["networking_config"] = self.api.create_networking_config({networks[0]["name"]: self._endpoint(networks[0])})
        container_id = self.api.create_container(image=image, host_config=self.api.create_host_config(**host), **create)["Id"]
        for network in networks[1:]:
            endpoint = self._endpoint(network)
            self.api.connect_container_to_network(
                container_id, network["name"], aliases=endpoint.get("Aliases"), ipv4_address=network.get("ipv4Address")
            )
        uploads = request.lab.get("uploads", [])
        if uploads:
            self.api.put_archive(container_id, "/", _archive(uploads))
        if request.start:
            self.api.start(container_id)
        return True

    def _endpoint(self, network: Mapping[str, Any]) -> EndpointConfig:
        return self.api.create_endpoint_config(aliases=network.get("aliases"), ipv4_address=network.get("ipv4Address"))

    def _existing(self, name: str) -> Any:
        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def wait_healthy(self, name: str, timeout: int) -> None:
        """Until the healthcheck passes (what the provider's `wait` does); loud on failure."""
        self.progress(f"waiting for {name} to be healthy")
        deadline = time.monotonic() + timeout
        while True:
            container = self.client.containers.get(name)
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy":
                return
            if state.get("Status") in ("exited", "dead") or time.monotonic() >= deadline:
                logs = container.logs(tail=20).decode(errors="replace")
                probes = [p.get("Output", "").strip()[-300:] for p in (state.get("Health") or {}).get("Log", [])[-2:]]
                raise LabApplyError(
                    f"container {name} is {state.get('Status')} / health {health} after {timeout}s; "
                    f"last probes: {probes}; last log lines:\n{logs}"
                )
            time.sleep(2)

    def _remove_undeclared(self, declared: set[tuple[str, str]]) -> None:
        """Lab objects of earlier plans that this plan no longer declares (like `pulumi up`);
        what the lab adds beside the plan has no digest label and stays."""
        label = f"{LAB_LABEL}={self.lab}"
        for container in self.client.containers.list(all=True, filters={"label": [label, DIGEST_LABEL]}):
            if ("container", container.name) not in declared:
                container.remove(force=True, v=True)
                self.result.removed.append(f"container {container.name}")
        for network in self.client.networks.list(filters={"label": [label, DIGEST_LABEL]}):
            if ("network", network.name) not in declared:
                network.remove()
                self.result.removed.append(f"network {network.name}")


def _archive(uploads: list[dict[str, Any]]) -> bytes:
    """One tar of every upload with the planned owner, group and mode (what the provider sends)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for upload in uploads:
            data = str(upload["content"]).encode()
            info = tarfile.TarInfo(upload["file"].lstrip("/"))
            info.size = len(data)
            info.mode = int(str(upload.get("permissions", "0644")), 8)
            info.uid, info.gid = int(upload.get("owner", 0)), int(upload.get("group", 0))
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def down(client: docker.DockerClient, lab: str) -> list[str]:
    """Remove every container, network and volume labelled as the lab's (volumes included)."""
    label = f"{LAB_LABEL}={lab}"
    removed: list[str] = []
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)
        removed.append(f"container {container.name}")
    for network in client.networks.list(filters={"label": label}):
        network.remove()
        removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters={"label": label}):
        volume.remove(force=True)
        removed.append(f"volume {volume.name}")
    return removed
