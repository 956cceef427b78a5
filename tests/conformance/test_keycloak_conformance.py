"""The realm of the prod plan, applied to a real Keycloak, issues exactly the tokens it should.

Every token comes from the real authorization-code + PKCE flow of the declared client,
driving Keycloak's login form over HTTP (password grant and implicit flow stay off). Users of
`Administrators` and `PSRA Administrators` must enrol and present OTP; the tests do so with
RFC 6238 codes, the hardening stays on.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

import httpx
import pytest

from infra.ops.oidc_login import (
    LoginFailed,
    OidcClient,
    OtpDevice,
    browser,
    claims,
    forms,
    pkce_pair,
)
from tests.conformance.conftest import SecurityServers
from tests.harness import spec_for

pytestmark = pytest.mark.servers

SPEC = spec_for(stack="prod")
CLIENTS = {client.client_id: client for client in SPEC.keycloak.clients}


@dataclass
class User:
    username: str
    password: str
    otp: OtpDevice = field(default_factory=OtpDevice)


@pytest.fixture(scope="module")
def realm_admin(security_servers: SecurityServers, conformance_keycloak):
    admin = conformance_keycloak.admin()
    admin.change_current_realm(security_servers.keycloak.realm)
    return admin


@pytest.fixture(scope="module")
def make_user(realm_admin, security_servers: SecurityServers):
    def make(name: str, group: str | None) -> User:
        user = User(username=f"{name}-{secrets.token_hex(3)}", password=secrets.token_urlsafe(18))
        user_id = realm_admin.create_user(
            {
                "username": user.username,
                "enabled": True,
                "email": f"{user.username}@example.org",
                "emailVerified": True,
                "firstName": name.title(),
                "lastName": "Conformance",
                "credentials": [{"type": "password", "value": user.password, "temporary": False}],
            }
        )
        if group is not None:
            realm_admin.group_user_add(user_id, security_servers.keycloak.group_ids[group])
        return user

    return make


def oidc(servers: SecurityServers, client_id: str) -> OidcClient:
    planned = next(c for c in servers.plan.of_type("keycloak:openid/client:Client") if c.inputs["clientId"] == client_id)
    return OidcClient(
        issuer=servers.keycloak_issuer,
        client_id=client_id,
        client_secret=servers.keycloak.client_secrets[client_id],
        redirect_uri=planned.inputs["validRedirectUris"][0],
    )


def test_psra_user_gets_psra_user_and_the_api_audience(security_servers, make_user) -> None:
    alice = make_user("alice", "PSRA Users")
    tokens = oidc(security_servers, "psra-client").login(alice.username, alice.password)
    access = tokens.access
    assert access["roles"] == ["psra-user"]
    assert access["realm_access"]["roles"] == ["psra-user"]
    assert "psra-api" in ([access["aud"]] if isinstance(access["aud"], str) else access["aud"])
    assert access["groups"] == ["PSRA Users"]
    assert access["azp"] == "psra-client"
    assert "psra-admin" not in json.dumps(access) + json.dumps(tokens.id)
    assert access["exp"] - access["iat"] == SPEC.keycloak.hardening.access_token_lifespan_seconds


def test_rentguy_administrator_has_no_psra_roles(security_servers, make_user) -> None:
    bob = make_user("bob", "RentGuy Administrators")
    psra = oidc(security_servers, "psra-client").login(bob.username, bob.password).access
    assert psra.get("realm_access", {}).get("roles", []) == [] and psra.get("roles", []) == []
    assert "psra-admin" not in json.dumps(psra) and "psra-user" not in json.dumps(psra)
    rentguy = oidc(security_servers, "rentguy-client").login(bob.username, bob.password).access
    assert sorted(rentguy["roles"]) == ["rentguy-admin", "rentguy-user"]
    assert "rentguy-api" in rentguy["aud"]
    assert not any(role.startswith("psra-") for role in rentguy["roles"])


@pytest.mark.parametrize("client_id", sorted(CLIENTS))
def test_redirect_uris_are_exact(security_servers, client_id: str) -> None:
    client = oidc(security_servers, client_id)
    planned = client.redirect_uri
    host = planned.split("/")[2]
    wrong = [planned + "/extra", planned + "x", planned.replace("https://", "http://"), f"https://evil.example/{host}", planned.rsplit("/", 1)[0] + "/*"]
    _, challenge = pkce_pair()
    with browser() as tab:
        assert "kc-form-login" in forms(client.open_login(tab, challenge).text)
        for uri in wrong:
            page = client.open_login(tab, challenge, redirect_uri=uri)
            assert page.status_code == 400, uri
            assert "Invalid parameter: redirect_uri" in page.text, uri


def test_pkce_s256_is_required(security_servers, make_user) -> None:
    client = oidc(security_servers, "psra-client")
    _, challenge = pkce_pair()
    with browser() as tab:
        for overrides in ({"code_challenge": None, "code_challenge_method": None}, {"code_challenge_method": "plain"}):
            page = client.open_login(tab, challenge, **overrides)
            assert page.status_code == 302 and "error=invalid_request" in page.headers["location"], overrides
    carla = make_user("carla", "PSRA Users")
    verifier, challenge = pkce_pair()
    with browser() as tab:
        page = client.open_login(tab, challenge)
        page = tab.post(forms(page.text)["kc-form-login"], data={"username": carla.username, "password": carla.password})
        code = page.headers["location"].split("code=", 1)[1].split("&", 1)[0]
    with pytest.raises(httpx.HTTPStatusError) as refused:
        client.exchange(code, verifier[::-1])
    answer = refused.value.response
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant", answer.text
    assert "PKCE" in answer.json().get("error_description", ""), answer.text


def test_password_grant_and_implicit_flow_are_off(security_servers, make_user) -> None:
    dora = make_user("dora", "PSRA Users")
    client = oidc(security_servers, "psra-client")
    grant = httpx.post(
        f"{client.issuer}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": client.client_id, "client_secret": client.client_secret, "username": dora.username, "password": dora.password},
    )
    assert grant.status_code in (400, 401) and grant.json()["error"] == "unauthorized_client"
    _, challenge = pkce_pair()
    with browser() as tab:
        implicit = client.open_login(tab, challenge, response_type="token")
    assert "kc-form-login" not in forms(implicit.text)
    assert implicit.status_code == 302 and "error=unauthorized_client" in implicit.headers["location"], (implicit.status_code, implicit.headers)


def test_refresh_tokens_rotate(security_servers, make_user) -> None:
    erin = make_user("erin", "PSRA Users")
    client = oidc(security_servers, "psra-client")
    tokens = client.login(erin.username, erin.password)

    def refresh(token: str) -> httpx.Response:
        return httpx.post(
            f"{client.issuer}/protocol/openid-connect/token",
            data={"grant_type": "refresh_token", "refresh_token": token, "client_id": client.client_id, "client_secret": client.client_secret},
        )

    first = refresh(tokens.refresh_token)
    assert first.status_code == 200, first.text
    reused = refresh(tokens.refresh_token)  # a used refresh token is dead
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant", reused.text


@pytest.mark.parametrize("group, client_id, role", [("PSRA Administrators", "psra-client", "psra-admin"), ("Administrators", "bao-oidc", "admin")])
def test_admin_groups_must_enrol_and_present_otp(security_servers, make_user, group: str, client_id: str, role: str) -> None:
    client = oidc(security_servers, client_id)
    admin = make_user("admin", group)
    with pytest.raises(LoginFailed, match="demands OTP enrolment"):
        client.login(admin.username, admin.password)
    enrolled = client.login(admin.username, admin.password, otp=admin.otp)
    assert role in enrolled.access["roles"]
    with pytest.raises(LoginFailed, match="demands an OTP code"):
        client.login(admin.username, admin.password)
    assert role in client.login(admin.username, admin.password, otp=admin.otp).access["roles"]


def test_users_without_admin_groups_are_not_asked_for_otp(security_servers, make_user) -> None:
    fay = make_user("fay", "PSRA Users")
    tokens = oidc(security_servers, "psra-client").login(fay.username, fay.password)  # no LoginFailed: no OTP step
    access = claims(tokens.access_token)
    assert "psra-user" in access["realm_access"]["roles"] and access["preferred_username"] == fay.username, access


def test_brute_force_lockout_after_the_configured_failures(security_servers, make_user, realm_admin) -> None:
    failures = security_servers.keycloak.realm_payload["failureFactor"]
    assert failures == SPEC.keycloak.hardening.max_login_failures
    client = oidc(security_servers, "psra-client")
    quick_check = security_servers.keycloak.realm_payload["quickLoginCheckMilliSeconds"] / 1000

    def fail_logins(user: User, count: int) -> None:
        for _ in range(count):
            with pytest.raises(LoginFailed):
                client.login(user.username, "wrong-" + user.password)
            time.sleep(quick_check + 0.2)  # slower than the quick-login check: only the count matters

    below = make_user("gus", "PSRA Users")
    fail_logins(below, failures - 1)
    client.login(below.username, below.password)  # one failure short of the limit: still allowed

    locked = make_user("hal", "PSRA Users")
    fail_logins(locked, failures)
    with pytest.raises(LoginFailed):
        client.login(locked.username, locked.password)  # the right password no longer works
    user_id = realm_admin.get_user_id(locked.username)
    status = realm_admin.get_bruteforce_detection_status(user_id)
    assert status["disabled"] is True and status["numFailures"] >= failures


def test_openbao_jwt_login_maps_administrators_to_admin_policy(security_servers, make_user) -> None:
    client = oidc(security_servers, "bao-oidc")
    admin = make_user("ivy", "Administrators")
    id_token = client.login(admin.username, admin.password, otp=admin.otp).id_token
    login = httpx.post(f"{security_servers.openbao_addr}/v1/auth/oidc/login", json={"role": "admin-jwt", "jwt": id_token})
    assert login.status_code == 200, login.text
    auth = login.json()["auth"]
    assert sorted(auth["token_policies"]) == ["admin", "default"]
    assert auth["lease_duration"] <= 3600
    read = httpx.get(f"{security_servers.openbao_addr}/v1/psra/kv/data/api/keys", headers={"X-Vault-Token": auth["client_token"]})
    assert read.status_code == 200

    user = make_user("jon", "PSRA Users")
    user_token = client.login(user.username, user.password).id_token
    refused = httpx.post(f"{security_servers.openbao_addr}/v1/auth/oidc/login", json={"role": "admin-jwt", "jwt": user_token})
    assert refused.status_code == 400 and "claim" in refused.text and "does not match" in refused.text, refused.text
    psra_token = oidc(security_servers, "psra-client").login(user.username, user.password).id_token
    wrong_audience = httpx.post(f"{security_servers.openbao_addr}/v1/auth/oidc/login", json={"role": "admin-jwt", "jwt": psra_token})
    assert wrong_audience.status_code == 400 and "aud" in wrong_audience.text, wrong_audience.text


def test_events_and_realm_hardening_are_served(security_servers, realm_admin) -> None:
    realm = realm_admin.get_realm(security_servers.keycloak.realm)
    hardening = SPEC.keycloak.hardening
    assert realm["bruteForceProtected"] is True
    assert realm["sslRequired"] == hardening.ssl_required
    assert realm["passwordPolicy"] == (
        f"length({hardening.password_min_length}) and notUsername and notEmail and passwordHistory({hardening.password_history})"
    )
    assert realm["revokeRefreshToken"] is True and realm["refreshTokenMaxReuse"] == 0
    assert realm["browserFlow"] == f"{SPEC.keycloak.realm}-browser"
    events = realm_admin.connection.raw_get(f"admin/realms/{realm['realm']}/events/config").json()
    assert events["eventsEnabled"] is True and events["adminEventsEnabled"] is True
    assert events["eventsExpiration"] == hardening.events_expiration_seconds
