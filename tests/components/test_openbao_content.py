"""OpenBao in the offline prod plan: server container, namespaces, engines, secrets, auth."""

from __future__ import annotations

import json


import pytest

from components.openbao_auth import approle_cidrs
from infra.plan.document import SECRET_SIG, ExportedResource, is_secret
from infra.spec.models import SecretPathSpec
from infra.spec.openbao_policy import admin_policy, approle_policies
from tests.harness import Planned, plan_config, spec_for
from tests.components.platform_helpers import envs, file_content, labels, service_containers

SPEC = spec_for(stack="prod")
KV_PATHS = [p for p in SPEC.openbao.secret_paths if p.engine == "kv-v2"]


def sealed(value: object) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value and "ciphertext" in value


def namespace_of(plan: Planned, resource: ExportedResource) -> str:
    provider_urn = resource.provider.rsplit("::", 1)[0]
    provider = next(r for r in plan.of_type("pulumi:providers:vault") if r.urn == provider_urn)
    return provider.inputs.get("namespace", "")


def by_input(plan: Planned, type_: str, key: str) -> dict[str, ExportedResource]:
    return {r.inputs[key]: r for r in plan.of_type(type_)}


def test_one_explicit_provider_per_namespace(prod_plan: Planned) -> None:
    providers = prod_plan.of_type("pulumi:providers:vault")
    assert sorted(p.inputs.get("namespace", "") for p in providers) == ["", *sorted(SPEC.openbao.namespaces)]
    assert {p.inputs["address"] for p in providers} == {"http://172.20.10.10:8200"}
    # no token: each provider logs in as the provisioner AppRole, whose credentials are secrets
    assert all("token" not in p.inputs and sealed(p.inputs["authLogin"]) for p in providers)
    assert sorted(r.inputs["path"] for r in prod_plan.of_type("vault:index/namespace:Namespace")) == sorted(SPEC.openbao.namespaces)
    for resource in prod_plan.resources:
        if resource.custom and resource.type.startswith("vault:"):
            assert resource.provider, f"{resource.urn} uses a default provider"


def test_no_api_created_audit_device(prod_plan: Planned) -> None:
    assert prod_plan.of_type("vault:index/audit:Audit") == []


@pytest.mark.parametrize("path", KV_PATHS, ids=lambda p: p.seed_path)
def test_every_matrix_path_is_a_kv_v2_secret_in_its_namespace(prod_plan: Planned, path: SecretPathSpec) -> None:
    secrets = {(namespace_of(prod_plan, r), r.inputs["mount"], r.inputs["name"]): r for r in prod_plan.of_type("vault:kv/secretV2:SecretV2")}
    secret = secrets[(path.namespace, path.mount, path.key)]
    assert sealed(secret.inputs["dataJson"])
    assert secret.inputs["disableRead"] is (path.source == "operator")
    assert secret.inputs["customMetadata"]["data"] == {"seed_path": path.seed_path, "source": path.source, "description": path.description}
    assert len(secrets) == len(KV_PATHS)


def test_kv_mounts_are_version_2_per_namespace(prod_plan: Planned) -> None:
    mounts = [(namespace_of(prod_plan, m), m.inputs["path"]) for m in prod_plan.of_type("vault:index/mount:Mount") if m.inputs["type"] == "kv"]
    assert sorted(mounts) == [("", "sevensa"), ("ai", "kv"), ("psra", "kv"), ("rentguy", "kv"), ("wpcs", "kv")]
    assert all(m.inputs["options"] == {"version": "2"} for m in prod_plan.of_type("vault:index/mount:Mount") if m.inputs["type"] == "kv")


def test_transit_keys_cannot_be_exported_or_deleted(prod_plan: Planned) -> None:
    keys = prod_plan.of_type("vault:transit/secretBackendKey:SecretBackendKey")
    assert sorted((namespace_of(prod_plan, k), k.inputs["name"]) for k in keys) == [("psra", "psra-key"), ("rentguy", "rentguy-key")]
    for key in keys:
        assert (key.inputs["exportable"], key.inputs["deletionAllowed"], key.inputs["allowPlaintextBackup"]) == (False, False, False)
        assert key.inputs["type"] == "aes256-gcm96"


def test_database_engine_for_psra_has_bounded_ttls(prod_plan: Planned) -> None:
    (mount,) = prod_plan.of_type("vault:database/secretsMount:SecretsMount")
    assert namespace_of(prod_plan, mount) == "psra"
    assert (mount.inputs["defaultLeaseTtlSeconds"], mount.inputs["maxLeaseTtlSeconds"]) == (3600, 14400)
    (connection,) = mount.inputs["postgresqls"]
    assert connection["connectionUrl"] == "postgresql://{{username}}:{{password}}@psra-db:5432/psra_production?sslmode=disable"
    assert connection["username"] == "postgres" and sealed(connection["password"])
    assert connection["allowedRoles"] == ["psra-app"] and connection["verifyConnection"] is True
    (role,) = prod_plan.of_type("vault:database/secretBackendRole:SecretBackendRole")
    assert (role.inputs["name"], role.inputs["defaultTtl"], role.inputs["maxTtl"]) == ("psra-app", 3600, 14400)
    assert "VALID UNTIL '{{expiration}}'" in role.inputs["creationStatements"][0]
    assert role.inputs["revocationStatements"][-1] == 'DROP ROLE IF EXISTS "{{name}}";'


def test_pki_is_a_ten_year_internal_ca_with_a_constrained_role(prod_plan: Planned) -> None:
    mount = next(m for m in prod_plan.of_type("vault:index/mount:Mount") if m.inputs["type"] == "pki")
    assert mount.inputs["maxLeaseTtlSeconds"] == 315_360_000 and namespace_of(prod_plan, mount) == ""
    (root,) = prod_plan.of_type("vault:pkiSecret/secretBackendRootCert:SecretBackendRootCert")
    assert (root.inputs["type"], root.inputs["ttl"], root.inputs["permittedDnsDomains"]) == ("internal", "315360000", ["sevensa.nl"])
    (role,) = prod_plan.of_type("vault:pkiSecret/secretBackendRole:SecretBackendRole")
    assert role.inputs["allowedDomains"] == ["sevensa.nl"] and role.inputs["allowSubdomains"] is True
    for switch in ("allowAnyName", "allowGlobDomains", "allowWildcardCertificates", "allowLocalhost", "allowIpSans", "allowBareDomains"):
        assert role.inputs[switch] is False, switch
    assert (role.inputs["ttl"], role.inputs["maxTtl"]) == ("86400", "2592000")


def test_policies_are_the_generated_ones_in_the_root_namespace(prod_plan: Planned) -> None:
    policies = by_input(prod_plan, "vault:index/policy:Policy", "name")
    expected = approle_policies(SPEC.openbao) | {"admin": admin_policy(SPEC.openbao)}
    assert {name: p.inputs["policy"] for name, p in policies.items()} == expected
    assert all(namespace_of(prod_plan, p) == "" for p in policies.values())


@pytest.mark.parametrize("role", SPEC.openbao.approles, ids=lambda r: r.name)
def test_approles_are_bound_to_their_services_addresses(prod_plan: Planned, role) -> None:
    planned = by_input(prod_plan, "vault:appRole/authBackendRole:AuthBackendRole", "roleName")[role.name]
    addresses = sorted(f"{s.ipv4_addresses['shared-net']}/32" for s in SPEC.services if s.name in role.services)
    assert sorted(planned.inputs["tokenBoundCidrs"]) == addresses == sorted(planned.inputs["secretIdBoundCidrs"])
    assert planned.inputs["tokenPolicies"] == [role.name]
    assert (planned.inputs["tokenTtl"], planned.inputs["tokenMaxTtl"], planned.inputs["secretIdTtl"]) == (3600, 14400, role.secret_id_ttl_seconds)
    assert role.secret_id_ttl_seconds == (7_776_000 if role.name == "backup-role" else 86_400)  # backup logs in for every job
    assert planned.inputs["bindSecretId"] is True and planned.inputs["tokenType"] == "service"
    secret_id = by_input(prod_plan, "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId", "roleName")[role.name]
    assert sorted(secret_id.inputs["cidrLists"]) == addresses


def test_an_approle_service_without_a_fixed_address_is_refused() -> None:
    role = SPEC.openbao.approles[0]
    services = tuple(s.model_copy(update={"ipv4_addresses": {}}) if s.name in role.services else s for s in SPEC.services)
    with pytest.raises(ValueError, match="no fixed address on shared-net"):
        approle_cidrs(role, services, ("shared-net",))


def test_the_database_connection_waits_for_its_data_store(prod_plan: Planned) -> None:
    """OpenBao verifies the connection when it is written: without the dependency a first `up`
    raced the PostgreSQL container (found by the live lab)."""
    (mount,) = prod_plan.of_type("vault:database/secretsMount:SecretsMount")
    psra_db = prod_plan.get("docker:index/container:Container", "psra-db-container")
    assert psra_db.urn in mount.dependencies


def test_the_oidc_method_waits_for_the_realm_and_the_issuers_route(prod_plan: Planned) -> None:
    """OpenBao fetches the issuer's discovery document when the method is written: it must come
    after every realm resource and after the containers the public issuer goes through."""
    (backend,) = prod_plan.of_type("vault:jwt/authBackend:AuthBackend")
    realm_resources = {r.urn for r in prod_plan.resources if r.custom and r.type.startswith("keycloak:") and r.type != "pulumi:providers:keycloak"}
    assert realm_resources and realm_resources <= set(backend.dependencies)
    edge = {prod_plan.get("docker:index/container:Container", name).urn for name in ("traefik-traefik-container", "keycloak-container")}
    assert edge <= set(backend.dependencies)


def test_a_private_acme_root_is_what_openbao_and_the_app_trust_for_the_issuer() -> None:
    """With a private ACME CA (the lab's Pebble), OpenBao's OIDC discovery and the app's token
    checks reach the issuer under a root no public store holds: the plan gives it to both."""
    pem = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n"
    acme = {"tls": "acme", "acmeCaServer": "https://pebble:14000/dir", "acmeCaCertificate": pem}
    private = plan_config(acme | {"acmeIssuerCertificate": pem, "stacks": ["core", "security", "psra"]})
    (backend,) = private.of_type("vault:jwt/authBackend:AuthBackend")
    assert backend.inputs["oidcDiscoveryCaPem"] == pem
    api = private.containers()["psra-api"]
    assert "SSL_CERT_FILE=/etc/platform-ca/acme-issuer.pem" in api.inputs["envs"]
    assert file_content(private, "psra-api", "/etc/platform-ca/acme-issuer.pem") == pem
    public = plan_config(acme | {"stacks": ["core", "security", "psra"]})
    (backend,) = public.of_type("vault:jwt/authBackend:AuthBackend")
    assert "oidcDiscoveryCaPem" not in backend.inputs
    assert not any(env.startswith("SSL_CERT_FILE=") for env in public.containers()["psra-api"].inputs["envs"])


def test_oidc_login_maps_only_the_admin_group_to_the_admin_policy(prod_plan: Planned) -> None:
    (backend,) = prod_plan.of_type("vault:jwt/authBackend:AuthBackend")
    assert backend.inputs["oidcDiscoveryUrl"] == "https://auth.sevensa.nl/realms/sevensa" == backend.inputs["boundIssuer"]
    assert backend.inputs["oidcClientId"] == "bao-oidc" and sealed(backend.inputs["oidcClientSecret"])
    roles = by_input(prod_plan, "vault:jwt/authBackendRole:AuthBackendRole", "roleName")
    assert sorted(roles) == ["admin", "admin-jwt"]
    for role in roles.values():
        assert role.inputs["boundClaims"] == {"groups": "Administrators"}
        assert role.inputs["boundAudiences"] == ["bao-oidc"] and role.inputs["userClaim"] == "sub"
        assert role.inputs["tokenPolicies"] == ["admin"] and role.inputs["tokenMaxTtl"] == 14400
    assert roles["admin"].inputs["allowedRedirectUris"] == ["https://vault.sevensa.nl/ui/vault/auth/oidc/oidc/callback"]


def test_break_glass_is_one_userpass_admin_with_a_sealed_password(prod_plan: Planned) -> None:
    (user,) = prod_plan.of_type("vault:index/userpassAuthBackendUser:UserpassAuthBackendUser")
    assert (user.inputs["username"], user.inputs["tokenPolicies"]) == ("breakglass", ["admin"])
    assert sealed(user.inputs["passwordWo"])
    outputs = prod_plan.document["deployment"]["resources"][0].get("outputs", {})
    assert is_secret(outputs.get("openbao_break_glass_password")) or sealed(outputs.get("openbao_break_glass_password"))


def test_openbao_container_runs_the_rendered_config(prod_plan: Planned) -> None:
    container = service_containers(prod_plan)["openbao"]
    assert container.inputs["command"] == ["server"] and container.inputs["user"] == "100" and container.inputs["readOnly"] is True
    assert {n["name"] for n in container.inputs["networksAdvanced"]} == {"shared-net", "psra-db-net"}
    assert "ports" not in container.inputs or not container.inputs["ports"]
    config = file_content(prod_plan, "openbao", "/openbao/config/openbao.hcl")
    assert 'storage "raft" {\n  path    = "/openbao/data"' in config
    assert 'audit "file" "file" {' in config and 'file_path = "/openbao/audit/audit.log"' in config
    assert 'api_addr     = "https://vault.sevensa.nl"' in config and "telemetry {" in config
    assert labels(container)["traefik.http.routers.openbao.rule"] == "Host(`vault.sevensa.nl`)"
    assert not any(k.upper().startswith(("BAO_TOKEN", "VAULT_TOKEN")) for k in envs(container))


def test_approle_credentials_are_published_for_the_apps() -> None:
    from stacks.context import (
        PlatformContext,  # noqa: F401 - the contract below is stacks/apps.py's
    )
    from tests.harness import plan_function

    published: dict[str, object] = {}

    def program() -> None:
        import pulumi_docker as docker

        from components.network import NetworksArgs, PlatformNetworks
        from stacks import core, security

        spec = spec_for()
        provider = docker.Provider("docker", host=spec.docker_host)
        networks = PlatformNetworks("networks", NetworksArgs(networks=spec.networks, stack="test"))
        context = PlatformContext(spec=spec, docker_provider=provider, networks=networks)
        core.build(context)
        security.build(context)
        published.update(context.shared)

    plan_function(program)
    credentials = published["approle_credentials"]
    assert sorted(credentials) == sorted(r.name for r in SPEC.openbao.approles)
    assert all(set(entry) == {"role_id", "secret_id"} for entry in credentials.values())
    assert sorted(published["keycloak_client_secrets"]) == sorted(c.client_id for c in SPEC.keycloak.clients)


def test_the_offline_plan_does_not_wait_for_servers(prod_plan: Planned) -> None:
    providers = prod_plan.of_type("pulumi:providers:keycloak") + prod_plan.of_type("pulumi:providers:vault")
    assert {p.inputs.get("url") or p.inputs.get("address") for p in providers} == {"http://172.20.8.10:8080", "http://172.20.10.10:8200"}


def _plain_stand_ins(value: object, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in _plain_stand_ins(item, (*path, str(key)))]
    if isinstance(value, list):
        return [hit for index, item in enumerate(value) for hit in _plain_stand_ins(item, (*path, str(index)))]
    return [path] if isinstance(value, str) and ("mock-" in value or "offline-plan-token" in value) else []


def test_kv_values_are_never_plain_in_the_export(prod_plan: Planned) -> None:
    """Every generated value is sealed, except an AppRole's role id: the vault provider reads it
    back from OpenBao and does not mark it secret (it names the role; the secret id is the secret)."""
    plain = [hit for resource in prod_plan.resources for hit in _plain_stand_ins(resource.outputs, (resource.type, "outputs"))]
    plain += [hit for resource in prod_plan.resources for hit in _plain_stand_ins(resource.inputs, (resource.type, "inputs"))]
    assert set(plain) == {("vault:appRole/authBackendRole:AuthBackendRole", "outputs", "roleId")}
    assert len(plain) == len(SPEC.openbao.approles)


def test_paths_of_disabled_stacks_keep_placeholders_and_no_database_engine() -> None:
    from tests.harness import plan_config

    plan = plan_config({"stacks": ["core", "security"]})
    assert len(plan.of_type("vault:kv/secretV2:SecretV2")) == len(KV_PATHS)
    assert plan.of_type("vault:database/secretsMount:SecretsMount") == []
    assert len(plan.of_type("vault:appRole/authBackendRole:AuthBackendRole")) == len(SPEC.openbao.approles)


def test_each_approle_client_reaches_openbao_over_the_network_its_binding_names(prod_plan: Planned) -> None:
    """The name `openbao` resolved to OpenBao's psra-db-net address for psra-api, whose login then came
    from psra-api's psra-db-net address and was refused by the shared-net CIDR binding (found in the lab)."""
    containers = prod_plan.containers()
    for role in SPEC.openbao.approles:
        for service in role.services:
            if service not in containers:
                continue
            addresses = [value for key, value in envs(containers[service]).items() if key.endswith("OPENBAO_ADDR")]
            if service == "backup":  # its job configuration carries the address
                addresses = [json.loads(file_content(prod_plan, "backup", "/etc/backup/backup.json"))["openbao"]["address"]]
            assert addresses == ["http://172.20.10.10:8200"], service
            service_spec = next(s for s in SPEC.services if s.name == service)
            assert f"{service_spec.ipv4_addresses['shared-net']}/32" in approle_cidrs(role, SPEC.services, ("shared-net", "psra-db-net"))
