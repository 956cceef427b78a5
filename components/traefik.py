"""Traefik v3 at the edge, and the read-only Docker API proxy it discovers containers through.

Static config (entrypoints, ACME, providers, metrics) and dynamic config (TLS options,
shared middlewares) are rendered from `templates/traefik/`. Traefik is the only
container that publishes host ports, only 80 and 443; metrics and ping listen on
internal entrypoints. Traefik never sees the Docker socket: it talks to
`socket-proxy` over the internal `docker-api-net`, and the proxy allows only the
read endpoints the docker provider needs (CR-11, NW-05).
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.container import ContainerArgs, HardenedContainer, HostMount
from infra.spec.models import HealthcheckSpec, ServiceSpec, TlsMode
from infra.spec.traefik_labels import RoutingPolicy
from templates import render

CONFIG_DIR = "/etc/traefik"
STATIC_CONFIG = f"{CONFIG_DIR}/traefik.yml"
DYNAMIC_DIR = f"{CONFIG_DIR}/dynamic"
ACME_STORAGE_FILE = "acme.json"
ENTRYPOINT = "websecure"
CERT_RESOLVER = "letsencrypt"
METRICS_PORT = 8082
PING_PORT = 8081
SOCKET_PROXY_PORT = 2375
DOCKER_SOCKET = "/var/run/docker.sock"
MIN_HSTS_SECONDS = 31_536_000
CA_SERVERS = {
    TlsMode.LETSENCRYPT: "https://acme-v02.api.letsencrypt.org/directory",
    TlsMode.LETSENCRYPT_STAGING: "https://acme-staging-v02.api.letsencrypt.org/directory",
}
ACME_CA_FILE = f"{CONFIG_DIR}/acme-ca.pem"
# Read endpoints Traefik's docker provider uses; everything else (and every POST) stays denied.
SOCKET_PROXY_ALLOW = {"CONTAINERS": "1", "EVENTS": "1", "PING": "1", "VERSION": "1", "POST": "0"}


@dataclass(frozen=True)
class Middlewares:
    """Names of the shared middlewares in the dynamic file config (referenced as `<name>@file`)."""

    headers: str = "security-headers"
    rate_limit: str = "rate-limit"
    in_flight: str = "in-flight"
    compress: str = "compress"
    forward_auth: str = "forward-auth"
    body_limit: str = "body-limit"  # routes that take request bodies list it (the catalog's API routes)

    def ref(self, name: str) -> str:
        return f"{name}@file"


@dataclass(frozen=True)
class RateLimit:
    """Requests per second per client address, with a burst allowance (TR-04)."""

    average: int = 50
    burst: int = 100


@dataclass(frozen=True)
class RequestLimits:
    """What one client may make Traefik hold: concurrent requests (every router), and the request body
    size on the routers that list the body-limit middleware (the APIs). A larger body is answered 413 by
    Traefik and never reaches the service; past `memory_body_bytes` a body waits on Traefik's /tmp tmpfs."""

    in_flight_per_client: int = 20
    max_body_bytes: int = 1024 * 1024
    memory_body_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        if not 0 < self.memory_body_bytes <= self.max_body_bytes:
            raise ValueError(f"memory_body_bytes {self.memory_body_bytes} must be within 1..max_body_bytes ({self.max_body_bytes})")
        if self.in_flight_per_client < 1:
            raise ValueError("in_flight_per_client must be at least 1")


@dataclass(frozen=True)
class TraefikArgs:
    """Args:
    traefik / socket_proxy: their service specs (image, networks, ports, volume).
    networks: the platform networks by name.
    acme_email / tls: the spec's ACME account e-mail and certificate mode.
    forward_auth_address: where the forward-auth middleware asks (oauth2-proxy).
    routed_hosts: every hostname Traefik routes. Traefik answers to them on the internal
        networks too, so a service calls e.g. https://auth.<domain> (the token issuer, its
        keys) through Traefik with the real certificate instead of a hairpin through the
        public address, which internal networks have no route to.
    publish_address: the host address ports 80 and 443 bind to (every address when None).
    acme_ca_server / acme_ca_certificate: the directory of `tls: acme` and the PEM of the CA of
        its HTTPS certificate (given to Traefik's ACME client only, as LEGO_CA_CERTIFICATES).
    """

    traefik: ServiceSpec
    socket_proxy: ServiceSpec
    networks: Mapping[str, docker.Network]
    acme_email: str
    tls: TlsMode
    forward_auth_address: str
    routed_hosts: tuple[str, ...] = ()
    publish_address: str | None = None
    acme_ca_server: str | None = None
    acme_ca_certificate: str | None = None
    middlewares: Middlewares = Middlewares()
    rate_limit: RateLimit = RateLimit()
    request_limits: RequestLimits = RequestLimits()
    hsts_seconds: int = 63_072_000


class Traefik(pulumi.ComponentResource):
    """Traefik and its socket proxy; `routing` is the policy every routed container uses."""

    routing: RoutingPolicy
    container: HardenedContainer
    socket_proxy: HardenedContainer

    def __init__(self, name: str, args: TraefikArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:Traefik", name, None, opts)
        if args.hsts_seconds < MIN_HSTS_SECONDS:
            raise ValueError(f"HSTS max-age {args.hsts_seconds}s is below one year ({MIN_HSTS_SECONDS}s, TLS-03)")
        if set(args.traefik.published_ports) != {80, 443}:
            raise ValueError(f"Traefik must publish exactly 80 and 443, spec says {list(args.traefik.published_ports)} (NW-01)")
        if args.tls == TlsMode.ACME and not (args.acme_ca_server and args.acme_ca_certificate):
            raise ValueError("tls: acme needs the ACME directory URL and the PEM of its CA")
        cert_resolver = CERT_RESOLVER if args.tls in CA_SERVERS or args.tls == TlsMode.ACME else None
        acme_ca = {ACME_CA_FILE: args.acme_ca_certificate} if args.tls == TlsMode.ACME and args.acme_ca_certificate else {}
        mw = args.middlewares
        self.routing = RoutingPolicy(
            entrypoint=ENTRYPOINT,
            cert_resolver=cert_resolver,
            proxy_networks=args.traefik.networks,
            default_middlewares=(mw.ref(mw.headers), mw.ref(mw.rate_limit), mw.ref(mw.in_flight), mw.ref(mw.compress)),
            forward_auth_middleware=mw.ref(mw.forward_auth),
        )
        child = pulumi.ResourceOptions(parent=self)

        self.socket_proxy = HardenedContainer(
            f"{name}-socket-proxy",
            ContainerArgs(
                service=args.socket_proxy,
                networks=args.networks,
                env=SOCKET_PROXY_ALLOW,
                host_mounts=[HostMount(DOCKER_SOCKET, DOCKER_SOCKET)],
                healthcheck=args.socket_proxy.healthcheck
                or HealthcheckSpec(test=("CMD", "wget", "-qO-", f"http://127.0.0.1:{SOCKET_PROXY_PORT}/_ping"), interval_seconds=15),
            ),
            child,
        )
        self.container = HardenedContainer(
            f"{name}-traefik",
            ContainerArgs(
                service=args.traefik,
                networks=args.networks,
                command=[f"--configFile={STATIC_CONFIG}"],
                config_files={
                    STATIC_CONFIG: static_config(args, cert_resolver),
                    f"{DYNAMIC_DIR}/platform.yml": dynamic_config(args, sni_strict=cert_resolver is not None),
                    **acme_ca,
                },
                env={"LEGO_CA_CERTIFICATES": ACME_CA_FILE} if acme_ca else {},
                healthcheck=args.traefik.healthcheck
                or HealthcheckSpec(test=("CMD", "traefik", "healthcheck", f"--configFile={STATIC_CONFIG}"), interval_seconds=15),
                network_aliases={net: args.routed_hosts for net in args.traefik.networks if net not in args.socket_proxy.networks},
                publish_address=args.publish_address,
                depends_on=[self.socket_proxy],
            ),
            child,
        )
        self.register_outputs(
            {
                "container": self.container.container.name,
                "socketProxy": self.socket_proxy.container.name,
                "requestLimits": dataclasses.asdict(args.request_limits),
            }
        )


def acme_volume_path(traefik: ServiceSpec) -> str:
    """Where ACME state lives: on the certificate volume the spec mounts (TLS-04)."""
    if not traefik.volumes:
        raise ValueError("Traefik needs a named volume for ACME certificates (the seed's traefik-certificates)")
    return f"{traefik.volumes[0].container_path}/{ACME_STORAGE_FILE}"


def static_config(args: TraefikArgs, cert_resolver: str | None) -> str:
    return render(
        "traefik/traefik.yml.j2",
        cert_resolver=cert_resolver,
        acme_email=args.acme_email,
        acme_storage=acme_volume_path(args.traefik),
        ca_server=args.acme_ca_server if args.tls == TlsMode.ACME else CA_SERVERS.get(args.tls, ""),
        docker_endpoint=f"tcp://{args.socket_proxy.name}:{SOCKET_PROXY_PORT}",
        dynamic_dir=DYNAMIC_DIR,
        metrics_port=METRICS_PORT,
        ping_port=PING_PORT,
    )


def dynamic_config(args: TraefikArgs, sni_strict: bool) -> str:
    return render(
        "traefik/dynamic.yml.j2",
        middlewares=args.middlewares,
        hsts_seconds=args.hsts_seconds,
        rate_limit=args.rate_limit,
        request_limits=args.request_limits,
        forward_auth_address=args.forward_auth_address,
        sni_strict=sni_strict,
    )
