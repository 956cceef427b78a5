"""Core stack: Traefik, its socket proxy, oauth2-proxy for forward-auth, and every data store.

Data stores of every enabled stack are built here, before the security stack, so their
credentials (`context.shared["datastore_credentials"]`) exist when OpenBao's KV and
database engines are written; each container keeps its own stack's label.

Also publishes Traefik's routing policy (`context.shared["routing"]`) for every later stack,
and the oauth2-proxy client secret (`context.shared["keycloak_client_secrets"]
["oauth2-proxy"]`): taken from there when an earlier stack put it there, otherwise
generated here with `pulumi_random` and left there for the security stack to set as the
Keycloak client's secret, so both sides always hold the same value.
"""

from __future__ import annotations

import pulumi
import pulumi_random as random

from components.oauth2_proxy import OAuth2Proxy, OAuth2ProxyArgs, forward_auth_address
from components.traefik import Traefik, TraefikArgs
from infra.spec.models import PlatformSpec
from stacks.context import PlatformContext
from stacks.datastores import build_datastores
from stacks.services import CLIENT_SECRETS, ROUTING, register, service_spec

OAUTH2_CLIENT_ID = "oauth2-proxy"
KEYCLOAK_SERVICE = "keycloak"


def build(context: PlatformContext) -> None:
    spec = context.spec
    oauth2_spec = service_spec(context, "oauth2-proxy")
    traefik = Traefik(
        "traefik",
        TraefikArgs(
            traefik=service_spec(context, "traefik"),
            socket_proxy=service_spec(context, "socket-proxy"),
            networks=context.networks.networks,
            acme_email=spec.acme_email,
            tls=spec.tls,
            forward_auth_address=forward_auth_address(oauth2_spec),
            routed_hosts=tuple(sorted(route.host for service in spec.services for route in service.routes)),
            publish_address=None if spec.publish_address.is_unspecified else str(spec.publish_address),
            acme_ca_server=spec.acme_ca_server,
            acme_ca_certificate=spec.acme_ca_certificate,
        ),
        pulumi.ResourceOptions(providers=[context.docker_provider]),
    )
    context.shared[ROUTING] = traefik.routing
    oauth2 = OAuth2Proxy(
        "oauth2-proxy",
        OAuth2ProxyArgs(
            service=oauth2_spec,
            networks=context.networks.networks,
            routing=traefik.routing,
            domain=spec.domain,
            realm=spec.keycloak.realm,
            client_id=OAUTH2_CLIENT_ID,
            issuer_url=f"https://{keycloak_host(spec)}/realms/{spec.keycloak.realm}",
            backchannel_url=f"http://{KEYCLOAK_SERVICE}:{keycloak_port(spec)}/realms/{spec.keycloak.realm}",
            protected_hosts=protected_hosts(spec),
            client_secret=oauth2_client_secret(context),
        ),
        pulumi.ResourceOptions(providers=[context.docker_provider]),
    )
    for container in (traefik.container, traefik.socket_proxy, oauth2.container):
        register(context, container)
    for stack in spec.stacks:
        build_datastores(context, stack)


def oauth2_client_secret(context: PlatformContext) -> pulumi.Input[str]:
    secrets = context.shared.setdefault(CLIENT_SECRETS, {})
    if OAUTH2_CLIENT_ID not in secrets:
        generated = random.RandomPassword(f"{OAUTH2_CLIENT_ID}-client-secret", length=48, special=False)
        secrets[OAUTH2_CLIENT_ID] = generated.result
    return secrets[OAUTH2_CLIENT_ID]


def protected_hosts(spec: PlatformSpec) -> tuple[str, ...]:
    """The oauth2-proxy client's redirect hosts; every forward-auth route must be among them."""
    client = next((c for c in spec.keycloak.clients if c.client_id == OAUTH2_CLIENT_ID), None)
    if client is None:
        raise ValueError(f"the realm has no {OAUTH2_CLIENT_ID!r} client; forward-auth cannot log anyone in")
    hosts = tuple(client.redirect_hosts)
    missing = sorted(r.host for s in spec.services for r in s.routes if r.forward_auth and r.host not in hosts)
    if missing:
        raise ValueError(
            f"forward-auth routes for {', '.join(missing)} are not redirect hosts of the {OAUTH2_CLIENT_ID!r} client; "
            "add them to keycloak.clients[oauth2-proxy].redirect_hosts"
        )
    return hosts


def _keycloak_route(spec: PlatformSpec):
    keycloak = next((s for s in spec.services if s.name == KEYCLOAK_SERVICE), None)
    if keycloak is None or not keycloak.routes:
        raise ValueError(f"service {KEYCLOAK_SERVICE!r} with a route is needed for the OIDC issuer")
    return keycloak.routes[0]


def keycloak_host(spec: PlatformSpec) -> str:
    return _keycloak_route(spec).host


def keycloak_port(spec: PlatformSpec) -> int:
    return _keycloak_route(spec).service_port
