"""The Keycloak realm and server in the offline prod plan (values, not existence)."""

from __future__ import annotations

import pytest

from components.keycloak_realm import RealmSpecError, otp_condition_roles, redirect_uris
from infra.plan.document import SECRET_SIG, ExportedResource
from infra.spec.models import KeycloakClientSpec, KeycloakGroupSpec
from tests.harness import Planned, spec_for
from tests.components.platform_helpers import envs, labels, service_containers, uploaded_files

SPEC = spec_for(stack="prod")
REALM = SPEC.keycloak


def sealed(value: object) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


def planned_ids(plan: Planned) -> dict[str, str]:
    """Planned id -> resource name, to follow references between resources."""
    return {entry.get("id", ""): entry["urn"].rsplit("::", 1)[-1] for entry in plan.document["deployment"]["resources"]}


def by(plan: Planned, type_: str, key: str) -> dict[str, ExportedResource]:
    return {r.inputs[key]: r for r in plan.of_type(type_)}


def test_realm_hardening(prod_plan: Planned) -> None:
    (realm,) = prod_plan.of_type("keycloak:index/realm:Realm")
    inputs = realm.inputs
    assert (inputs["realm"], inputs["sslRequired"], inputs["enabled"]) == ("sevensa", "external", True)
    assert inputs["passwordPolicy"] == "length(12) and notUsername and notEmail and passwordHistory(5)"
    assert (inputs["accessTokenLifespan"], inputs["ssoSessionIdleTimeout"], inputs["ssoSessionMaxLifespan"]) == ("300s", "1800s", "36000s")
    assert (inputs["revokeRefreshToken"], inputs["refreshTokenMaxReuse"]) == (True, 0)
    assert (inputs["registrationAllowed"], inputs["rememberMe"], inputs["editUsernameAllowed"]) == (False, False, False)
    brute = inputs["securityDefenses"]["bruteForceDetection"]
    assert (brute["maxLoginFailures"], brute["permanentLockout"], brute["maxFailureWaitSeconds"]) == (5, False, 900)
    assert inputs["securityDefenses"]["headers"]["strictTransportSecurity"] == "max-age=31536000; includeSubDomains"
    assert inputs["otpPolicy"] == {"type": "totp", "algorithm": "HmacSHA1", "digits": 6, "period": 30, "lookAheadWindow": 1}


def test_roles_and_group_role_mappings(prod_plan: Planned) -> None:
    names = planned_ids(prod_plan)
    assert sorted(by(prod_plan, "keycloak:index/role:Role", "name")) == sorted(REALM.roles)
    groups = by(prod_plan, "keycloak:index/group:Group", "name")
    assert sorted(groups) == sorted(g.name for g in REALM.groups)
    role_names = {f"keycloak-realm-role-{role}": role for role in REALM.roles}
    mapped = {
        names[m.inputs["groupId"]]: sorted(role_names[names[role_id]] for role_id in m.inputs["roleIds"])
        for m in prod_plan.of_type("keycloak:index/groupRoles:GroupRoles")
    }
    assert mapped == {
        "keycloak-realm-group-administrators": ["admin"],
        "keycloak-realm-group-psra-administrators": ["psra-admin", "psra-user"],
        "keycloak-realm-group-psra-users": ["psra-user"],
        "keycloak-realm-group-rentguy-administrators": ["rentguy-admin", "rentguy-user"],
    }
    assert all(m.inputs["exhaustive"] is True for m in prod_plan.of_type("keycloak:index/groupRoles:GroupRoles"))


@pytest.mark.parametrize("client", REALM.clients, ids=lambda c: c.client_id)
def test_clients_are_confidential_pkce_and_exact(prod_plan: Planned, client: KeycloakClientSpec) -> None:
    planned = by(prod_plan, "keycloak:openid/client:Client", "clientId")[client.client_id].inputs
    assert (planned["accessType"], planned["pkceCodeChallengeMethod"], planned["standardFlowEnabled"]) == ("CONFIDENTIAL", "S256", True)
    for switch in ("implicitFlowEnabled", "directAccessGrantsEnabled", "serviceAccountsEnabled", "fullScopeAllowed", "oauth2DeviceAuthorizationGrantEnabled"):
        assert planned[switch] is False, switch
    expected = sorted(f"https://{host}{path}" for host in client.redirect_hosts for path in client.redirect_paths)
    assert sorted(planned["validRedirectUris"]) == expected
    assert all("*" not in uri and "localhost" not in uri for uri in planned["validRedirectUris"] + planned["webOrigins"])
    assert sorted(planned["webOrigins"]) == sorted(f"https://{host}" for host in client.redirect_hosts)
    assert sealed(planned["clientSecret"])


def test_oauth2_proxy_client_uses_the_secret_core_generated(prod_plan: Planned) -> None:
    randoms = {r.name for r in prod_plan.of_type("random:index/randomPassword:RandomPassword")}
    assert "oauth2-proxy-client-secret" in randoms
    assert "keycloak-realm-client-oauth2-proxy-secret" not in randoms
    assert {f"keycloak-realm-client-{c.client_id}-secret" for c in REALM.clients if c.client_id != "oauth2-proxy"} <= randoms


@pytest.mark.parametrize("client", REALM.clients, ids=lambda c: c.client_id)
def test_tokens_carry_scoped_roles_groups_and_audience(prod_plan: Planned, client: KeycloakClientSpec) -> None:
    names = planned_ids(prod_plan)
    client_name = f"keycloak-realm-client-{client.client_id}"
    scoped = sorted(
        names[m.inputs["roleId"]].removeprefix("keycloak-realm-role-")
        for m in prod_plan.of_type("keycloak:index/genericRoleMapper:GenericRoleMapper")
        if names[m.inputs["clientId"]] == client_name
    )
    assert scoped == sorted(client.roles)

    def mappers(type_: str) -> list[dict]:
        return [m.inputs for m in prod_plan.of_type(type_) if names[m.inputs["clientId"]] == client_name]

    (roles,) = mappers("keycloak:openid/userRealmRoleProtocolMapper:UserRealmRoleProtocolMapper")
    assert (roles["claimName"], roles["multivalued"], roles["addToAccessToken"]) == ("roles", True, True)
    (groups,) = mappers("keycloak:openid/groupMembershipProtocolMapper:GroupMembershipProtocolMapper")
    assert (groups["claimName"], groups["fullPath"], groups["addToAccessToken"], groups["addToIdToken"]) == ("groups", False, True, True)
    audiences = [m["includedCustomAudience"] for m in mappers("keycloak:openid/audienceProtocolMapper:AudienceProtocolMapper")]
    assert audiences == ([client.audience] if client.audience else [])


def test_browser_flow_demands_otp_from_the_admin_groups(prod_plan: Planned) -> None:
    names = planned_ids(prod_plan)
    configs = {
        names[c.inputs["executionId"]]: c.inputs["config"]
        for c in prod_plan.of_type("keycloak:authentication/executionConfig:ExecutionConfig")
    }
    assert configs == {
        "keycloak-realm-browser-otp-administrators-condition": {"condUserRole": "admin", "negate": "false"},
        "keycloak-realm-browser-otp-psra-administrators-condition": {"condUserRole": "psra-admin", "negate": "false"},
    }
    executions = {e.name: e.inputs for e in prod_plan.of_type("keycloak:authentication/execution:Execution")}
    for group in ("administrators", "psra-administrators"):
        form = executions[f"keycloak-realm-browser-otp-{group}-form"]
        assert (form["authenticator"], form["requirement"]) == ("auth-otp-form", "REQUIRED")
    subflows = {s.name: s.inputs for s in prod_plan.of_type("keycloak:authentication/subflow:Subflow")}
    assert subflows["keycloak-realm-browser-otp-administrators"]["requirement"] == "CONDITIONAL"
    assert executions["keycloak-realm-browser-password"]["requirement"] == "REQUIRED"
    (binding,) = prod_plan.of_type("keycloak:authentication/bindings:Bindings")
    assert binding.inputs["browserFlow"] == "sevensa-browser"


def test_login_and_admin_events_expire(prod_plan: Planned) -> None:
    (events,) = prod_plan.of_type("keycloak:index/realmEvents:RealmEvents")
    assert events.inputs == {
        "realmId": events.inputs["realmId"],
        "eventsEnabled": True,
        "eventsExpiration": 7_776_000,
        "adminEventsEnabled": True,
        "adminEventsDetailsEnabled": False,
        "eventsListeners": ["jboss-logging"],
    }


def test_keycloak_provider_logs_in_with_the_generated_bootstrap_admin(prod_plan: Planned) -> None:
    (provider,) = prod_plan.of_type("pulumi:providers:keycloak")
    assert (provider.inputs["url"], provider.inputs["username"], provider.inputs["clientId"]) == ("http://172.20.8.10:8080", "platform-admin", "admin-cli")
    assert sealed(provider.inputs["password"]) and provider.inputs["initialLogin"] == "false"
    realm = prod_plan.of_type("keycloak:index/realm:Realm")[0]
    assert realm.provider.startswith(provider.urn)


def test_keycloak_container_behind_traefik_only_on_realm_paths(prod_plan: Planned) -> None:
    container = service_containers(prod_plan)["keycloak"]
    env = envs(container)
    assert env["KC_HOSTNAME"] == "https://auth.sevensa.nl"
    assert (env["KC_PROXY_HEADERS"], env["KC_PROXY_TRUSTED_ADDRESSES"]) == ("xforwarded", "172.20.8.2/32")
    assert (env["KC_HEALTH_ENABLED"], env["KC_METRICS_ENABLED"], env["KC_HTTP_MANAGEMENT_PORT"]) == ("true", "true", "9000")
    assert env["KC_DB_URL"] == "jdbc:postgresql://keycloak-db:5432/keycloak" and env["KC_DB"] == "postgres"
    assert not [key for key in env if "PASSWORD" in key], "no password in env"
    config = uploaded_files(prod_plan, "keycloak")["/opt/keycloak/conf/keycloak.conf"]
    assert sealed(config["content"]) and config["permissions"] == "0400" and config["owner"] == "1000"
    rule = labels(container)["traefik.http.routers.keycloak.rule"]
    assert rule == "Host(`auth.sevensa.nl`) && (PathPrefix(`/realms/sevensa`) || PathPrefix(`/resources`) || PathPrefix(`/.well-known`))"
    assert "/admin" not in rule and "9000" not in str(labels(container))
    # bash by name: the probe uses bash's /dev/tcp, and /bin/sh is dash on Debian-based images (found by the lab)
    assert container.inputs["healthcheck"]["tests"][:3] == ["CMD", "bash", "-c"] and "/health/ready" in container.inputs["healthcheck"]["tests"][3]


def test_otp_groups_need_a_role_no_relaxed_group_grants() -> None:
    leaky = REALM.model_copy(
        update={"groups": (KeycloakGroupSpec(name="Ops", roles=("psra-user",), otp_required=True), KeycloakGroupSpec(name="Users", roles=("psra-user",)))}
    )
    with pytest.raises(RealmSpecError, match="'Ops' requires OTP"):
        otp_condition_roles(leaky)
    assert otp_condition_roles(REALM) == {"Administrators": "admin", "PSRA Administrators": "psra-admin"}


def test_wildcard_redirects_are_refused() -> None:
    client = KeycloakClientSpec(client_id="x-client", description="x", redirect_hosts=("app.sevensa.nl",), redirect_paths=("/cb/*",))
    with pytest.raises(RealmSpecError, match="wildcard"):
        redirect_uris(client)
