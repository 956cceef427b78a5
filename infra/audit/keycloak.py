"""Keycloak rules (KC-*): realm hardening, clients, and how Keycloak sits behind Traefik.

Keycloak's defaults are permissive (fact 8): no password policy, brute-force detection
off, trailing `*` accepted in redirect URIs, so each of these must be declared explicitly.
Durations are the provider's Go-style strings ("5m", "10h0m0s").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.audit.model import (
    Rule,
    Severity,
    duration_seconds,
    known,
    number,
    rules_on,
    strings,
    text,
    truthy,
)
from infra.audit.resources import Container, Resources
from infra.audit.traefik_config import TraefikConfig
from infra.plan.document import ExportedResource

REALM = "keycloak:index/realm:Realm"
CLIENT = "keycloak:openid/client:Client"
REALM_EVENTS = "keycloak:index/realmEvents:RealmEvents"
REQUIRED_ACTION = "keycloak:index/requiredAction:RequiredAction"
EXECUTION = "keycloak:authentication/execution:Execution"
MAX_ACCESS_TOKEN_SECONDS = 300
MAX_SESSION_SECONDS = 86_400
MAX_LOGIN_FAILURES = 10
MIN_PASSWORD_LENGTH = 12
LOCAL_HOSTS = re.compile(r"^https?://(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(/|$)", re.I)
MANAGEMENT_PORT = 9000
POLICY_PART = re.compile(r"^(\w+)(?:\(([^)]*)\))?$")


def realm_of(resource: ExportedResource, r: Resources) -> ExportedResource | None:
    """The realm a Keycloak resource belongs to: by dependency, or by realm name in `realmId`."""
    realms = r.of_type(REALM)
    for realm in realms:
        if realm.urn in resource.dependencies or resource.inputs.get("realmId") == realm.inputs.get("realm"):
            return realm
    return realms[0] if len(realms) == 1 else None


def children(realm: ExportedResource, r: Resources, type_: str) -> list[ExportedResource]:
    return [child for child in r.of_type(type_) if realm_of(child, r) is realm]


def _realm_name(realm: ExportedResource) -> str:
    return text(realm.inputs.get("realm")) or realm.name


def _brute_force(realm: ExportedResource, _: Resources) -> Iterator[str]:
    defenses = known(realm.inputs.get("securityDefenses")) or {}
    detection = known(defenses.get("bruteForceDetection")) if isinstance(defenses, dict) else None
    if not isinstance(detection, dict):
        yield f"realm {_realm_name(realm)} has brute-force detection off"
        return
    failures = number(detection.get("maxLoginFailures"))
    if failures is None or not 0 < failures <= MAX_LOGIN_FAILURES:
        yield f"realm {_realm_name(realm)} locks out after {failures or 'the default 30'} failures (want ≤ {MAX_LOGIN_FAILURES})"


def _self_registration(realm: ExportedResource, _: Resources) -> Iterator[str]:
    if truthy(realm.inputs.get("registrationAllowed")):
        yield f"realm {_realm_name(realm)} lets anyone register an account (registrationAllowed)"


def _password_policy(realm: ExportedResource, _: Resources) -> Iterator[str]:
    policy = text(realm.inputs.get("passwordPolicy")) or ""
    matches = (POLICY_PART.match(part.strip()) for part in policy.split(" and "))
    parts = {m.group(1): m.group(2) or "" for m in matches if m}
    missing = []
    length = parts.get("length", "0")
    if not length.isdigit() or int(length) < MIN_PASSWORD_LENGTH:
        missing.append(f"length({MIN_PASSWORD_LENGTH})")
    missing += [name for name in ("notUsername", "notEmail", "passwordHistory") if name not in parts]
    if missing:
        yield f"realm {_realm_name(realm)} password policy lacks {', '.join(missing)} (is {policy or 'empty'!r})"


def _token_lifetimes(realm: ExportedResource, _: Resources) -> Iterator[str]:
    name = _realm_name(realm)
    access = duration_seconds(text(realm.inputs.get("accessTokenLifespan")))
    if access is not None and access > MAX_ACCESS_TOKEN_SECONDS:
        yield f"realm {name} issues access tokens for {access:g}s (want ≤ {MAX_ACCESS_TOKEN_SECONDS}s)"
    session = duration_seconds(text(realm.inputs.get("ssoSessionMaxLifespan")))
    if session is not None and session > MAX_SESSION_SECONDS:
        yield f"realm {name} keeps SSO sessions for {session:g}s (want ≤ {MAX_SESSION_SECONDS}s)"
    if not truthy(realm.inputs.get("revokeRefreshToken")):
        yield f"realm {name} does not rotate refresh tokens (revokeRefreshToken is not true)"


def _ssl_required(realm: ExportedResource, _: Resources) -> Iterator[str]:
    if (text(realm.inputs.get("sslRequired")) or "external") not in {"external", "all"}:
        yield f"realm {_realm_name(realm)} does not require SSL (sslRequired={realm.inputs.get('sslRequired')})"


def _otp(realm: ExportedResource, r: Resources) -> Iterator[str]:
    required = [
        a
        for a in children(realm, r, REQUIRED_ACTION)
        if text(a.inputs.get("alias")) == "CONFIGURE_TOTP" and truthy(a.inputs.get("enabled"))
    ]
    otp_steps = [
        e
        for e in children(realm, r, EXECUTION)
        if text(e.inputs.get("authenticator")) == "auth-otp-form" and (text(e.inputs.get("requirement")) or "DISABLED") != "DISABLED"
    ]
    if not (required or otp_steps):
        yield f"realm {_realm_name(realm)} enforces no OTP: neither a CONFIGURE_TOTP required action nor an OTP step in a flow"


def _events(realm: ExportedResource, r: Resources) -> Iterator[str]:
    events = children(realm, r, REALM_EVENTS)
    good = [
        e
        for e in events
        if truthy(e.inputs.get("eventsEnabled"))
        and truthy(e.inputs.get("adminEventsEnabled"))
        and (number(e.inputs.get("eventsExpiration")) or 0) > 0
    ]
    if not good:
        yield f"realm {_realm_name(realm)} does not record login and admin events with an expiry"


def _redirect_uris(client: ExportedResource, r: Resources) -> Iterator[str]:
    cid = text(client.inputs.get("clientId")) or client.name
    local_ok = (r.domain or "").endswith("localhost")
    for key in ("validRedirectUris", "validPostLogoutRedirectUris"):
        for uri in strings(client.inputs.get(key)):
            if "*" in uri:
                yield f"client {cid} accepts a wildcard {key[5:-4].lower()} URI {uri!r}"
            elif not uri.startswith("https://") and not (local_ok and LOCAL_HOSTS.match(uri)):
                yield f"client {cid} accepts a non-https URI {uri!r}"
            elif LOCAL_HOSTS.match(uri) and not local_ok:
                yield f"client {cid} accepts a localhost URI {uri!r} outside a local stack"
    for origin in strings(client.inputs.get("webOrigins")):
        if origin == "*":
            yield f"client {cid} allows any web origin ('*')"


def _confidential(client: ExportedResource, _: Resources) -> Iterator[str]:
    cid = text(client.inputs.get("clientId")) or client.name
    access = (text(client.inputs.get("accessType")) or "").upper()
    if access == "PUBLIC":
        yield f"client {cid} is public; server-side clients must be confidential"
    if client.inputs.get("fullScopeAllowed") is not False:
        yield f"client {cid} puts every role of the user in its tokens (fullScopeAllowed is not false)"


def _pkce(client: ExportedResource, _: Resources) -> Iterator[str]:
    if truthy(client.inputs.get("standardFlowEnabled")) and text(client.inputs.get("pkceCodeChallengeMethod")) != "S256":
        yield f"client {text(client.inputs.get('clientId')) or client.name} uses the code flow without PKCE S256"


def _legacy_grants(client: ExportedResource, _: Resources) -> Iterator[str]:
    cid = text(client.inputs.get("clientId")) or client.name
    if truthy(client.inputs.get("implicitFlowEnabled")):
        yield f"client {cid} enables the implicit flow"
    if truthy(client.inputs.get("directAccessGrantsEnabled")):
        yield f"client {cid} enables the password grant (directAccessGrantsEnabled)"


def _keycloak_routers(r: Resources, container: Container) -> list:
    return [router for router in r.view(TraefikConfig).routers if router.urn == container.urn]


def _exposed_paths(container: Container, r: Resources) -> Iterator[str]:
    realms = [_realm_name(realm) for realm in r.of_type(REALM)] or [r.seed.keycloak.realm]
    allowed = {f"/realms/{name}" for name in realms} | {"/resources", "/.well-known"}
    for router in _keycloak_routers(r, container):
        prefixes = router.path_prefixes
        if not prefixes:
            yield f"router {router.name} exposes all of Keycloak (admin console, master realm) on {', '.join(router.hosts)}"
        for prefix in prefixes:
            if prefix.rstrip("/") not in allowed:
                yield f"router {router.name} exposes Keycloak path {prefix}"


def _proxy_settings(container: Container, r: Resources) -> Iterator[str]:
    env = container.env
    if str(env.get("KC_PROXY_HEADERS", "")).lower() not in {"xforwarded", "forwarded"}:
        yield f"Keycloak {container.name} does not read proxy headers (KC_PROXY_HEADERS=xforwarded)"
    if not env.get("KC_PROXY_TRUSTED_ADDRESSES"):
        yield f"Keycloak {container.name} trusts proxy headers from any address (set KC_PROXY_TRUSTED_ADDRESSES)"
    if not env.get("KC_HOSTNAME"):
        yield f"Keycloak {container.name} has no fixed hostname (KC_HOSTNAME)"
    for router in _keycloak_routers(r, container):
        port = container.labels.get(f"traefik.http.services.{router.service}.loadbalancer.server.port")
        if str(port) == str(MANAGEMENT_PORT):
            yield f"router {router.name} routes to Keycloak's management port {MANAGEMENT_PORT}"


realm_rule = rules_on(lambda r: r.of_type(REALM))
client_rule = rules_on(lambda r: r.of_type(CLIENT))
keycloak_container_rule = rules_on(lambda r: r.with_role("keycloak"))


RULES: tuple[Rule, ...] = (
    realm_rule(
        "KC-01",
        Severity.HIGH,
        "brute-force detection on",
        "set securityDefenses.bruteForceDetection with maxLoginFailures ≤ 10",
        "RH SSO admin guide",
        _brute_force,
    ),
    realm_rule(
        "KC-13",
        Severity.HIGH,
        "no self-registration",
        "set registrationAllowed=false; accounts are created by administrators (or an invitation flow)",
        "Keycloak server admin guide (user registration)",
        _self_registration,
    ),
    realm_rule(
        "KC-02",
        Severity.MEDIUM,
        "explicit password policy",
        "passwordPolicy 'length(12) and notUsername and notEmail and passwordHistory(5)'",
        "ASVS 2.1",
        _password_policy,
    ),
    realm_rule(
        "KC-03",
        Severity.MEDIUM,
        "short access tokens, bounded sessions, refresh token rotation",
        "accessTokenLifespan ≤ 5m, ssoSessionMaxLifespan ≤ 24h, revokeRefreshToken=true",
        "Keycloak threat model",
        _token_lifetimes,
    ),
    client_rule(
        "KC-04",
        Severity.HIGH,
        "exact https redirect URIs, explicit web origins",
        "list exact https://host/path redirect URIs; no '*', no localhost in prod",
        "RFC 9700; CVE-2024-1132",
        _redirect_uris,
    ),
    client_rule(
        "KC-05",
        Severity.HIGH,
        "server-side clients confidential, scoped tokens",
        "accessType CONFIDENTIAL and fullScopeAllowed=false",
        "pulumi-keycloak schema",
        _confidential,
    ),
    client_rule("KC-06", Severity.MEDIUM, "PKCE S256 on every code-flow client", "pkceCodeChallengeMethod='S256'", "RFC 9700", _pkce),
    client_rule(
        "KC-07",
        Severity.HIGH,
        "implicit flow and password grant off",
        "implicitFlowEnabled=false, directAccessGrantsEnabled=false",
        "RFC 9700",
        _legacy_grants,
    ),
    keycloak_container_rule(
        "KC-08",
        Severity.HIGH,
        "admin console and master realm not public",
        "route only PathPrefix /realms/<realm>, /resources and /.well-known",
        "Keycloak reverse-proxy exposed paths",
        _exposed_paths,
    ),
    keycloak_container_rule(
        "KC-09",
        Severity.MEDIUM,
        "proxy headers, trusted proxies, fixed hostname; management port not routed",
        "set KC_PROXY_HEADERS=xforwarded, KC_PROXY_TRUSTED_ADDRESSES=<proxy subnet>, KC_HOSTNAME; route 8080 only",
        "Keycloak reverse-proxy docs",
        _proxy_settings,
    ),
    realm_rule("KC-10", Severity.HIGH, "SSL required", "sslRequired 'external' or 'all'", "Keycloak docs", _ssl_required),
    realm_rule(
        "KC-11",
        Severity.MEDIUM,
        "MFA (OTP) at least for admin groups",
        "enable the CONFIGURE_TOTP required action or a conditional OTP step for admin groups",
        "RH ch. 8",
        _otp,
    ),
    realm_rule(
        "KC-12",
        Severity.LOW,
        "login and admin events on, with expiry",
        "declare RealmEvents with eventsEnabled, adminEventsEnabled and eventsExpiration",
        "—",
        _events,
    ),
)
