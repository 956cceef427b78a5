"""Container runtime rules (CR-*): CIS Docker Benchmark section 5 on each declared container.

Only containers that run are checked (a file seed is created, never started). Documented
exceptions (a writable root, a root user) are the seed catalog's: a service whose catalog
entry declares `read_only_root: false` or `user: "0"` has them on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.audit.model import (
    Rule,
    Severity,
    known,
    number,
    rules_on,
    strings,
    text,
    truthy,
)
from infra.audit.resources import (
    BUILT_IMAGE,
    DOCKER_SOCKET,
    REMOTE_IMAGE,
    Container,
    Resources,
    image_repository,
)
from infra.spec.models import IMAGE_PATTERN

CAPABILITY_ALLOWLIST = frozenset({"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "NET_BIND_SERVICE", "IPC_LOCK", "KILL"})
ROOT_USERS = frozenset({"0", "root"})
# Images whose default user is not root (CR-05 "or image known non-root").
NON_ROOT_IMAGES = frozenset(
    {
        "quay.io/keycloak/keycloak",
        "quay.io/oauth2-proxy/oauth2-proxy",
        "grafana/grafana",
        "grafana/loki",
        "prom/prometheus",
        "prom/alertmanager",
        "n8nio/n8n",
    }
)
SENSITIVE_HOST_PATHS = ("/", "/etc", "/proc", "/sys", "/boot", "/dev", "/usr", "/lib")
NEVER_MOUNTABLE = frozenset({"/", "/proc", "/sys", "/boot", "/dev"})
HOST_NAMESPACE_INPUTS = ("networkMode", "pidMode", "ipcMode", "usernsMode", "cgroupnsMode")
UNCONFINED = re.compile(r"^(seccomp|apparmor)[=:]unconfined$", re.I)
MAX_RESTART_RETRIES = 5
RUNTIME_SOCKET = re.compile(r"(containerd|crio|cri-dockerd|podman|dockershim|docker)[^/]*\.sock$")
RUNTIME_DIRECTORIES = ("/run", "/var/run")


container_rule = rules_on(lambda r: r.running())


def _privileged(c: Container, _: Resources) -> Iterator[str]:
    if truthy(c.inputs.get("privileged")):
        yield f"container {c.name} runs privileged"


def _capabilities(c: Container, r: Resources) -> Iterator[str]:
    drops, adds = c.capabilities
    if "ALL" not in drops:
        yield f"container {c.name} does not drop ALL capabilities (drops: {', '.join(sorted(drops)) or 'none'})"
    extra = sorted(adds - CAPABILITY_ALLOWLIST - r.seed.documented_capabilities(c.service))
    if extra:
        yield f"container {c.name} adds capabilities outside the allowlist: {', '.join(extra)}"


def _no_new_privileges(c: Container, _: Resources) -> Iterator[str]:
    options = {o.replace(" ", "").lower() for o in strings(c.inputs.get("securityOpts"))}
    if not options & {"no-new-privileges:true", "no-new-privileges=true", "no-new-privileges"}:
        yield f"container {c.name} lacks securityOpts no-new-privileges:true"


def _read_only_root(c: Container, r: Resources) -> Iterator[str]:
    if not truthy(c.inputs.get("readOnly")) and not r.seed.writable_root_allowed(c.service):
        yield f"container {c.name} has a writable root filesystem and is not a documented exception"


def _non_root(c: Container, r: Resources) -> Iterator[str]:
    user = c.user
    uid = user.split(":", 1)[0] if user else None
    if uid in ROOT_USERS and not r.seed.root_user_allowed(c.service):
        yield f"container {c.name} runs as root (user {user!r})"
    elif uid is None and not (c.image_ref and _repository(c.image_ref) in NON_ROOT_IMAGES) and not r.seed.root_user_allowed(c.service):
        yield f"container {c.name} sets no user and its image is not known to run as non-root"


def _repository(reference: str) -> str:
    return image_repository(reference).removeprefix("docker.io/").removeprefix("library/")


def _limits(c: Container, _: Resources) -> Iterator[str]:
    memory = c.memory
    if not memory or memory <= 0:
        yield f"container {c.name} has no memory limit"
    if not any(number(c.inputs.get(key)) for key in ("cpus", "cpuShares", "cpuQuota")):
        yield f"container {c.name} has no CPU limit (cpus, cpuShares or cpuQuota)"


def _restart(c: Container, _: Resources) -> Iterator[str]:
    policy = text(c.inputs.get("restart")) or "no"
    if policy == "unless-stopped":
        return
    if policy == "on-failure":
        retries = number(c.inputs.get("maxRetryCount")) or 0
        if 0 < retries <= MAX_RESTART_RETRIES:
            return
        yield f"container {c.name} restarts on-failure with maxRetryCount {retries:g} (want 1..{MAX_RESTART_RETRIES})"
        return
    yield f"container {c.name} has restart policy {policy!r} (want unless-stopped or bounded on-failure)"


def _healthcheck(c: Container, _: Resources) -> Iterator[str]:
    check = known(c.inputs.get("healthcheck")) or {}
    tests = strings(check.get("tests")) if isinstance(check, dict) else []
    if not tests or tests[0].upper() == "NONE":
        yield f"container {c.name} declares no healthcheck"
    if not truthy(c.inputs.get("wait")):
        yield f"container {c.name}: the deploy does not wait for it to be healthy (wait is not true)"


def _docker_socket(c: Container, _: Resources) -> Iterator[str]:
    for mount in c.mounts:
        if mount.kind == "bind" and DOCKER_SOCKET.search(mount.source):
            if c.role != "socket-proxy":
                yield f"container {c.name} mounts the Docker socket {mount.source}; only the socket proxy may"
            elif not mount.read_only:
                yield f"socket proxy {c.name} mounts {mount.source} read-write"


def _runtime_sockets(c: Container, _: Resources) -> Iterator[str]:
    """A runtime socket (containerd, CRI-O, Podman …) or the host's /run, /var/run (where they live)
    is root on the host; only the socket proxy may mount the Docker socket (CR-11 covers that one)."""
    if c.role == "socket-proxy":
        return
    for mount in c.mounts:
        if mount.kind != "bind" or DOCKER_SOCKET.search(mount.source):
            continue
        source = "/" + mount.source.strip("/")
        if RUNTIME_SOCKET.search(source):
            yield f"container {c.name} mounts the container runtime socket {source}"
        elif any(source == p or source.startswith(p + "/") for p in RUNTIME_DIRECTORIES):
            yield f"container {c.name} mounts the host's {source} (runtime sockets live there)"


def _host_paths(c: Container, _: Resources) -> Iterator[str]:
    for mount in c.mounts:
        if mount.kind != "bind" or DOCKER_SOCKET.search(mount.source):
            continue
        source = mount.source.rstrip("/") or "/"
        sensitive = any(source == p or source.startswith(p.rstrip("/") + "/") for p in SENSITIVE_HOST_PATHS if p != "/") or source == "/"
        if source in NEVER_MOUNTABLE:
            yield f"container {c.name} mounts the host's {source}"
        elif sensitive and not mount.read_only:
            yield f"container {c.name} mounts the sensitive host path {source} read-write"


def _host_namespaces(c: Container, _: Resources) -> Iterator[str]:
    for key in HOST_NAMESPACE_INPUTS:
        if (text(c.inputs.get(key)) or "").lower() == "host":
            yield f"container {c.name} shares the host's namespace ({key}=host)"
    if known(c.inputs.get("devices")):
        yield f"container {c.name} maps host devices"
    for option in strings(c.inputs.get("securityOpts")):
        if UNCONFINED.match(option.replace(" ", "")):
            yield f"container {c.name} runs with {option}"


class _Image:
    """A pinned-image subject: a RemoteImage/Image resource, or a container naming its image."""

    def __init__(self, urn: str, reference: str) -> None:
        self.urn = urn
        self.reference = reference


def _images(r: Resources) -> Iterator[_Image]:
    for resource in r.of_type(REMOTE_IMAGE, BUILT_IMAGE):
        reference = text(resource.inputs.get("name")) or text(resource.inputs.get("imageName"))
        if reference is not None:
            yield _Image(resource.urn, reference)
    for container in r.running():
        image = container.inputs.get("image")
        if (
            isinstance(image, str)
            and not image.startswith("sha256:")
            and not r.dependencies_of(container.resource, REMOTE_IMAGE, BUILT_IMAGE)
        ):
            yield _Image(container.urn, text(image) or "")


def _pinned(image: _Image, _: Resources) -> Iterator[str]:
    match = IMAGE_PATTERN.match(image.reference)
    if not match:
        yield f"image {image.reference!r} is not a valid reference"
    elif match.group("tag") == "latest":
        yield f"image {image.reference!r} uses the 'latest' tag"
    elif not match.group("tag") and not match.group("digest"):
        yield f"image {image.reference!r} has neither a tag nor a digest"


RULES: tuple[Rule, ...] = (
    container_rule("CR-01", Severity.HIGH, "no privileged containers", "remove privileged=True", "CIS 5.5", _privileged),
    container_rule(
        "CR-02",
        Severity.HIGH,
        "drop ALL capabilities, add back only an allowlist",
        f"set capabilities drops=['ALL'] and adds ⊆ {{{', '.join(sorted(CAPABILITY_ALLOWLIST))}}} (or document the cap in the catalog's cap_add)",
        "CIS 5.4",
        _capabilities,
    ),
    container_rule(
        "CR-03", Severity.HIGH, "no-new-privileges", "add securityOpts ['no-new-privileges:true']", "CIS 5.26", _no_new_privileges
    ),
    container_rule(
        "CR-04",
        Severity.MEDIUM,
        "read-only root filesystem",
        "set readOnly=True with tmpfs for /tmp, or document the exception in the catalog (read_only_root: false)",
        "CIS 5.13",
        _read_only_root,
    ),
    container_rule(
        "CR-05",
        Severity.MEDIUM,
        "non-root process",
        "set user to a non-zero uid (or use an image that runs non-root)",
        "CIS 4.1",
        _non_root,
    ),
    container_rule("CR-06", Severity.MEDIUM, "memory and CPU limits", "set memory (MB) and cpus", "CIS 5.11/5.12", _limits),
    container_rule(
        "CR-08",
        Severity.LOW,
        "restart policy with bounded retries",
        "restart='unless-stopped' (or on-failure with maxRetryCount ≤ 5)",
        "CIS 5.15",
        _restart,
    ),
    container_rule(
        "CR-09",
        Severity.MEDIUM,
        "healthcheck, and the deploy waits for healthy",
        "declare healthcheck.tests and wait=True",
        "CIS 5.27",
        _healthcheck,
    ),
    Rule(
        "CR-10",
        Severity.HIGH,
        "images pinned, never latest",
        "pin repo:tag (better repo:tag@sha256:…)",
        "CIS 5.28; trivy DS001",
        subjects=_images,
        violations=_pinned,
    ),
    container_rule(
        "CR-11",
        Severity.HIGH,
        "Docker socket only read-only in the socket proxy",
        "remove the docker.sock mount; let Traefik reach the read-only socket proxy",
        "CIS 5.32",
        _docker_socket,
    ),
    container_rule(
        "CR-14",
        Severity.HIGH,
        "no container runtime socket, /run or /var/run from the host",
        "remove the mount; containers that need the Docker API go through the read-only socket proxy",
        "CIS 5.32; containerd/CRI-O docs",
        _runtime_sockets,
    ),
    container_rule(
        "CR-12",
        Severity.HIGH,
        "no sensitive host paths; config mounts read-only",
        "mount named volumes instead of host paths (host paths read-only if unavoidable)",
        "CIS 5.6",
        _host_paths,
    ),
    container_rule(
        "CR-13",
        Severity.HIGH,
        "no host namespaces, devices or unconfined profiles",
        "drop networkMode/pidMode/ipcMode/usernsMode=host, devices and *=unconfined",
        "CIS 5.10, 5.16-5.22, 5.31",
        _host_namespaces,
    ),
)
