"""The seed's end-to-end request flow on the lab, as its users make it.

A seeded lab user of role `psra-user` logs in through Traefik and Keycloak (authorization
code with PKCE; OTP wherever the realm asks for it), posts an origin calculation to the
origin app through Traefik, and reads it back; the certificate is then looked up in the
lab's PostgreSQL and Redis (which the app reached with the credentials it got from the
lab's OpenBao by AppRole). The same user also goes through oauth2-proxy's forward-auth to
the web front end, and, signed in, finds OpenBao's metrics behind a token on vault.<domain>. A RentGuy administrator (another tenant; OTP enrolled on first login)
is refused by the origin app (403). A PSRA administrator (OTP) is kept for the browser test
of the web front end through the same path (tests/live/test_lab_browser.py).

The lab users are made on the first run and kept, with their passwords and OTP secrets, in
the lab's root-only state file (mode 0600); nothing here prints them.
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker
import httpx

from infra.ops.lab.content import (
    KEYCLOAK_ADMIN,
    KEYCLOAK_ADMIN_PASSWORD,
    KEYCLOAK_CONTAINER,
    KEYCLOAK_NETWORK,
    KEYCLOAK_PORT,
    address,
    random_result,
)
from infra.ops.lab.state import LabState
from infra.ops.oidc_login import (
    OidcClient,
    OtpDevice,
    Tokens,
    browser,
    forms,
    to_loopback,
)
from infra.ops.replay.resources import revealed

USERS_KEY = "lab_users"
PSRA_USER, PSRA_ADMIN, OTHER_TENANT = "lab-psra-user", "lab-psra-admin", "lab-rentguy-admin"
GROUPS = {PSRA_USER: "PSRA Users", PSRA_ADMIN: "PSRA Administrators", OTHER_TENANT: "RentGuy Administrators"}
CLIENTS = {PSRA_USER: "psra-client", PSRA_ADMIN: "psra-client", OTHER_TENANT: "psra-client"}  # another tenant signing in to PSRA
CALCULATION = {
    "agreement": "EU-JP",
    "assessment_date": "2025-03-01",
    "product": {"hs_code": "850110", "ex_works_price": "100.00", "fob_price": "120.00"},
    "materials": [{"hs_code": "850300", "origin": "CN", "value": "50.00"}, {"hs_code": "720917", "origin": "CN", "value": "10.00"}],
}
PSRA_DB, PSRA_REDIS = "psra-db", "psra-redis"


class FlowFailed(RuntimeError):
    """One step of the flow did not give what the seed says; the message names the step."""


@dataclass
class LabUser:
    username: str
    password: str
    otp: OtpDevice


@dataclass
class FlowResult:
    calculation_id: str
    steps: list[str]


def realm_of(document: Mapping[str, Any]) -> str:
    return next(r["inputs"]["realm"] for r in document["deployment"]["resources"] if r["type"] == "keycloak:index/realm:Realm")


def planned_client(document: Mapping[str, Any], client_id: str) -> Mapping[str, Any]:
    """The inputs of the plan's Keycloak client `client_id`."""
    for resource in document["deployment"]["resources"]:
        if resource["type"] == "keycloak:openid/client:Client" and resource["inputs"].get("clientId") == client_id:
            return resource["inputs"]
    raise FlowFailed(f"the plan has no Keycloak client {client_id!r}")


def lab_users(client: docker.DockerClient, document: Mapping[str, Any], state: LabState) -> dict[str, LabUser]:
    """The lab's users, made in the realm on first use (random passwords, kept in the state file)."""
    from keycloak import KeycloakAdmin

    kept = state.load().get(USERS_KEY, {})
    admin = KeycloakAdmin(
        server_url=f"http://{address(client, KEYCLOAK_CONTAINER, KEYCLOAK_NETWORK)}:{KEYCLOAK_PORT}",
        username=KEYCLOAK_ADMIN,
        password=random_result(document, KEYCLOAK_ADMIN_PASSWORD),
        realm_name=realm_of(document),
        user_realm_name="master",
    )
    users = {}
    for username, group in GROUPS.items():
        user_id = admin.get_user_id(username)
        if user_id is None or username not in kept:
            if user_id is not None:
                admin.delete_user(user_id)  # made by a run whose state is gone: its password is unknown
            password = secrets.token_urlsafe(24)
            user_id = admin.create_user(
                {"username": username, "email": f"{username}@lab.invalid", "firstName": "Lab", "lastName": username, "enabled": True, "emailVerified": True}
            )
            admin.set_user_password(user_id, password, temporary=False)
            group_id = next(g["id"] for g in admin.get_groups({"search": group}) if g["name"] == group)
            admin.group_user_add(user_id, group_id)
            kept[username] = {"password": password, "otp": ""}
            state.update(**{USERS_KEY: kept})
        users[username] = LabUser(username, kept[username]["password"], OtpDevice(secret=kept[username]["otp"]))
    return users


def remember_otp(state: LabState, user: LabUser) -> None:
    kept = state.load().get(USERS_KEY, {})
    if user.otp.secret and kept.get(user.username, {}).get("otp") != user.otp.secret:
        kept[user.username]["otp"] = user.otp.secret
        state.update(**{USERS_KEY: kept})


def log_in(document: Mapping[str, Any], domain_issuer: str, user: LabUser, transport: httpx.BaseTransport, state: LabState) -> Tokens:
    client_id = CLIENTS[user.username]
    client = planned_client(document, client_id)
    oidc = OidcClient(domain_issuer, client_id, str(revealed(client["clientSecret"])), str(client["validRedirectUris"][0]), transport)
    try:
        return oidc.login(user.username, user.password, user.otp)
    finally:
        remember_otp(state, user)


def issuer_of(document: Mapping[str, Any]) -> str:
    return next(r["inputs"]["boundIssuer"] for r in document["deployment"]["resources"] if r["type"] == "vault:jwt/authBackend:AuthBackend")


def domain_of(document: Mapping[str, Any]) -> str:
    """The platform's domain: the issuer's host is `auth.<domain>`."""
    return httpx.URL(issuer_of(document)).host.split(".", 1)[1]


def api_host(document: Mapping[str, Any]) -> str:
    """`api.psra.<domain>`: the issuer's host names the domain."""
    return "api.psra." + domain_of(document)


def psql(client: docker.DockerClient, document: Mapping[str, Any], sql: str) -> str:
    """`sql` in the origin app's database (named by the plan's database engine connection), as its superuser."""
    mount = next(r for r in document["deployment"]["resources"] if r["type"] == "vault:database/secretsMount:SecretsMount")
    database = mount["inputs"]["postgresqls"][0]["connectionUrl"].rsplit("/", 1)[1].split("?", 1)[0]
    command = f'PGPASSWORD="$(cat /run/secrets/postgres-password)" psql -h 127.0.0.1 -U postgres -d {database} -tAc "{sql}"'
    code, output = client.containers.get(PSRA_DB).exec_run(["sh", "-c", command])
    if code != 0:
        raise FlowFailed(f"psql in {PSRA_DB} failed (exit {code})")
    return output.decode().strip()


def redis_exists(client: docker.DockerClient, key: str) -> bool:
    command = f'REDISCLI_AUTH="$(cat /run/secrets/redis-password)" redis-cli -h 127.0.0.1 --no-auth-warning EXISTS "{key}"'
    code, output = client.containers.get(PSRA_REDIS).exec_run(["sh", "-c", command])
    if code != 0:
        raise FlowFailed(f"redis-cli in {PSRA_REDIS} failed (exit {code})")
    return output.decode().strip() == "1"


@contextmanager
def signed_in_tab(document: Mapping[str, Any], user: LabUser, transport: httpx.BaseTransport, state: LabState) -> Iterator[tuple[httpx.Client, httpx.Response]]:
    """A browser tab signed in through the web front end behind oauth2-proxy (Traefik -> oauth2-proxy ->
    Keycloak -> back), with the page it landed on; Keycloak's session signs it in on the other hosts (SSO)."""
    host = "psra." + domain_of(document)
    with browser(transport) as tab:
        page = follow(tab, tab.get(f"https://{host}/calculations/new"))
        action = forms(page.text).get("kc-form-login")
        if action is None:
            raise FlowFailed(f"forward-auth: no Keycloak login form (HTTP {page.status_code} at {page.url.host})")
        page = follow(tab, tab.post(action, data={"username": user.username, "password": user.password, "credentialId": ""}))
        remember_otp(state, user)
        yield tab, page


def follow(tab: httpx.Client, page: httpx.Response, hops: int = 10) -> httpx.Response:
    for _ in range(hops):
        if page.status_code not in (301, 302, 303, 307, 308):
            break
        page = tab.get(page.url.join(page.headers["location"]))
    return page


def run(client: docker.DockerClient, document: Mapping[str, Any], state: LabState, verify: ssl.SSLContext) -> FlowResult:
    """The whole flow; raises FlowFailed naming the step that did not hold."""
    transport = to_loopback(verify)
    users = lab_users(client, document, state)
    issuer, api = issuer_of(document), api_host(document)
    steps = []
    tokens = log_in(document, issuer, users[PSRA_USER], transport, state)
    if "psra-user" not in tokens.access.get("realm_access", {}).get("roles", []):
        raise FlowFailed("the psra user's token has no psra-user role")
    steps.append("psra-user logged in (authorization code + PKCE through Traefik)")
    with httpx.Client(transport=transport, timeout=30) as http:
        bearer = {"Authorization": f"Bearer {tokens.access_token}"}
        created = http.post(f"https://{api}/v1/origin/calculations", json=CALCULATION, headers=bearer)
        if created.status_code != 201:
            raise FlowFailed(f"POST /v1/origin/calculations answered {created.status_code}")
        calculation = created.json()
        read = http.get(f"https://{api}{created.headers['location']}", headers=bearer)
        if read.status_code != 200 or read.json().get("id") != calculation["id"]:
            raise FlowFailed(f"GET {created.headers['location']} answered {read.status_code}")
        steps.append(f"calculation {calculation['id']} created (201) and read back (200)")
        if psql(client, document, f"SELECT count(*) FROM certificates WHERE id = '{calculation['id']}'") != "1":
            raise FlowFailed("the certificate is not in the lab's PostgreSQL")
        if not redis_exists(client, f"certificate:{calculation['id']}"):
            raise FlowFailed("the certificate is not cached in the lab's Redis")
        steps.append("certificate row in psra-db, cached in psra-redis")
        other = log_in(document, issuer, users[OTHER_TENANT], transport, state)
        refused = http.post(f"https://{api}/v1/origin/calculations", json=CALCULATION, headers={"Authorization": f"Bearer {other.access_token}"})
        if refused.status_code != 403:
            raise FlowFailed(f"a RentGuy administrator's POST answered {refused.status_code}, not 403")
        steps.append("RentGuy administrator (OTP enrolled and used) refused: 403")
    with signed_in_tab(document, users[PSRA_USER], transport, state) as (tab, page):
        if page.status_code != 200 or "calculation" not in page.text.lower():
            raise FlowFailed(f"the web front end behind oauth2-proxy answered {page.status_code} after the login")
        steps.append("web front end reached through oauth2-proxy's forward-auth (200)")
        metrics = follow(tab, tab.get(f"https://vault.{domain_of(document)}/v1/sys/metrics", params={"format": "prometheus"}))
        if metrics.status_code != 403 or "permission denied" not in metrics.text:
            raise FlowFailed(f"OpenBao's /v1/sys/metrics through vault.<domain> answered a signed-in user {metrics.status_code}, not OpenBao's 403")
        steps.append("signed in past forward-auth (SSO), OpenBao's metrics through vault.<domain> still need a token (403)")
    return FlowResult(calculation["id"], steps)
