"""Traefik, the socket proxy and oauth2-proxy: the edge as the plan declares it."""

from __future__ import annotations

import pulumi
import pytest
import yaml

from components.traefik import MIN_HSTS_SECONDS, RequestLimits, Traefik, TraefikArgs
from infra.plan.document import is_secret
from stacks import core
from stacks.context import PlatformContext
from tests.harness import Planned, plan_config, plan_function, spec_for
from tests.components.platform_helpers import (
    envs,
    file_content,
    labels,
    service_containers,
    uploaded_files,
)


@pytest.fixture(scope="module")
def core_plan() -> Planned:
    return plan_config({"stacks": ["core"]})


def static(planned: Planned) -> dict:
    return yaml.safe_load(file_content(planned, "traefik", "/etc/traefik/traefik.yml"))


def dynamic(planned: Planned) -> dict:
    return yaml.safe_load(file_content(planned, "traefik", "/etc/traefik/dynamic/platform.yml"))


def test_only_traefik_publishes_ports_and_only_80_443(core_plan: Planned) -> None:
    published = {name: c.inputs["ports"] for name, c in core_plan.containers().items() if c.inputs.get("ports")}
    assert published == {
        "traefik": [
            {"internal": 80, "external": 80, "protocol": "tcp"},
            {"internal": 443, "external": 443, "protocol": "tcp"},
        ]
    }


def test_static_config_redirects_http_and_terminates_tls_with_acme(core_plan: Planned) -> None:
    config = static(core_plan)
    web, secure = config["entryPoints"]["web"], config["entryPoints"]["websecure"]
    assert web["address"] == ":80"
    assert web["http"]["redirections"]["entryPoint"] == {"to": "websecure", "scheme": "https", "permanent": True}
    assert secure["address"] == ":443" and secure["http"]["tls"] == {"certResolver": "letsencrypt"}
    acme = config["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme["email"] == "ops@sevensa.nl"
    assert acme["caServer"] == "https://acme-v02.api.letsencrypt.org/directory"
    # ACME state on the seed's traefik-certificates volume
    mounts = core_plan.containers()["traefik"].inputs["mounts"]
    assert {"type": "volume", "source": "traefik-certificates", "target": "/letsencrypt", "readOnly": False} in mounts
    assert acme["storage"] == "/letsencrypt/acme.json"


def test_static_config_discovers_only_labelled_containers_through_the_proxy(core_plan: Planned) -> None:
    config = static(core_plan)
    assert config["providers"]["docker"] == {"endpoint": "tcp://socket-proxy:2375", "exposedByDefault": False, "watch": True}
    assert config["api"] == {"dashboard": False, "insecure": False}
    assert config["metrics"]["prometheus"]["entryPoint"] == "metrics"
    assert config["entryPoints"]["metrics"]["address"] == ":8082"
    assert config["accessLog"]["format"] == "json"


def test_dynamic_config_sets_tls_floor_and_shared_middlewares(core_plan: Planned) -> None:
    config = dynamic(core_plan)
    assert config["tls"]["options"]["default"]["minVersion"] == "VersionTLS12"
    assert config["tls"]["options"]["default"]["sniStrict"] is True
    middlewares = config["http"]["middlewares"]
    headers = middlewares["security-headers"]["headers"]
    assert headers["stsSeconds"] >= MIN_HSTS_SECONDS and headers["stsIncludeSubdomains"] is True
    assert middlewares["rate-limit"]["rateLimit"]["average"] > 0 and middlewares["rate-limit"]["rateLimit"]["burst"] > 0
    assert middlewares["forward-auth"]["forwardAuth"]["address"] == "http://oauth2-proxy:4180/"
    assert middlewares["forward-auth"]["forwardAuth"]["trustForwardHeader"] is False


def test_docker_socket_reaches_only_the_read_only_proxy(core_plan: Planned) -> None:
    containers = core_plan.containers()
    with_socket = {
        name for name, c in containers.items() for m in c.inputs.get("mounts", []) if m["source"] == "/var/run/docker.sock"
    }
    assert with_socket == {"socket-proxy"}
    proxy = containers["socket-proxy"].inputs
    assert proxy["mounts"] == [{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "readOnly": True}]
    assert envs(containers["socket-proxy"]) == {"CONTAINERS": "1", "EVENTS": "1", "PING": "1", "POST": "0", "VERSION": "1"}
    on_api_net = {name for name, c in service_containers(core_plan).items() for n in c.inputs["networksAdvanced"] if n["name"] == "docker-api-net"}
    assert on_api_net == {"socket-proxy", "traefik"}


def test_oauth2_proxy_config_is_secret_and_cookie_secret_is_32_random_bytes(core_plan: Planned) -> None:
    (cookie,) = [r for r in core_plan.of_type("random:index/randomPassword:RandomPassword") if r.name == "oauth2-proxy-cookie-secret"]
    assert cookie.inputs["length"] == 32 and cookie.inputs["special"] is False
    assert is_secret(cookie.outputs["result"])
    (config_path,) = uploaded_files(core_plan, "oauth2-proxy")
    upload = uploaded_files(core_plan, "oauth2-proxy")[config_path]
    assert config_path == "/etc/oauth2-proxy/oauth2-proxy.cfg"
    assert is_secret(upload["content"]) and upload["permissions"] == "0400"
    assert core_plan.containers()["oauth2-proxy"].inputs["command"] == ["--config=/etc/oauth2-proxy/oauth2-proxy.cfg"]


def test_oauth2_proxy_has_no_egress_and_serves_the_callback_of_every_protected_host(core_plan: Planned) -> None:
    proxy = core_plan.containers()["oauth2-proxy"]
    assert [n["name"] for n in proxy.inputs["networksAdvanced"]] == ["keycloak-net"]
    rule = labels(proxy)["traefik.http.routers.oauth2-proxy.rule"]
    hosts = ("psra", "rentguy", "wpcs", "n8n.ai", "grafana", "prometheus", "vault")
    assert rule == "(" + " || ".join(f"Host(`{h}.sevensa.nl`)" for h in hosts) + ") && PathPrefix(`/oauth2/`)"
    assert labels(proxy)["traefik.http.routers.oauth2-proxy.middlewares"] == "security-headers@file,rate-limit@file,in-flight@file,compress@file"


def test_self_signed_mode_has_no_resolver_and_no_acme() -> None:
    planned = plan_config({"stacks": ["core"], "tls": "self-signed", "domain": "localhost"})
    config = static(planned)
    assert "certificatesResolvers" not in config
    assert config["entryPoints"]["websecure"]["http"]["tls"] == {}
    assert dynamic(planned)["tls"]["options"]["default"]["sniStrict"] is False
    assert not any("certresolver" in key for key in labels(planned.containers()["oauth2-proxy"]))


def test_staging_mode_uses_the_staging_ca() -> None:
    config = static(plan_config({"stacks": ["core"], "tls": "letsencrypt-staging"}))
    assert config["certificatesResolvers"]["letsencrypt"]["acme"]["caServer"] == "https://acme-staging-v02.api.letsencrypt.org/directory"


def test_oauth2_client_secret_is_taken_from_the_realm_when_published_first() -> None:
    def program() -> None:
        import pulumi_docker as docker

        from components.network import NetworksArgs, PlatformNetworks

        spec = spec_for({"stacks": ["core"]})
        provider = docker.Provider("docker", host=spec.docker_host)
        networks = PlatformNetworks("networks", NetworksArgs(spec.networks, spec.stack_name), pulumi.ResourceOptions(providers=[provider]))
        context = PlatformContext(spec=spec, docker_provider=provider, networks=networks)
        context.shared["keycloak_client_secrets"] = {"oauth2-proxy": pulumi.Output.secret("from-the-realm")}
        core.build(context)

    planned = plan_function(program)
    names = {r.name for r in planned.of_type("random:index/randomPassword:RandomPassword")}
    assert names == {"oauth2-proxy-cookie-secret"}  # no placeholder client secret generated


def test_a_placeholder_client_secret_is_generated_and_published_for_the_realm(core_plan: Planned) -> None:
    (placeholder,) = [r for r in core_plan.of_type("random:index/randomPassword:RandomPassword") if r.name == "oauth2-proxy-client-secret"]
    assert placeholder.inputs["length"] >= 32 and is_secret(placeholder.outputs["result"])


def test_hsts_below_a_year_is_refused() -> None:
    spec = spec_for()
    services = {s.name: s for s in spec.services}

    def program() -> None:
        Traefik(
            "traefik",
            TraefikArgs(
                traefik=services["traefik"],
                socket_proxy=services["socket-proxy"],
                networks={},
                acme_email="ops@sevensa.nl",
                tls=spec.tls,
                forward_auth_address="http://oauth2-proxy:4180/",
                hsts_seconds=86_400,
            ),
        )

    with pytest.raises(ValueError, match="below one year"):
        plan_function(program)


def test_extra_published_port_is_refused() -> None:
    with pytest.raises(Exception, match="exactly 80 and 443"):
        plan_config({"stacks": ["core"], "services": {"traefik": {"published_ports": [80, 443, 8080]}}})


def test_traefik_answers_to_every_routed_host_on_the_internal_networks(core_plan: Planned) -> None:
    """psra-api validates tokens against https://auth.<domain>: it must reach Traefik, not the internet."""
    networks = {n["name"]: n["aliases"] for n in service_containers(core_plan)["traefik"].inputs["networksAdvanced"]}
    assert networks["docker-api-net"] == ["traefik"]
    expected = {"auth.sevensa.nl", "api.psra.sevensa.nl", "vault.sevensa.nl", "grafana.sevensa.nl"}
    for name in ("psra-net", "keycloak-net", "shared-net", "monitoring-net"):
        assert expected <= set(networks[name]), name


ENCODED_CHARACTERS = ("Slash", "BackSlash", "NullCharacter", "Semicolon", "Percent", "QuestionMark", "Hash")


def test_every_entry_point_refuses_aliased_headers_and_encoded_path_characters(core_plan: Planned) -> None:
    """A client's X_Auth_Request_User must never read as forward-auth's X-Auth-Request-User (tests/templates
    runs the real binary on it)."""
    entry_points = static(core_plan)["entryPoints"]
    assert set(entry_points) == {"web", "websecure", "metrics", "ping"}
    for name, entry_point in entry_points.items():
        assert entry_point["http"]["aliasHeadersStrategy"] == "reject", name
        assert entry_point["http"]["encodedCharacters"] == {f"allowEncoded{kind}": False for kind in ENCODED_CHARACTERS}, name


def test_request_limits_are_component_defaults_visible_in_the_plan(prod_plan: Planned) -> None:
    limits = RequestLimits()
    middlewares = dynamic(prod_plan)["http"]["middlewares"]
    assert middlewares["in-flight"] == {"inFlightReq": {"amount": limits.in_flight_per_client}}
    assert middlewares["body-limit"] == {
        "buffering": {"maxRequestBodyBytes": limits.max_body_bytes, "memRequestBodyBytes": limits.memory_body_bytes}
    }
    assert (limits.in_flight_per_client, limits.max_body_bytes, limits.memory_body_bytes) == (20, 1_048_576, 262_144)
    assert middlewares["forward-auth"]["forwardAuth"]["maxResponseBodySize"] == 65_536
    component = next(r for r in prod_plan.resources if r.type == "sevensa:platform:Traefik")
    assert component.outputs["requestLimits"] == {"in_flight_per_client": 20, "max_body_bytes": 1_048_576, "memory_body_bytes": 262_144}


def test_every_router_limits_requests_in_flight_and_api_routers_limit_bodies(prod_plan: Planned) -> None:
    routers = {
        key.split(".")[3]: value.split(",")
        for container in prod_plan.containers().values()
        for key, value in labels(container).items()
        if key.startswith("traefik.http.routers.") and key.endswith(".middlewares")
    }
    assert routers and all("in-flight@file" in chain for chain in routers.values())
    with_body_limit = {name for name, chain in routers.items() if "body-limit@file" in chain}
    # the routers that take request bodies; UIs with websockets or streaming (n8n, Grafana) are not buffered
    assert with_body_limit == {"keycloak", "openbao", "psra-api-0", "psra-api-1"}


def test_request_limits_refuse_a_memory_threshold_above_the_body_limit() -> None:
    with pytest.raises(ValueError, match="memory_body_bytes 2048 must be within 1..max_body_bytes"):
        RequestLimits(max_body_bytes=1024, memory_body_bytes=2048)


@pytest.mark.parametrize(("domain", "cookie_domains"), [("sevensa.nl", ['cookie_domains = [".sevensa.nl"]']), ("localhost", [])])
def test_the_session_cookie_is_shared_across_hosts_only_under_a_registrable_domain(domain: str, cookie_domains: list[str]) -> None:
    """A cookie `Domain=.localhost` has no registrable part: cookie jars refuse it (Python's
    http.cookiejar: "no embedded dot"; browsers by the public-suffix rules), and the login through
    oauth2-proxy would lose its CSRF cookie. A single-label domain gets host-only cookies."""
    from templates import render

    config = render(
        "oauth2-proxy/oauth2-proxy.cfg.j2",
        realm="sevensa", port=4180, metrics_port=44180, client_id="oauth2-proxy", client_secret="s", cookie_secret="c" * 32,
        issuer_url=f"https://auth.{domain}/realms/sevensa", backchannel_url="http://keycloak:8080/realms/sevensa", domain=domain,
    )
    assert [line for line in config.splitlines() if line.startswith("cookie_domains")] == cookie_domains
    assert f'whitelist_domains = [".{domain}"]' in config
