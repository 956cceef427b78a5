"""Network rules (NW-*, HOST-02): who publishes ports, who sits on which network.

Published Docker ports bind 0.0.0.0 and bypass the host firewall (fact 7), so the declared
graph is the first line: only Traefik publishes, only 80/443; data stores and OpenBao live
on internal networks only; the Docker socket proxy talks to Traefik alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from infra.audit.model import Rule, Severity, number, text, truthy
from infra.audit.resources import DATASTORE_ROLES, Container, Resources
from infra.plan.document import ExportedResource

EDGE_PORTS = frozenset({80, 443})
ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "[::]"})
DOCKER_PROVIDER = "pulumi:providers:docker"


def _published(c: Container) -> list[tuple[str, int]]:
    return [(text(p.get("ip")) or "", int(number(p.get("external")) or number(p.get("internal")) or 0)) for p in c.ports]


def _only_traefik_publishes(c: Container, _: Resources) -> Iterator[str]:
    ports = sorted({port for _, port in _published(c)})
    if truthy(c.inputs.get("publishAllPorts")):
        yield f"container {c.name} publishes all exposed ports"
    if c.role == "traefik":
        extra = [p for p in ports if p not in EDGE_PORTS]
        if extra:
            yield f"Traefik publishes {', '.join(map(str, extra))} besides 80/443"
    elif ports:
        yield f"container {c.name} publishes host port(s) {', '.join(map(str, ports))}; only Traefik may publish"


def _loopback_binding(c: Container, _: Resources) -> Iterator[str]:
    for ip, port in _published(c):
        if c.role == "traefik" and port in EDGE_PORTS:
            continue
        if ip in ALL_INTERFACES:
            yield f"container {c.name} publishes port {port} on all interfaces; bind it to 127.0.0.1"


def _internal_only(c: Container, r: Resources) -> Iterator[str]:
    if not c.networks:
        if (c.network_mode or "bridge") in {"bridge", "default"}:
            yield f"{c.role} container {c.name} sits on Docker's default bridge"
        return
    for network in c.networks:
        if not r.network_internal(network):
            yield f"{c.role} container {c.name} is on network {network}, which is not internal"


def _socket_proxy_isolated(c: Container, r: Resources) -> Iterator[str]:
    for network in c.networks:
        others = sorted(m.name for m in r.members(network) if m.urn != c.urn and m.role != "traefik")
        if others:
            yield f"socket proxy {c.name} shares network {network} with {', '.join(others)}"
        if not r.network_internal(network):
            yield f"socket proxy {c.name} is on network {network}, which is not internal"
    if str(c.env.get("POST", "0")).strip() not in {"0", ""}:
        yield f"socket proxy {c.name} allows write requests (POST={c.env['POST']})"


def _docker_daemon(provider: ExportedResource, _: Resources) -> Iterator[str]:
    host = text(provider.inputs.get("host")) or ""
    if host.startswith("tcp://"):
        yield f"the Docker provider reaches the daemon over TCP ({host})"


RULES: tuple[Rule, ...] = (
    Rule(
        "NW-01",
        Severity.HIGH,
        "only Traefik publishes host ports, only 80/443",
        "remove ports from every container but Traefik; route through Traefik instead",
        "CIS 5.8/5.9",
        subjects=lambda r: r.running(),
        violations=_only_traefik_publishes,
    ),
    Rule(
        "NW-02",
        Severity.HIGH,
        "any other published port binds 127.0.0.1",
        "set ports[].ip='127.0.0.1' (or remove the port)",
        "CIS 5.14",
        subjects=lambda r: r.running(),
        violations=_loopback_binding,
    ),
    Rule(
        "NW-03",
        Severity.HIGH,
        "data stores and OpenBao only on internal networks",
        "attach them only to networks with internal=True",
        "Docker --internal; CIS 5.30",
        subjects=lambda r: r.with_role(*DATASTORE_ROLES, "openbao"),
        violations=_internal_only,
    ),
    Rule(
        "NW-05",
        Severity.HIGH,
        "socket proxy reachable only by Traefik, read-only",
        "give the socket proxy its own internal network shared with Traefik only, and POST=0",
        "Traefik docker provider docs",
        subjects=lambda r: r.with_role("socket-proxy"),
        violations=_socket_proxy_isolated,
    ),
    Rule(
        "HOST-02",
        Severity.HIGH,
        "Docker daemon not reachable over TCP",
        "use unix:///var/run/docker.sock or ssh://user@host for the Docker provider",
        "OWASP; CIS 3.15/3.16",
        subjects=lambda r: r.of_type(DOCKER_PROVIDER),
        violations=_docker_daemon,
    ),
)
