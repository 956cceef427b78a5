"""Traefik docker-provider labels, derived from typed routes.

Labels are the only way a container tells Traefik how to route to it, and they are
readable by anyone with Docker API access: they carry hostnames, ports and middleware
names, never secrets. TLS options and the middlewares themselves live in Traefik's
dynamic file config (`templates/traefik/dynamic.yml.j2`) and are referenced here as
`<name>@file`.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.spec.models import RouteSpec, ServiceSpec

TRAEFIK = "traefik"


@dataclass(frozen=True)
class RoutingPolicy:
    """How every router of the platform is built (one policy, owned by the core stack).

    `proxy_networks` are the networks Traefik joins; a routed service must share one of
    them, and that shared network is pinned with `traefik.docker.network` so Traefik never
    guesses an address on a network it cannot reach.
    """

    entrypoint: str
    cert_resolver: str | None
    proxy_networks: tuple[str, ...]
    default_middlewares: tuple[str, ...]
    forward_auth_middleware: str


class RoutingError(ValueError):
    """A route cannot be expressed as Traefik labels (names the service and route)."""


def router_name(service: ServiceSpec, index: int) -> str:
    """`psra-frontend` for a single route, `keycloak-1` for the second of several."""
    return service.name if len(service.routes) == 1 else f"{service.name}-{index}"


def route_rule(route: RouteSpec) -> str:
    """`Host(`a`)`, narrowed to `PathPrefix` alternatives when the route lists prefixes."""
    rule = f"Host(`{route.host}`)"
    if route.path_prefixes:
        paths = " || ".join(f"PathPrefix(`{path}`)" for path in route.path_prefixes)
        rule = f"{rule} && ({paths})" if len(route.path_prefixes) > 1 else f"{rule} && {paths}"
    return rule


def route_middlewares(route: RouteSpec, policy: RoutingPolicy) -> tuple[str, ...]:
    """Shared middlewares first, forward-auth for non-public routes, then the route's own."""
    auth = (policy.forward_auth_middleware,) if route.forward_auth else ()
    return (*policy.default_middlewares, *auth, *route.middlewares)


def proxy_network(service: ServiceSpec, policy: RoutingPolicy) -> str:
    """The first of the service's networks that Traefik also joins."""
    for network in service.networks:
        if network in policy.proxy_networks:
            return network
    raise RoutingError(
        f"service {service.name!r} has routes but shares no network with Traefik "
        f"(service networks: {', '.join(service.networks)}; Traefik: {', '.join(policy.proxy_networks)})"
    )


def traefik_labels(service: ServiceSpec, policy: RoutingPolicy) -> dict[str, str]:
    """Every label Traefik needs for `service`'s routes; empty for an unrouted service."""
    if not service.routes:
        return {}
    labels = {"traefik.enable": "true", "traefik.docker.network": proxy_network(service, policy)}
    for index, route in enumerate(service.routes):
        name = router_name(service, index)
        router = f"traefik.http.routers.{name}"
        labels |= {
            f"{router}.rule": route_rule(route),
            f"{router}.entrypoints": policy.entrypoint,
            f"{router}.tls": "true",
            f"{router}.middlewares": ",".join(route_middlewares(route, policy)),
            f"{router}.service": name,
            f"traefik.http.services.{name}.loadbalancer.server.port": str(route.service_port),
        }
        if policy.cert_resolver:
            labels[f"{router}.tls.certresolver"] = policy.cert_resolver
    return labels


def path_router_labels(
    name: str, hosts: tuple[str, ...], path_prefix: str, port: int, network: str, policy: RoutingPolicy, priority: int
) -> dict[str, str]:
    """One router for `path_prefix` on several hosts (oauth2-proxy's `/oauth2/` callback path).

    Public by construction (it *is* the login flow) and given an explicit priority above
    the hosts' application routers.
    """
    if not hosts:
        raise RoutingError(f"router {name!r} needs at least one host")
    host_rule = " || ".join(f"Host(`{host}`)" for host in hosts)
    router = f"traefik.http.routers.{name}"
    labels = {
        "traefik.enable": "true",
        "traefik.docker.network": network,
        f"{router}.rule": f"({host_rule}) && PathPrefix(`{path_prefix}`)",
        f"{router}.entrypoints": policy.entrypoint,
        f"{router}.tls": "true",
        f"{router}.priority": str(priority),
        f"{router}.middlewares": ",".join(policy.default_middlewares),
        f"{router}.service": name,
        f"traefik.http.services.{name}.loadbalancer.server.port": str(port),
    }
    if policy.cert_resolver:
        labels[f"{router}.tls.certresolver"] = policy.cert_resolver
    return labels
