"""The prod plan as the issue requires it: every seed container, wired and hardened as the seed says."""

from __future__ import annotations

import re

from infra.plan.document import is_secret
from templates import render
from infra.spec.models import IMAGE_PATTERN, SECRET_KEY_PATTERN
from tests.harness import Planned, spec_for
from tests.components.platform_helpers import envs, labels, service_containers, uploaded_files

SEED_HOSTNAMES = ("psra", "api.psra", "rentguy", "wpcs", "n8n.ai", "grafana", "prometheus", "auth", "vault")
DATA_STORES = {"psra-db", "psra-redis", "rentguy-db", "rentguy-redis", "wpcs-db", "keycloak-db", "ai-db", "n8n-db", "ai-redis"}
ROUTER_RULE = re.compile(r"^traefik\.http\.routers\.(?P<router>[^.]+)\.rule$")


def test_every_seed_service_runs_on_exactly_its_seed_networks(prod_plan: Planned) -> None:
    spec = spec_for(stack="prod")
    containers = service_containers(prod_plan)
    for service in spec.services:
        if service.stack == "security":
            continue  # Keycloak and OpenBao belong to the security stack's own tests
        assert service.name in containers, f"{service.name} missing"
        networks = [n["name"] for n in containers[service.name].inputs["networksAdvanced"]]
        assert networks == list(service.networks), service.name
    assert DATA_STORES <= set(containers)


def test_only_traefik_publishes_host_ports(prod_plan: Planned) -> None:
    published = {name: sorted(p["external"] for p in c.inputs["ports"]) for name, c in prod_plan.containers().items() if c.inputs.get("ports")}
    assert published == {"traefik": [80, 443]}


def test_no_data_store_or_openbao_is_on_the_proxy_network(prod_plan: Planned) -> None:
    on_proxy = {name for name, c in prod_plan.containers().items() for n in c.inputs.get("networksAdvanced", []) if n["name"] == "traefik-net"}
    assert on_proxy == {"traefik"}
    assert not (on_proxy & (DATA_STORES | {"openbao"}))


def test_service_and_database_networks_are_internal_and_egress_is_declared(prod_plan: Planned) -> None:
    networks = {r.inputs["name"]: r.inputs["internal"] for r in prod_plan.of_type("docker:index/network:Network")}
    assert {name for name, internal in networks.items() if not internal} == {"traefik-net", "egress-net"}
    spec = spec_for(stack="prod")
    declared = {s.name for s in spec.services if s.egress and "egress-net" in s.networks}
    on_egress = {name for name, c in service_containers(prod_plan).items() for n in c.inputs["networksAdvanced"] if n["name"] == "egress-net"}
    assert on_egress == declared
    assert "oauth2-proxy" not in on_egress


def test_every_running_container_is_hardened(prod_plan: Planned) -> None:
    for name, container in service_containers(prod_plan).items():
        inputs = container.inputs
        assert inputs["restart"] == "unless-stopped", name
        assert inputs["healthcheck"]["tests"] and inputs["healthcheck"]["tests"][0] in ("CMD", "CMD-SHELL"), name
        assert inputs["wait"] is True, name
        assert inputs["memory"] > 0 and inputs["memorySwap"] == inputs["memory"], name
        assert "no-new-privileges:true" in inputs["securityOpts"], name
        assert inputs["capabilities"]["drops"] == ["ALL"], name
        assert inputs.get("privileged") is not True, name
        assert inputs["logOpts"]["max-size"], name


def test_declared_exceptions_only(prod_plan: Planned) -> None:
    """Writable roots and added capabilities are exactly what the spec declares."""
    spec = spec_for(stack="prod")
    containers = service_containers(prod_plan)
    writable = {name for name, c in containers.items() if not c.inputs["readOnly"]}
    assert writable == {s.name for s in spec.services if not s.read_only_root and s.name in containers}
    added = {name: c.inputs["capabilities"].get("adds", []) for name, c in containers.items() if c.inputs["capabilities"].get("adds")}
    assert added == {s.name: list(s.cap_add) for s in spec.services if s.cap_add and s.name in containers}
    assert added["traefik"] == ["NET_BIND_SERVICE"] and added["backup"] == ["DAC_READ_SEARCH"]


def test_no_image_is_unpinned(prod_plan: Planned) -> None:
    references = [r.inputs["name"] for r in prod_plan.of_type("docker:index/remoteImage:RemoteImage")]
    references += [r.inputs["imageName"] for r in prod_plan.of_type("docker:index/image:Image")]
    assert len(references) >= 30
    for reference in references:
        match = IMAGE_PATTERN.match(reference)
        assert match and (match["tag"] or match["digest"]) and match["tag"] != "latest", reference


def test_psra_api_is_built_from_the_bundled_app(prod_plan: Planned) -> None:
    (image,) = [r for r in prod_plan.of_type("docker:index/image:Image") if r.inputs["imageName"].startswith("ghcr.io/sevensa/psra-api:")]
    assert image.inputs["build"]["context"] == "app"
    assert prod_plan.containers()["psra-api"].inputs["image"] == image.inputs["imageName"]


def test_every_seed_hostname_has_exactly_one_application_router_with_tls(prod_plan: Planned) -> None:
    routers: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for name, container in service_containers(prod_plan).items():
        found = labels(container)
        for key, rule in found.items():
            match = ROUTER_RULE.match(key)
            if not match or "PathPrefix(`/oauth2/`)" in rule:
                continue  # oauth2-proxy's callback router: one path on every protected host
            for host in re.findall(r"Host\(`([^`]+)`\)", rule):
                routers.setdefault(host, []).append((match["router"], found))
    assert set(routers) == {f"{h}.sevensa.nl" for h in SEED_HOSTNAMES}
    for host, entries in routers.items():
        assert len(entries) == 1, host
        router, found = entries[0]
        assert found[f"traefik.http.routers.{router}.tls"] == "true"
        assert found[f"traefik.http.routers.{router}.tls.certresolver"] == "letsencrypt"
        assert found[f"traefik.http.routers.{router}.entrypoints"] == "websecure"


def test_non_public_routers_use_forward_auth(prod_plan: Planned) -> None:
    public = {"api.psra.sevensa.nl", "auth.sevensa.nl"}  # the API checks JWTs itself; Keycloak is the login
    for container in service_containers(prod_plan).values():
        found = labels(container)
        for key, rule in found.items():
            match = ROUTER_RULE.match(key)
            if not match or "/oauth2/" in rule:
                continue
            host = re.search(r"Host\(`([^`]+)`\)", rule)[1]
            middlewares = found[f"traefik.http.routers.{match['router']}.middlewares"].split(",")
            assert ("forward-auth@file" in middlewares) == (host not in public), host
            assert "security-headers@file" in middlewares and "rate-limit@file" in middlewares


def test_no_plaintext_secret_in_env_labels_or_secret_files(prod_plan: Planned) -> None:
    for name, container in prod_plan.containers().items():
        for key in envs(container):
            assert key == "<sealed>" or not SECRET_KEY_PATTERN.search(key) or key.endswith("_FILE"), f"{name}: {key}"
        for value in labels(container).values():
            assert isinstance(value, str), name
    for name in service_containers(prod_plan):
        for path, upload in uploaded_files(prod_plan, name).items():
            if path.startswith("/run/secrets/") or upload["permissions"] == "0400":
                assert is_secret(upload["content"]), f"{name}:{path}"


def test_secret_file_env_points_at_an_uploaded_secret(prod_plan: Planned) -> None:
    for name, container in service_containers(prod_plan).items():
        files = uploaded_files(prod_plan, name)
        for key, value in envs(container).items():
            if key.endswith("_FILE") and SECRET_KEY_PATTERN.search(key):
                assert value in files and is_secret(files[value]["content"]), f"{name}: {key}={value}"


def test_psra_web_pages_are_the_app_behind_forward_auth(prod_plan: Planned) -> None:
    """psra.<domain> serves the app's own web pages (no separate frontend image); oauth2-proxy passes the user's
    access token on (audience psra-api), which the app verifies like an API token."""
    containers = prod_plan.containers()
    assert "psra-frontend" not in containers
    found = labels(containers["psra-api"])
    routers = {found[key]: key.split(".")[3] for key in found if ROUTER_RULE.match(key)}
    web, api = routers["Host(`psra.sevensa.nl`)"], routers["Host(`api.psra.sevensa.nl`)"]
    assert "forward-auth@file" in found[f"traefik.http.routers.{web}.middlewares"].split(",")
    assert "forward-auth@file" not in found[f"traefik.http.routers.{api}.middlewares"].split(",")
    assert found[f"traefik.http.services.{web}.loadbalancer.server.port"] == "8000"
    assert envs(containers["psra-api"])["PSRA_PUBLIC_URL"] == "https://psra.sevensa.nl"
    proxy_config = render(
        "oauth2-proxy/oauth2-proxy.cfg.j2", realm="sevensa", port=4180, metrics_port=44180, client_id="oauth2-proxy", client_secret="s",
        cookie_secret="c", issuer_url="https://auth.sevensa.nl/realms/sevensa", backchannel_url="http://keycloak:8080/realms/sevensa", domain="sevensa.nl",
    )  # the plan holds it sealed (it carries the client secret)
    assert "pass_access_token = true" in proxy_config.splitlines()
    assert "- X-Auth-Request-Access-Token" in uploaded_files(prod_plan, "traefik")["/etc/traefik/dynamic/platform.yml"]["content"]
    (mapper,) = [r for r in prod_plan.of_type("keycloak:openid/audienceProtocolMapper:AudienceProtocolMapper") if r.name == "keycloak-realm-client-oauth2-proxy-audience"]
    assert mapper.inputs["includedCustomAudience"] == "psra-api"
