"""The spec from stack config: seed defaults, overrides, and every problem reported at once."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from infra.spec.load import build_spec, load_stack
from infra.spec.models import STACK_NAMES, TlsMode
from infra.spec.problems import SpecError
from tests.harness import BASE_CONFIG, spec_for

SEED_NETWORKS = {
    "traefik-net": ("172.20.0.0/24", False),
    "rentguy-net": ("172.20.1.0/24", True),
    "rentguy-db-net": ("172.20.2.0/24", True),
    "psra-net": ("172.20.3.0/24", True),
    "psra-db-net": ("172.20.4.0/24", True),
    "ai-net": ("172.20.7.0/24", True),
    "keycloak-net": ("172.20.8.0/24", True),
    "monitoring-net": ("172.20.9.0/24", True),
}
PEM = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n"
ACME = {"tls": "acme", "acmeCaServer": "https://pebble:14000/dir", "acmeCaCertificate": PEM}
SEED_HOSTS = {"psra", "api.psra", "rentguy", "wpcs", "n8n.ai", "grafana", "prometheus", "auth", "vault"}
SEED_MATRIX = {
    "psra-role": {"psra/database/credentials", "psra/api/keys", "psra/config/jwt-secret", "psra/database/redis-password", "sevensa/shared/smtp/credentials"},
    "rentguy-role": {"rentguy/database/credentials", "rentguy/config/client-secret", "rentguy/database/redis-password", "sevensa/shared/smtp/credentials"},
    "ai-role": {"ai/api-keys/openai", "ai/api-keys/anthropic", "ai/database/credentials", "sevensa/shared/api/slack-webhook"},
}


def problems_of(overrides: dict) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        build_spec({**BASE_CONFIG, **overrides}, stack_name="t", source="Pulumi.t.yaml")
    assert all(p.file == "Pulumi.t.yaml" for p in caught.value.problems)
    return {p.key: p.message for p in caught.value.problems}


def test_seed_networks_have_the_seeds_subnets_and_internal_flags() -> None:
    spec = spec_for()
    networks = {n.name: (str(n.subnet), n.internal) for n in spec.networks}
    assert {name: networks[name] for name in SEED_NETWORKS} == SEED_NETWORKS
    assert networks["shared-net"][1] is True


def test_every_seed_hostname_is_routed_under_the_domain() -> None:
    spec = spec_for({"domain": "example.org"})
    hosts = {route.host for svc in spec.services for route in svc.routes}
    assert hosts == {f"{h}.example.org" for h in SEED_HOSTS}


def test_realm_content_matches_the_seed() -> None:
    realm = spec_for().keycloak
    assert realm.realm == "sevensa"
    assert {c.client_id for c in realm.clients} == {"psra-client", "rentguy-client", "wpcs-client", "ai-client", "bao-oidc", "oauth2-proxy"}
    assert set(realm.roles) == {"admin", "psra-admin", "psra-user", "rentguy-admin", "rentguy-user"}
    groups = {g.name: set(g.roles) for g in realm.groups}
    assert groups["PSRA Administrators"] == {"psra-admin", "psra-user"}
    assert groups["Administrators"] == {"admin"}
    assert groups["PSRA Users"] == {"psra-user"}


def test_access_matrix_is_the_seeds() -> None:
    roles = {r.name: set(r.secret_paths) for r in spec_for().openbao.approles}
    for role, paths in SEED_MATRIX.items():
        assert roles[role] == paths


def test_secret_paths_map_to_namespaces_and_kv_v2_acl_paths() -> None:
    paths = {p.seed_path: p for p in spec_for().openbao.secret_paths}
    assert paths["psra/database/credentials"].acl_path == "psra/kv/data/database/credentials"
    assert paths["sevensa/shared/smtp/credentials"].acl_path == "sevensa/data/shared/smtp/credentials"
    assert paths["psra/transit/psra-key"].acl_path == "psra/transit/encrypt/psra-key"


def test_defaults_and_overrides() -> None:
    spec = spec_for({"stacks": ["core", "psra"], "tls": "self-signed", "imageOverrides": {"traefik": "traefik:v3.5.4"}})
    assert spec.stacks == ("core", "psra")
    assert spec.tls is TlsMode.SELF_SIGNED
    assert next(s for s in spec.services if s.name == "traefik").image == "traefik:v3.5.4"
    assert spec_for().stacks == STACK_NAMES
    assert spec_for().backup.schedule == "0 2 * * *"


def test_network_override_merges_by_name_and_adds_new_ones() -> None:
    spec = spec_for({"networks": [{"name": "psra-net", "purpose": "changed"}, {"name": "extra-net", "subnet": "10.9.0.0/24", "internal": True, "purpose": "x"}]})
    assert spec.network("psra-net").purpose == "changed"
    assert spec.network("psra-net").subnet == ipaddress.IPv4Network("172.20.3.0/24")
    assert spec.network("extra-net").internal is True


def test_all_problems_are_reported_with_their_keys() -> None:
    problems = problems_of(
        {
            "domain": "Not A Domain",
            "stacks": ["core", "psra", "blockchain"],
            "networks": [{"name": "extra", "subnet": "172.20.3.128/25", "internal": True, "purpose": "x"}],
        }
    )
    assert set(problems) == {"platform:domain", "platform:stacks[2]", "platform:networks[0].subnet"}
    assert "DNS name" in problems["platform:domain"]
    assert "core, security, psra" in problems["platform:stacks[2]"]
    assert "psra-net" in problems["platform:networks[0].subnet"]


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"acmeEmail": "not-an-email"}, "platform:acmeEmail", "e-mail"),
        ({"dockerHost": "http://x"}, "platform:dockerHost", "ssh://user@host"),
        ({"tls": "plaintext"}, "platform:tls", "letsencrypt"),
        ({"stacks": ["core", "core"]}, "platform:stacks[1]", "duplicate"),
        ({"stacks": ["psra"]}, "platform:stacks", "'core' is required"),
        ({"networks": [{"name": "x-net", "subnet": "8.8.8.0/24", "internal": True, "purpose": "p"}]}, "platform:networks[0].subnet", "private ranges"),
        ({"networks": [{"name": "x-net", "subnet": "10.0.0.0/30", "internal": True, "purpose": "p"}]}, "platform:networks[0].subnet", "prefix /30"),
        ({"networks": [{"name": "x", "subnet": "10.1.0.0/24"}]}, "platform:networks[0].internal", "required"),
        ({"networks": [{"name": "a", "subnet": "10.1.0.0/24", "internal": True, "purpose": "p"}, {"name": "a", "subnet": "10.2.0.0/24", "internal": True, "purpose": "p"}]}, "platform:networks[1].name", "duplicate"),
        ({"services": {"psra-api": {"networks": ["psra-net", "nowhere-net"]}}}, "platform:services.psra-api.networks[1]", "unknown network 'nowhere-net'"),
        ({"services": {"psra-api": {"networks": ["psra-net", "traefik-net"]}}}, "platform:services.psra-api.networks[1]", "egress"),
        ({"imageOverrides": {"traefik": "traefik:latest"}}, "platform:imageOverrides.traefik", "latest"),
        ({"imageOverrides": {"traefik": "traefik"}}, "platform:imageOverrides.traefik", "no tag"),
        ({"imageOverrides": {"nginx": "nginx:1.27.0"}}, "platform:imageOverrides.nginx", "unknown service"),
        ({"services": {"psra-api": {"image": "ghcr.io/sevensa/psra-api:latest"}}}, "platform:services.psra-api.image", "latest"),
        ({"services": {"rentguy-frontend": {"routes": [{"host": "psra.evil.com", "service_port": 3000}]}}}, "platform:services.rentguy-frontend.routes[0].host", "outside the domain"),
        ({"services": {"psra-api": {"env": {"DB_PASSWORD": "hunter2"}}}}, "platform:services.psra-api.env", "looks secret"),
        ({"secretGrants": {"psra-role": ["psra/database/credentials", "rentguy/vault/everything"]}}, "platform:secretGrants.psra-role[1]", "not in the secrets matrix"),
        ({"secretGrants": {"ghost-role": []}}, "platform:secretGrants.ghost-role", "unknown AppRole"),
        ({"backup": {"retention": {"postgres": {"local_days": 0}}}}, "platform:backup.retention.postgres.local_days", "greater than or equal to 1"),
        ({"backup": {"schedule": "61 * * * *"}}, "platform:backup.schedule", "must be a five-field cron expression"),
        ({"surprise": 1}, "platform:surprise", "unknown key"),
        ({"acmeIssuerCertificate": PEM}, "platform:acmeIssuerCertificate", "only used with tls: acme"),
        (ACME | {"acmeIssuerCertificate": "not a certificate"}, "platform:acmeIssuerCertificate", "must be one PEM certificate"),
        (ACME | {"acmeIssuerCertificate": PEM * 2}, "platform:acmeIssuerCertificate", "must be one PEM certificate"),
        ({"networks": [{"name": "Bad_Net", "subnet": "10.1.0.0/24", "internal": True, "purpose": "p"}]}, "platform:networks[0].name", "lower-case letters"),
    ],
)
def test_each_invalid_value_is_named(overrides: dict, key: str, fragment: str) -> None:
    problems = problems_of(overrides)
    assert key in problems, problems
    assert fragment in problems[key]


def test_the_acme_issuer_root_is_optional_with_tls_acme() -> None:
    assert spec_for(ACME).acme_issuer_certificate is None
    assert spec_for(ACME | {"acmeIssuerCertificate": PEM}).acme_issuer_certificate == PEM


def test_missing_required_keys() -> None:
    with pytest.raises(SpecError) as caught:
        build_spec({}, stack_name="t", source="Pulumi.t.yaml")
    assert {p.key for p in caught.value.problems} >= {"platform:domain", "platform:acmeEmail", "platform:dockerHost"}


def test_stack_files_of_the_repo_are_valid() -> None:
    prod, dev = load_stack("prod"), load_stack("dev")
    assert (prod.domain, prod.docker_host, prod.tls) == ("sevensa.nl", "ssh://deploy@147.93.57.40", TlsMode.LETSENCRYPT)
    assert (dev.domain, dev.docker_host, dev.tls) == ("localhost", "unix:///var/run/docker.sock", TlsMode.SELF_SIGNED)
    assert prod.stacks == dev.stacks == STACK_NAMES


def test_missing_stack_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_stack("nope", tmp_path)
    assert "stack file not found" in str(caught.value)
