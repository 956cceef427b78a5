"""oauth2-proxy: the forward-auth endpoint every non-public Traefik router asks.

Runs in forward-auth mode (`upstreams = static://202`): Traefik's forwardAuth middleware
sends each request's headers to it; a valid session cookie answers 202, anything else is
redirected to the Keycloak login. The `/oauth2/` path of every protected host is routed
to it by one extra router, since the OIDC callback lands on the host the user visited.
The browser sees the public issuer (`https://auth.<domain>/realms/<realm>`); token
exchange and key fetches go to Keycloak directly over keycloak-net.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.container import ContainerArgs, HardenedContainer
from infra.spec.models import HealthcheckSpec, ServiceSpec
from infra.spec.traefik_labels import RoutingPolicy, path_router_labels, proxy_network
from templates import render

PORT = 4180
METRICS_PORT = 44180
CONFIG_FILE = "/etc/oauth2-proxy/oauth2-proxy.cfg"
CALLBACK_PREFIX = "/oauth2/"
CALLBACK_ROUTER_PRIORITY = 10_000
COOKIE_SECRET_BYTES = 32


@dataclass(frozen=True)
class OAuth2ProxyArgs:
    """Args:
    service: oauth2-proxy's spec (image, networks, user).
    networks: the platform networks by name.
    routing: Traefik's routing policy (for the callback router).
    domain: the platform domain (cookie and redirect whitelist `.<domain>`).
    realm / client_id: the Keycloak realm and the confidential client oauth2-proxy logs in as.
    issuer_url: public issuer, `https://auth.<domain>/realms/<realm>`.
    backchannel_url: the same realm reached inside the platform, `http://keycloak:8080/realms/<realm>`.
    protected_hosts: every host whose router uses forward-auth (the client's redirect hosts).
    client_secret: the Keycloak client's secret (a Pulumi secret).
    """

    service: ServiceSpec
    networks: Mapping[str, docker.Network]
    routing: RoutingPolicy
    domain: str
    realm: str
    client_id: str
    issuer_url: str
    backchannel_url: str
    protected_hosts: tuple[str, ...]
    client_secret: pulumi.Input[str]


class OAuth2Proxy(pulumi.ComponentResource):
    """The oauth2-proxy container, its cookie secret and its callback router."""

    container: HardenedContainer
    cookie_secret: random.RandomPassword
    forward_auth_address: str

    def __init__(self, name: str, args: OAuth2ProxyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:OAuth2Proxy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # 32 random bytes: oauth2-proxy uses a 32-byte cookie secret as an AES-256 key
        self.cookie_secret = random.RandomPassword(f"{name}-cookie-secret", length=COOKIE_SECRET_BYTES, special=False, opts=child)
        config = pulumi.Output.all(args.client_secret, self.cookie_secret.result).apply(
            lambda secrets: render(
                "oauth2-proxy/oauth2-proxy.cfg.j2",
                realm=args.realm,
                port=PORT,
                metrics_port=METRICS_PORT,
                client_id=args.client_id,
                client_secret=secrets[0],
                cookie_secret=secrets[1],
                issuer_url=args.issuer_url,
                backchannel_url=args.backchannel_url,
                domain=args.domain,
            )
        )
        labels = path_router_labels(
            args.service.name,
            hosts=args.protected_hosts,
            path_prefix=CALLBACK_PREFIX,
            port=PORT,
            network=proxy_network(args.service, args.routing),
            policy=args.routing,
            priority=CALLBACK_ROUTER_PRIORITY,
        )
        self.container = HardenedContainer(
            name,
            ContainerArgs(
                service=args.service,
                networks=args.networks,
                command=[f"--config={CONFIG_FILE}"],
                secret_files={CONFIG_FILE: pulumi.Output.secret(config)},
                labels=labels,
                healthcheck=args.service.healthcheck
                or HealthcheckSpec(test=("CMD", "wget", "-qO-", f"http://127.0.0.1:{PORT}/ping"), interval_seconds=15),
            ),
            child,
        )
        self.forward_auth_address = forward_auth_address(args.service)
        self.register_outputs({"container": self.container.container.name})


def forward_auth_address(service: ServiceSpec) -> str:
    """Where Traefik's forwardAuth middleware asks: the proxy's root on the shared network."""
    return f"http://{service.name}:{PORT}/"
