"""The Traefik label builder, exactly: every label of a service's routers, the callback router
of oauth2-proxy, and the errors that name what cannot be routed."""

from __future__ import annotations

import pytest

from infra.spec.models import RouteSpec, ServiceSpec
from infra.spec.traefik_labels import (
    RoutingError,
    RoutingPolicy,
    path_router_labels,
    route_rule,
    router_name,
    traefik_labels,
)

POLICY = RoutingPolicy(
    entrypoint="websecure",
    cert_resolver="letsencrypt",
    proxy_networks=("traefik-public", "psra-net"),
    default_middlewares=("secure-headers@file", "rate-limit@file"),
    forward_auth_middleware="forward-auth@file",
)


def service(*routes: RouteSpec, networks: tuple[str, ...] = ("psra-db-net", "psra-net")) -> ServiceSpec:
    return ServiceSpec(name="psra-api", stack="psra", description="test", image="psra-api:1.0.0", networks=networks, routes=routes)


def test_a_single_route_is_named_after_the_service_and_several_by_index() -> None:
    one = service(RouteSpec(host="api.psra.example.nl", service_port=8000))
    two = service(RouteSpec(host="api.psra.example.nl", service_port=8000), RouteSpec(host="psra.example.nl", service_port=8000))
    assert router_name(one, 0) == "psra-api"
    assert [router_name(two, 0), router_name(two, 1)] == ["psra-api-0", "psra-api-1"]


def test_route_rules_with_no_one_and_several_path_prefixes() -> None:
    host = "auth.example.nl"
    assert route_rule(RouteSpec(host=host, service_port=8080)) == "Host(`auth.example.nl`)"
    assert route_rule(RouteSpec(host=host, service_port=8080, path_prefixes=("/realms/",))) == "Host(`auth.example.nl`) && PathPrefix(`/realms/`)"
    assert route_rule(RouteSpec(host=host, service_port=8080, path_prefixes=("/realms/", "/resources/"))) == (
        "Host(`auth.example.nl`) && (PathPrefix(`/realms/`) || PathPrefix(`/resources/`))"
    )


def test_every_label_of_a_protected_and_a_public_route() -> None:
    labels = traefik_labels(
        service(
            RouteSpec(host="psra.example.nl", service_port=8000),
            RouteSpec(host="api.psra.example.nl", service_port=8001, forward_auth=False, middlewares=("api-buffer@file",)),
        ),
        POLICY,
    )
    assert labels == {
        "traefik.enable": "true",
        "traefik.docker.network": "psra-net",
        "traefik.http.routers.psra-api-0.rule": "Host(`psra.example.nl`)",
        "traefik.http.routers.psra-api-0.entrypoints": "websecure",
        "traefik.http.routers.psra-api-0.tls": "true",
        "traefik.http.routers.psra-api-0.tls.certresolver": "letsencrypt",
        "traefik.http.routers.psra-api-0.middlewares": "secure-headers@file,rate-limit@file,forward-auth@file",
        "traefik.http.routers.psra-api-0.service": "psra-api-0",
        "traefik.http.services.psra-api-0.loadbalancer.server.port": "8000",
        "traefik.http.routers.psra-api-1.rule": "Host(`api.psra.example.nl`)",
        "traefik.http.routers.psra-api-1.entrypoints": "websecure",
        "traefik.http.routers.psra-api-1.tls": "true",
        "traefik.http.routers.psra-api-1.tls.certresolver": "letsencrypt",
        "traefik.http.routers.psra-api-1.middlewares": "secure-headers@file,rate-limit@file,api-buffer@file",
        "traefik.http.routers.psra-api-1.service": "psra-api-1",
        "traefik.http.services.psra-api-1.loadbalancer.server.port": "8001",
    }


def test_no_resolver_label_without_a_resolver_and_no_labels_without_routes() -> None:
    self_signed = RoutingPolicy("websecure", None, POLICY.proxy_networks, (), "forward-auth@file")
    labels = traefik_labels(service(RouteSpec(host="psra.example.nl", service_port=8000)), self_signed)
    assert not any(key.endswith("certresolver") for key in labels)
    assert labels["traefik.http.routers.psra-api.middlewares"] == "forward-auth@file"
    assert traefik_labels(service(), POLICY) == {}


def test_a_routed_service_outside_traefiks_networks_is_refused_by_name() -> None:
    with pytest.raises(RoutingError) as refused:
        traefik_labels(service(RouteSpec(host="psra.example.nl", service_port=8000), networks=("psra-db-net", "other-net")), POLICY)
    assert str(refused.value) == (
        "service 'psra-api' has routes but shares no network with Traefik "
        "(service networks: psra-db-net, other-net; Traefik: traefik-public, psra-net)"
    )


def test_the_callback_router_of_several_hosts() -> None:
    labels = path_router_labels("oauth2-callback", ("psra.example.nl", "wpcs.example.nl"), "/oauth2/", 4180, "traefik-public", POLICY, 100)
    assert labels == {
        "traefik.enable": "true",
        "traefik.docker.network": "traefik-public",
        "traefik.http.routers.oauth2-callback.rule": "(Host(`psra.example.nl`) || Host(`wpcs.example.nl`)) && PathPrefix(`/oauth2/`)",
        "traefik.http.routers.oauth2-callback.entrypoints": "websecure",
        "traefik.http.routers.oauth2-callback.tls": "true",
        "traefik.http.routers.oauth2-callback.tls.certresolver": "letsencrypt",
        "traefik.http.routers.oauth2-callback.priority": "100",
        "traefik.http.routers.oauth2-callback.middlewares": "secure-headers@file,rate-limit@file",
        "traefik.http.routers.oauth2-callback.service": "oauth2-callback",
        "traefik.http.services.oauth2-callback.loadbalancer.server.port": "4180",
    }
    self_signed = RoutingPolicy("websecure", None, POLICY.proxy_networks, (), "forward-auth@file")
    assert "traefik.http.routers.oauth2-callback.tls.certresolver" not in path_router_labels(
        "oauth2-callback", ("psra.example.nl",), "/oauth2/", 4180, "traefik-public", self_signed, 100
    )
    with pytest.raises(RoutingError, match=r"^router 'oauth2-callback' needs at least one host$"):
        path_router_labels("oauth2-callback", (), "/oauth2/", 4180, "traefik-public", POLICY, 100)
