"""The hardened service container every platform container is built with.

One place decides what "hardened" means (security invariants CR-01..CR-13, SEC-02..04):
pinned image, `no-new-privileges`, every capability dropped and only the spec's allowlist
added back, no core dumps, read-only root with tmpfs, the spec's user, memory/CPU limits and no swap,
bounded log files, a healthcheck the deploy waits for, `unless-stopped` restart, only
the spec's networks, host ports only where the spec publishes them. Traefik labels are
derived from the spec's typed routes; secrets reach the process only as uploaded files
(`*_FILE` convention) whose content is a Pulumi secret.

Uploaded files and read-only roots: Docker refuses to copy files into a container whose
root filesystem is read-only (`container rootfs is marked read-only`), and the Docker
provider always copies to `/`. For a read-only container with files, the component
therefore writes the files through a *seed* container that is created but never started
(same image, no network, nothing to run) into one dedicated volume per file directory, and
mounts each of those volumes read-only, whole, at its directory in the service container.
Whole-volume mounts work on every Docker Engine the toolkit supports (API 1.41, Debian
stable's 20.10); volume sub-paths would need API 1.45, and an older engine silently ignores
the sub-path and mounts the whole volume. The service container is replaced whenever the
seed is, so a changed file always means a restarted service.

Tmpfs mounts belong to the service user (`uid`/`gid` options): Docker recreates a tmpfs on
every start, and one without them comes back owned by root after `docker restart`, which a
non-root service (PostgreSQL's socket directory) cannot write.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.network import LABEL_PREFIX
from components.service_image import ImageResource, image_for, image_reference
from infra.spec.models import SECRET_KEY_PATTERN, HealthcheckSpec, ServiceSpec
from infra.spec.traefik_labels import RoutingPolicy, traefik_labels

SECRET_FILE_MODE = "0400"
CONFIG_FILE_MODE = "0444"
SEED_ROOT = "/seed"
SEED_SUFFIX = "-files-seed"
RESTART_POLICY = "unless-stopped"
NO_NEW_PRIVILEGES = "no-new-privileges:true"
# world-writable with the sticky bit, owned by the service user when it is numeric (see above)
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m,mode=1777"
SERVICE_LABEL = f"{LABEL_PREFIX}.service"
STACK_LABEL = f"{LABEL_PREFIX}.stack"
IMAGE_LABEL = f"{LABEL_PREFIX}.image"
ROLE_LABEL = f"{LABEL_PREFIX}.role"
# json-file keeps these labels in every log line, so Promtail can tell services apart
# from the log files alone, without access to the Docker API.
LOG_OPTIONS = {"max-size": "10m", "max-file": "5", "labels": f"{SERVICE_LABEL},{STACK_LABEL}"}
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HostMount:
    """A host path bind-mounted read-only (the Docker socket for the socket proxy, container logs for Promtail)."""

    source: str
    target: str


@dataclass(frozen=True)
class ContainerArgs:
    """Everything one hardened container needs; the hardening itself is not configurable.

    Args:
        service: the typed spec of the container: docker name, pinned image (and
            `build_context`), networks and fixed addresses, routes, non-secret env,
            named volumes, tmpfs, user, `cap_add` allowlist, memory/CPU, healthcheck,
            published ports and the declared exceptions (`read_only_root: false`).
        networks: the platform's docker networks by name (`context.networks.networks`);
            the container joins exactly `service.networks` out of these.
        image: the image to run. `None` (default) pulls `service.image` as a
            `RemoteImage` (or builds `service.build_context` with `docker.Image`) as a
            child of this component; a `RemoteImage`/`docker.Image` made elsewhere, or an
            image reference string, is used as given.
        env: extra non-secret environment, merged over `service.env`. Keys that look
            secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*` …) are refused unless they end in
            `_FILE` and point at one of `secret_files`.
        secret_files: container path -> content. Uploaded owned by the service user, mode
            0400, content wrapped as a Pulumi secret (sealed in state and exports).
        config_files: container path -> non-secret content, uploaded mode 0444.
        command: the container command (image default when empty).
        entrypoint: the container entrypoint (image default when empty).
        routing: the platform's Traefik routing policy; required when `service.routes`
            is not empty, and Traefik labels are derived from the routes with it.
        labels: extra non-secret labels (e.g. an extra Traefik router); plain strings only.
        healthcheck: overrides `service.healthcheck`; a container without either is refused.
        host_mounts: read-only bind mounts of host paths.
        shared_volumes: named volumes created elsewhere (by name); every other volume of
            `service.volumes` is created here (kept on delete: it holds data).
        network_aliases: network name -> extra DNS names of this container on that
            network (besides the service name).
        publish_address: the host address `service.published_ports` bind to (the
            engine's default, every address, when None).
        wait: wait for the healthcheck to pass on create (CR-09).
        depends_on: resources that must exist first (e.g. the data store of an API).
    """

    service: ServiceSpec
    networks: Mapping[str, docker.Network]
    image: pulumi.Input[str] | ImageResource | None = None
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    config_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    command: Sequence[pulumi.Input[str]] = ()
    entrypoint: Sequence[str] = ()
    routing: RoutingPolicy | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    healthcheck: HealthcheckSpec | None = None
    host_mounts: Sequence[HostMount] = ()
    shared_volumes: Mapping[str, docker.Volume] = field(default_factory=dict)
    network_aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    publish_address: str | None = None
    wait: bool = True
    depends_on: Sequence[pulumi.Resource] = ()


class ContainerSpecError(ValueError):
    """The arguments cannot make a hardened container (names the service and the field)."""


@dataclass(frozen=True)
class _File:
    path: str
    content: pulumi.Input[str]
    secret: bool

    @property
    def mode(self) -> str:
        return SECRET_FILE_MODE if self.secret else CONFIG_FILE_MODE


class HardenedContainer(pulumi.ComponentResource):
    """A `docker.Container` with the platform's hardening, its image, volumes and files.

    Children: the image (unless given), one `docker.Volume` per named volume not in
    `shared_volumes`, and for read-only containers with files one files volume per file
    directory plus the never-started seed container. `container` is the service container itself.
    """

    service: ServiceSpec
    container: docker.Container
    image: ImageResource | None
    volumes: dict[str, docker.Volume]
    seed: docker.Container | None

    def __init__(self, name: str, args: ContainerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:HardenedContainer", name, None, opts)
        service = self.service = args.service
        healthcheck = args.healthcheck or service.healthcheck
        if healthcheck is None:
            raise ContainerSpecError(f"service {service.name!r}: no healthcheck; declare one in the spec (CR-09)")
        files = _files(service, args)
        envs = _envs(service, args, {f.path for f in files if f.secret})
        labels = _labels(service, args)
        child = pulumi.ResourceOptions(parent=self)

        self.image = None
        if args.image is None:
            self.image = image_for(f"{name}-image", service, child)
            image_ref: pulumi.Input[str] = image_reference(self.image)
        elif isinstance(args.image, (docker.RemoteImage, docker.Image)):
            image_ref = image_reference(args.image)
        else:
            image_ref = args.image

        self.volumes = {
            mount.volume: args.shared_volumes.get(mount.volume)
            or docker.Volume(
                f"{name}-{mount.volume}",
                name=mount.volume,
                labels=[docker.VolumeLabelArgs(label=SERVICE_LABEL, value=service.name)],
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            for mount in service.volumes
        }
        mounts = [
            docker.ContainerMountArgs(type="volume", source=self.volumes[m.volume].name, target=m.container_path, read_only=m.read_only)
            for m in service.volumes
        ] + [docker.ContainerMountArgs(type="bind", source=h.source, target=h.target, read_only=True) for h in args.host_mounts]

        self.seed = None
        uploads: list[docker.ContainerUploadArgs] = []
        replacement_trigger: pulumi.Input[str] | None = None
        owner, group = _owner(service)
        if files and service.read_only_root:
            self.seed, file_mounts = self._seed(name, service, image_ref, files, owner, group)
            mounts += file_mounts
            replacement_trigger = self.seed.id
        else:
            uploads = [_upload(f, f.path, owner, group) for f in files]

        self.container = docker.Container(
            f"{name}-container",
            name=service.name,
            image=image_ref,
            command=list(args.command) or None,
            entrypoints=list(args.entrypoint) or None,
            envs=envs or None,
            labels=[docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(labels.items())],
            user=service.user,
            read_only=service.read_only_root,
            tmpfs={path: tmpfs_options(service) for path in service.tmpfs} or None,
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=list(service.cap_add) or None),
            security_opts=[NO_NEW_PRIVILEGES],
            privileged=False,
            # no core dumps: a crashing process must not write its memory (secrets) to disk
            ulimits=[docker.ContainerUlimitArgs(name="core", soft=0, hard=0)],
            memory=service.memory_mb,
            memory_swap=service.memory_mb,
            cpus=f"{service.cpus:g}",
            restart=RESTART_POLICY,
            healthcheck=_healthcheck(healthcheck),
            wait=args.wait,
            wait_timeout=_wait_timeout(healthcheck),
            log_driver="json-file",
            log_opts=LOG_OPTIONS,
            networks_advanced=_networks(service, args.networks, args.network_aliases),
            ports=[
                docker.ContainerPortArgs(internal=port, external=port, protocol="tcp", ip=args.publish_address) for port in service.published_ports
            ]
            or None,
            mounts=mounts or None,
            uploads=uploads or None,
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,  # the docker name (and any host port) is fixed
                depends_on=list(args.depends_on),
                replacement_trigger=replacement_trigger,
            ),
        )
        self.register_outputs({"name": self.container.name, "image": image_ref})

    def _seed(
        self, name: str, service: ServiceSpec, image_ref: pulumi.Input[str], files: list[_File], owner: str, group: str
    ) -> tuple[docker.Container, list[docker.ContainerMountArgs]]:
        """One files volume per file directory + the never-started seed; returns the read-only mounts."""
        roots = _mount_roots(f.path for f in files)
        volumes = {
            root: docker.Volume(
                f"{name}-files-{_slug(root)}",
                name=files_volume_name(service.name, root),
                labels=[docker.VolumeLabelArgs(label=SERVICE_LABEL, value=service.name)],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for root in roots
        }
        uploads = []
        for file in files:
            root = _root_of(file.path, roots)
            seeded = posixpath.join(SEED_ROOT, _slug(root), posixpath.relpath(file.path, root))
            uploads.append(_upload(file, seeded, owner, group))
        seed = docker.Container(
            f"{name}{SEED_SUFFIX}",
            name=f"{service.name}{SEED_SUFFIX}",
            image=image_ref,
            start=False,  # never runs: it exists only to receive the uploads into the volumes
            must_run=False,
            restart="no",
            network_mode="none",
            read_only=False,  # Docker copies files only into a writable root
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            security_opts=[NO_NEW_PRIVILEGES],
            memory=16,
            memory_swap=16,
            labels=[
                docker.ContainerLabelArgs(label=ROLE_LABEL, value="file-seed"),
                docker.ContainerLabelArgs(label=SERVICE_LABEL, value=service.name),
            ],
            mounts=[
                docker.ContainerMountArgs(type="volume", source=volume.name, target=posixpath.join(SEED_ROOT, _slug(root)))
                for root, volume in volumes.items()
            ],
            uploads=uploads,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        mounts = [
            docker.ContainerMountArgs(
                type="volume",
                source=volume.name,
                target=root,
                read_only=True,
                volume_options=docker.ContainerMountVolumeOptionsArgs(no_copy=True),
            )
            for root, volume in volumes.items()
        ]
        return seed, mounts


def files_volume_name(service: str, directory: str) -> str:
    """`traefik` + `/etc/traefik/dynamic` -> `traefik-files-etc_traefik_dynamic`."""
    return f"{service}-files-{_slug(directory)}"


def tmpfs_options(service: ServiceSpec) -> str:
    """The tmpfs mount options, owned by the service's numeric `uid[:gid]`; world-writable only
    when the spec leaves the user to the image (or names it)."""
    uid, gid = _owner(service)
    if service.user is None or not (uid.isdigit() and gid.isdigit()):
        return TMPFS_OPTIONS
    return f"{TMPFS_OPTIONS},uid={uid},gid={gid}"


def _files(service: ServiceSpec, args: ContainerArgs) -> list[_File]:
    files = [_File(path, content, True) for path, content in args.secret_files.items()]
    files += [_File(path, content, False) for path, content in args.config_files.items()]
    seen: set[str] = set()
    for file in files:
        if not file.path.startswith("/") or file.path.endswith("/") or posixpath.normpath(file.path) != file.path:
            raise ContainerSpecError(f"service {service.name!r}: file path {file.path!r} must be an absolute, normalised file path")
        if file.path in seen:
            raise ContainerSpecError(f"service {service.name!r}: {file.path!r} is both a secret and a config file")
        seen.add(file.path)
    return sorted(files, key=lambda f: f.path)


def _envs(service: ServiceSpec, args: ContainerArgs, secret_paths: set[str]) -> list[pulumi.Input[str]]:
    env: dict[str, pulumi.Input[str]] = {**service.env, **args.env}
    for key, value in args.env.items():
        if not ENV_KEY.match(key):
            raise ContainerSpecError(f"service {service.name!r}: env key {key!r} is not a valid variable name")
        if SECRET_KEY_PATTERN.search(key):
            if not key.endswith("_FILE"):
                raise ContainerSpecError(
                    f"service {service.name!r}: env key {key!r} looks secret; pass it as a secret file and point {key}_FILE at it"
                )
            if isinstance(value, str) and value not in secret_paths:
                raise ContainerSpecError(f"service {service.name!r}: {key} points at {value!r}, which is not one of its secret files")
    return [pulumi.Output.concat(key, "=", value) if not isinstance(value, str) else f"{key}={value}" for key, value in sorted(env.items())]


def _labels(service: ServiceSpec, args: ContainerArgs) -> dict[str, str]:
    if service.routes and args.routing is None:
        raise ContainerSpecError(f"service {service.name!r} has routes but no routing policy was given")
    labels = {SERVICE_LABEL: service.name, STACK_LABEL: service.stack, IMAGE_LABEL: service.image}
    if args.routing is not None:
        labels |= traefik_labels(service, args.routing)
    clashes = sorted(set(labels) & set(args.labels))
    if clashes:
        raise ContainerSpecError(f"service {service.name!r}: extra labels override derived ones: {', '.join(clashes)}")
    return labels | dict(args.labels)


def _networks(
    service: ServiceSpec, networks: Mapping[str, docker.Network], extra_aliases: Mapping[str, Sequence[str]]
) -> list[docker.ContainerNetworksAdvancedArgs]:
    missing = [name for name in [*service.networks, *extra_aliases] if name not in service.networks]
    if missing:
        raise ContainerSpecError(f"service {service.name!r}: aliases on networks it does not join: {', '.join(missing)}")
    missing = [name for name in service.networks if name not in networks]
    if missing:
        raise ContainerSpecError(f"service {service.name!r}: unknown networks {', '.join(missing)}; known: {', '.join(sorted(networks))}")
    return [
        docker.ContainerNetworksAdvancedArgs(
            name=networks[net].name,
            aliases=[service.name, *extra_aliases.get(net, ())],
            ipv4_address=str(service.ipv4_addresses[net]) if net in service.ipv4_addresses else None,
        )
        for net in service.networks
    ]


def _healthcheck(check: HealthcheckSpec) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=list(check.test),
        interval=f"{check.interval_seconds}s",
        timeout=f"{check.timeout_seconds}s",
        retries=check.retries,
        start_period=f"{check.start_period_seconds}s",
    )


def _wait_timeout(check: HealthcheckSpec) -> int:
    """Long enough for the start period plus every allowed failed probe, with a margin."""
    return check.start_period_seconds + (check.retries + 1) * (check.interval_seconds + check.timeout_seconds) + 30


def _owner(service: ServiceSpec) -> tuple[str, str]:
    """Uploaded files belong to the process user (`uid[:gid]`), root when the image default is used."""
    user = service.user or "0"
    uid, _, gid = user.partition(":")
    return uid, gid or uid


def _upload(file: _File, path: str, owner: str, group: str) -> docker.ContainerUploadArgs:
    content = pulumi.Output.secret(file.content) if file.secret else file.content
    return docker.ContainerUploadArgs(file=path, content=content, permissions=file.mode, owner=owner, group=group)


def _mount_roots(paths: Iterable[str]) -> list[str]:
    """The directories to mount: each file's directory, minus those under another one."""
    directories = sorted({posixpath.dirname(path) for path in paths})
    roots: list[str] = []
    for directory in directories:
        if directory == "/":
            raise ContainerSpecError("files of a read-only container cannot live directly in '/'; use a directory")
        if not any(directory.startswith(root + "/") for root in roots):
            roots.append(directory)
    return roots


def _root_of(path: str, roots: list[str]) -> str:
    return next(root for root in roots if path.startswith(root + "/"))


def _slug(directory: str) -> str:
    """`/etc/traefik/dynamic` -> `etc_traefik_dynamic` (names the directory's files volume)."""
    return directory.strip("/").replace("/", "_")
