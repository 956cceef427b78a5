"""Every condition of every audit rule, one failing case each with the exact findings it must give,
and the boundaries each rule must accept (KICS-style positive and negative samples, per condition).

`rule_cases.CASES` holds one violation and one near miss per rule; this module holds the rest:
a rule that checks three settings has a case per setting, an inclusive threshold is tried on both
sides, and each message is asserted whole (messages name the key, the value and what is allowed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.infra.audit.crafted import DOMAIN, container, entry, envelope, upload
from tests.infra.audit.rule_cases import (
    ALERTS,
    APPROLE,
    CLIENT,
    CRONTAB,
    OPENBAO_HCL,
    POLICY,
    REALM,
    TRAEFIK_DYNAMIC,
    TRAEFIK_STATIC,
    _add_resource,
    _append_upload,
    _content,
    _edit,
    _env,
    _file,
    _grant,
    _label,
    _labels,
    _operator_policy,
    _resource,
)

Document = dict[str, Any]
Edit = Callable[[Document], Any]


@dataclass(frozen=True)
class Violation:
    """`edit` breaks the compliant platform; `rule` must then report exactly `findings`."""

    rule: str
    name: str
    edit: Edit
    findings: tuple[tuple[str, str], ...]  # (resource name, the last URN segment; message)

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.name}"


@dataclass(frozen=True)
class Accepted:
    """`edit` stays within what `rule` allows (a boundary, a documented alternative)."""

    rule: str
    name: str
    edit: Edit

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.name}"


def _unlabel(name: str, key: str) -> Edit:
    def apply(document: Document) -> None:
        inputs = container(document, name)["inputs"]
        inputs["labels"] = [item for item in inputs["labels"] if item["label"] != key]

    return apply


def _all(*edits: Edit) -> Edit:
    def apply(document: Document) -> None:
        for edit in edits:
            edit(document)

    return apply


# ---- Keycloak (KC-*) --------------------------------------------------------------------------

_REALM_NAME = "sevensa"
_RULE = "traefik.http.routers.keycloak.rule"


def _realm(**changes: Any) -> Edit:
    return _resource(REALM, "realm", **changes)


def _client(**changes: Any) -> Edit:
    return _resource(CLIENT, "psra-client", **changes)


def _realm_finding(message: str) -> tuple[tuple[str, str], ...]:
    return (("realm", f"realm {_REALM_NAME} {message}"),)


def _client_findings(*messages: str) -> tuple[tuple[str, str], ...]:
    return tuple(("psra-client", f"client psra-client {m}") for m in messages)


def _keycloak_findings(*messages: str) -> tuple[tuple[str, str], ...]:
    return tuple(("keycloak-container", m) for m in messages)


_COMPLIANT_REALM = {
    "securityDefenses": {"bruteForceDetection": {"maxLoginFailures": 5.0}},
    "passwordPolicy": "length(12) and notUsername and notEmail and passwordHistory(5)",
    "accessTokenLifespan": "5m",
    "ssoSessionMaxLifespan": "10h",
    "revokeRefreshToken": True,
    "sslRequired": "external",
}


def _other_realm(events: bool = True, totp: bool = True) -> Edit:
    """A second realm `other`, its children tied to it by realm name only (no dependency)."""
    edits = [_add_resource("keycloak:index/realm:Realm", "other-realm", {"realm": "other", **_COMPLIANT_REALM})]
    if events:
        edits.append(
            _add_resource(
                "keycloak:index/realmEvents:RealmEvents",
                "other-events",
                {"realmId": "other", "eventsEnabled": True, "adminEventsEnabled": True, "eventsExpiration": 86_400.0},
            )
        )
    if totp:
        edits.append(
            _add_resource(
                "keycloak:index/requiredAction:RequiredAction",
                "other-totp",
                {"realmId": "other", "alias": "CONFIGURE_TOTP", "enabled": True},
            )
        )
    return _all(*edits)


def _otp_step(requirement: str | None) -> Edit:
    inputs = {"realmId": _REALM_NAME, "authenticator": "auth-otp-form", "parentFlowAlias": "browser-otp"}
    if requirement is not None:
        inputs["requirement"] = requirement
    return _add_resource("keycloak:authentication/execution:Execution", "otp-step", inputs)


_NO_TOTP = _resource("requiredAction:RequiredAction", "realm-totp", enabled=False)
_NO_OTP = "enforces no OTP: neither a CONFIGURE_TOTP required action nor an OTP step in a flow"
_NO_EVENTS = "does not record login and admin events with an expiry"


def _events(**changes: Any) -> Edit:
    return _resource("realmEvents:RealmEvents", "realm-events", **changes)


def _orphan_events(document: Document) -> None:
    """The realm's events name no realm the export declares: tied to the realm only if it is the only one."""
    events = entry(document, "realmEvents:RealmEvents", "realm-events")
    events["dependencies"] = []
    events["inputs"]["realmId"] = "realm-id-unknown"


def _remove(type_suffix: str, name: str) -> Edit:
    def apply(document: Document) -> None:
        document["deployment"]["resources"].remove(entry(document, type_suffix, name))

    return apply


def _local_domain(document: Document) -> None:
    """The stack declares a local domain (`*.localhost`): localhost redirect URIs are allowed."""
    stack = next(r for r in document["deployment"]["resources"] if r["type"] == "pulumi:pulumi:Stack")
    stack["outputs"]["domain"] = "psra.localhost"


KEYCLOAK_VIOLATIONS = (
    Violation("KC-01", "no-detection-block", _realm(securityDefenses={"headers": {}}), _realm_finding("has brute-force detection off")),
    Violation("KC-01", "defenses-not-a-mapping", _realm(securityDefenses=["bruteForceDetection"]), _realm_finding("has brute-force detection off")),
    Violation(
        "KC-01",
        "detection-without-limit",
        _realm(securityDefenses={"bruteForceDetection": {}}),
        _realm_finding("locks out after the default 30 failures (want ≤ 10)"),
    ),
    Violation(
        "KC-01",
        "one-failure-too-many",
        _realm(securityDefenses={"bruteForceDetection": {"maxLoginFailures": 11.0}}),
        _realm_finding("locks out after 11.0 failures (want ≤ 10)"),
    ),
    Violation(
        "KC-01",
        "zero-failures",
        _realm(securityDefenses={"bruteForceDetection": {"maxLoginFailures": 0}}),
        _realm_finding("locks out after the default 30 failures (want ≤ 10)"),
    ),
    Violation(
        "KC-13", "registration-as-text", _realm(registrationAllowed="true"),
        _realm_finding("lets anyone register an account (registrationAllowed)"),
    ),
    Violation(
        "KC-02",
        "no-policy",
        _realm(passwordPolicy=None),
        _realm_finding("password policy lacks length(12), notUsername, notEmail, passwordHistory (is 'empty')"),
    ),
    Violation(
        "KC-02",
        "length-one-short",
        _realm(passwordPolicy="length(11) and notUsername and notEmail and passwordHistory(5)"),
        _realm_finding("password policy lacks length(12) (is 'length(11) and notUsername and notEmail and passwordHistory(5)')"),
    ),
    Violation(
        "KC-02",
        "length-not-a-number",
        _realm(passwordPolicy="length(x) and notEmail and passwordHistory(5)"),
        _realm_finding("password policy lacks length(12), notUsername (is 'length(x) and notEmail and passwordHistory(5)')"),
    ),
    Violation(
        "KC-02",
        "parts-joined-without-space",
        _realm(passwordPolicy="length(12)and notUsername and notEmail and passwordHistory(5)"),
        _realm_finding("password policy lacks length(12), notUsername (is 'length(12)and notUsername and notEmail and passwordHistory(5)')"),
    ),
    Violation(
        "KC-02",
        "no-not-email",
        _realm(passwordPolicy="length(12) and notUsername and passwordHistory(5)"),
        _realm_finding("password policy lacks notEmail (is 'length(12) and notUsername and passwordHistory(5)')"),
    ),
    Violation(
        "KC-02",
        "no-history",
        _realm(passwordPolicy="length(12) and notUsername and notEmail"),
        _realm_finding("password policy lacks passwordHistory (is 'length(12) and notUsername and notEmail')"),
    ),
    Violation(
        "KC-03", "access-one-second-over", _realm(accessTokenLifespan="5m1s"),
        _realm_finding("issues access tokens for 301s (want ≤ 300s)"),
    ),
    Violation(
        "KC-03", "session-one-second-over", _realm(ssoSessionMaxLifespan="24h0m1s"),
        _realm_finding("keeps SSO sessions for 86401s (want ≤ 86400s)"),
    ),
    Violation(
        "KC-03", "no-rotation", _realm(revokeRefreshToken=None),
        _realm_finding("does not rotate refresh tokens (revokeRefreshToken is not true)"),
    ),
    Violation("KC-10", "ssl-none-upper", _realm(sslRequired="NONE"), _realm_finding("does not require SSL (sslRequired=NONE)")),
    Violation(
        "KC-10", "ssl-external-requests", _realm(sslRequired="external-requests"),
        _realm_finding("does not require SSL (sslRequired=external-requests)"),
    ),
    Violation("KC-11", "otp-action-other-alias", _resource("requiredAction:RequiredAction", "realm-totp", alias="VERIFY_EMAIL"), _realm_finding(_NO_OTP)),
    Violation("KC-11", "otp-step-disabled", _all(_NO_TOTP, _otp_step("DISABLED")), _realm_finding(_NO_OTP)),
    Violation("KC-11", "otp-step-without-requirement", _all(_NO_TOTP, _otp_step(None)), _realm_finding(_NO_OTP)),
    Violation(
        "KC-11",
        "other-authenticator",
        _all(_NO_TOTP, _otp_step("REQUIRED"), _resource("execution:Execution", "otp-step", authenticator="auth-username-form")),
        _realm_finding(_NO_OTP),
    ),
    Violation("KC-11", "other-realm-without-otp", _other_realm(totp=False), (("other-realm", f"realm other {_NO_OTP}"),)),
    Violation("KC-12", "login-events-off", _events(eventsEnabled=False), _realm_finding(_NO_EVENTS)),
    Violation("KC-12", "no-expiry", _events(eventsExpiration=None), _realm_finding(_NO_EVENTS)),
    Violation("KC-12", "zero-expiry", _events(eventsExpiration=0.0), _realm_finding(_NO_EVENTS)),
    Violation(
        "KC-12", "orphan-events-with-two-realms", _all(_other_realm(), _orphan_events),
        _realm_finding(_NO_EVENTS),
    ),
    Violation("KC-12", "other-realm-without-events", _other_realm(events=False), (("other-realm", f"realm other {_NO_EVENTS}"),)),
    Violation(
        "KC-04",
        "every-uri-condition",
        _client(
            validRedirectUris=[f"http://psra.{DOMAIN}/cb", "https://localhost:3000/cb"],
            validPostLogoutRedirectUris=[f"https://psra.{DOMAIN}/*"],
            webOrigins=[f"https://psra.{DOMAIN}", "*"],
        ),
        _client_findings(
            f"accepts a non-https URI 'http://psra.{DOMAIN}/cb'",
            "accepts a localhost URI 'https://localhost:3000/cb' outside a local stack",
            f"accepts a wildcard postlogoutredirect URI 'https://psra.{DOMAIN}/*'",
            "allows any web origin ('*')",
        ),
    ),
    Violation(
        "KC-04",
        "wildcard-redirect",
        _client(validRedirectUris=["https://*.example.test/cb"]),
        _client_findings("accepts a wildcard redirect URI 'https://*.example.test/cb'"),
    ),
    Violation(
        "KC-04",
        "plain-http-localhost-outside-a-local-stack",
        _client(validRedirectUris=["http://127.0.0.1:8080/cb"]),
        _client_findings("accepts a non-https URI 'http://127.0.0.1:8080/cb'"),
    ),
    Violation(
        "KC-04",
        "plain-http-elsewhere-in-a-local-stack",
        _all(_local_domain, _client(validRedirectUris=["http://psra.localhost.evil.test/cb"])),
        _client_findings("accepts a non-https URI 'http://psra.localhost.evil.test/cb'"),
    ),
    Violation(
        "KC-05",
        "public-lower-case-and-full-scope",
        _client(accessType="public", fullScopeAllowed=None),
        _client_findings(
            "is public; server-side clients must be confidential",
            "puts every role of the user in its tokens (fullScopeAllowed is not false)",
        ),
    ),
    Violation(
        "KC-05", "full-scope-as-text", _client(fullScopeAllowed="false"),
        _client_findings("puts every role of the user in its tokens (fullScopeAllowed is not false)"),
    ),
    Violation("KC-06", "no-pkce", _client(pkceCodeChallengeMethod=None), _client_findings("uses the code flow without PKCE S256")),
    Violation(
        "KC-04", "named-by-client-id", _client(webOrigins=["*"], clientId="portal"),
        (("psra-client", "client portal allows any web origin ('*')"),),
    ),
    Violation(
        "KC-06", "named-by-client-id", _client(pkceCodeChallengeMethod="plain", clientId="portal"),
        (("psra-client", "client portal uses the code flow without PKCE S256"),),
    ),
    Violation(
        "KC-05", "named-by-client-id", _client(accessType="PUBLIC", clientId="portal"),
        (("psra-client", "client portal is public; server-side clients must be confidential"),),
    ),
    Violation(
        "KC-06",
        "named-by-resource-without-client-id",
        _client(pkceCodeChallengeMethod="s256", clientId=None),
        (("psra-client", "client psra-client uses the code flow without PKCE S256"),),
    ),
    Violation("KC-07", "implicit", _client(implicitFlowEnabled=True), _client_findings("enables the implicit flow")),
    Violation(
        "KC-07",
        "password-grant-as-text",
        _client(directAccessGrantsEnabled="true", clientId="portal"),
        (("psra-client", "client portal enables the password grant (directAccessGrantsEnabled)"),),
    ),
    Violation(
        "KC-08",
        "admin-and-master-paths",
        _label("keycloak", _RULE, f"Host(`auth.{DOMAIN}`) && (PathPrefix(`/admin`) || PathPrefix(`/realms/master`))"),
        _keycloak_findings("router keycloak exposes Keycloak path /admin", "router keycloak exposes Keycloak path /realms/master"),
    ),
    Violation(
        "KC-08",
        "whole-keycloak",
        _label("keycloak", _RULE, f"Host(`auth.{DOMAIN}`)"),
        _keycloak_findings(f"router keycloak exposes all of Keycloak (admin console, master realm) on auth.{DOMAIN}"),
    ),
    Violation(
        "KC-08",
        "two-hosts-whole-keycloak",
        _label("keycloak", _RULE, f"Host(`auth.{DOMAIN}`) || Host(`login.{DOMAIN}`)"),
        _keycloak_findings(f"router keycloak exposes all of Keycloak (admin console, master realm) on auth.{DOMAIN}, login.{DOMAIN}"),
    ),
    Violation(
        "KC-08",
        "seed-realm-path-when-another-realm-is-declared",
        _realm(realm="psra"),
        _keycloak_findings("router keycloak exposes Keycloak path /realms/sevensa"),
    ),
    Violation(
        "KC-08",
        "realm-path-with-trailing-x",
        _label("keycloak", _RULE, f"Host(`auth.{DOMAIN}`) && PathPrefix(`/realms/sevensaX`)"),
        _keycloak_findings("router keycloak exposes Keycloak path /realms/sevensaX"),
    ),
    Violation(
        "KC-08",
        "another-realms-path",
        _label("keycloak", _RULE, f"Host(`auth.{DOMAIN}`) && PathPrefix(`/realms/sevensa-admin`)"),
        _keycloak_findings("router keycloak exposes Keycloak path /realms/sevensa-admin"),
    ),
    Violation(
        "KC-09",
        "unknown-proxy-headers",
        _env("keycloak", "KC_PROXY_HEADERS=none", drop="KC_PROXY_HEADERS"),
        _keycloak_findings("Keycloak keycloak does not read proxy headers (KC_PROXY_HEADERS=xforwarded)"),
    ),
    Violation(
        "KC-09",
        "no-trusted-addresses",
        _env("keycloak", "KC_PROXY_TRUSTED_ADDRESSES=", drop="KC_PROXY_TRUSTED_ADDRESSES"),
        _keycloak_findings("Keycloak keycloak trusts proxy headers from any address (set KC_PROXY_TRUSTED_ADDRESSES)"),
    ),
    Violation(
        "KC-09",
        "no-hostname",
        _env("keycloak", drop="KC_HOSTNAME"),
        _keycloak_findings("Keycloak keycloak has no fixed hostname (KC_HOSTNAME)"),
    ),
    Violation(
        "KC-09",
        "management-port-routed",
        _label("keycloak", "traefik.http.services.keycloak.loadbalancer.server.port", "9000"),
        _keycloak_findings("router keycloak routes to Keycloak's management port 9000"),
    ),
)

KEYCLOAK_ACCEPTED = (
    Accepted("KC-01", "ten-failures", _realm(securityDefenses={"bruteForceDetection": {"maxLoginFailures": 10}})),
    Accepted("KC-01", "one-failure", _realm(securityDefenses={"bruteForceDetection": {"maxLoginFailures": 1}})),
    Accepted("KC-13", "registration-as-false-text", _realm(registrationAllowed="false")),
    Accepted("KC-02", "spaced-parts", _realm(passwordPolicy=" length(12)  and  notUsername and notEmail(x) and passwordHistory(1) ")),
    Accepted("KC-02", "longer", _realm(passwordPolicy="length(40) and notUsername and notEmail and passwordHistory")),
    Accepted("KC-03", "exact-limits", _realm(accessTokenLifespan="300", ssoSessionMaxLifespan="24h")),
    Accepted("KC-03", "lifespans-unset", _realm(accessTokenLifespan=None, ssoSessionMaxLifespan=None, revokeRefreshToken="true")),
    Accepted("KC-10", "ssl-unset-means-external", _realm(sslRequired=None)),
    Accepted("KC-10", "ssl-external", _realm(sslRequired="external")),
    Accepted("KC-11", "otp-step-instead-of-action", _all(_NO_TOTP, _otp_step("REQUIRED"))),
    Accepted("KC-11", "otp-step-conditional", _all(_NO_TOTP, _otp_step("CONDITIONAL"))),
    Accepted("KC-11", "second-realm-with-its-own-otp", _other_realm()),
    Accepted("KC-12", "second-realm-with-its-own-events", _other_realm()),
    Accepted("KC-12", "events-of-the-only-realm", _orphan_events),
    Accepted("KC-08", "seed-realm-when-none-is-declared", _remove(REALM, "realm")),
    Accepted("KC-12", "one-second-expiry", _events(eventsExpiration=1.0, eventsEnabled="true")),
    Accepted("KC-04", "localhost-in-a-local-stack", _all(_local_domain, _client(validRedirectUris=["http://localhost:3000/cb", "https://[::1]/cb"]))),
    Accepted("KC-04", "exact-web-origin", _client(webOrigins=[f"https://psra.{DOMAIN}", "+"])),
    Accepted("KC-05", "confidential-lower-case", _client(accessType="confidential")),
    Accepted("KC-06", "code-flow-off", _client(standardFlowEnabled="false", pkceCodeChallengeMethod="plain")),
    Accepted("KC-07", "flags-as-false-text", _client(implicitFlowEnabled="false", directAccessGrantsEnabled="false")),
    Accepted(
        "KC-08",
        "exact-allowed-paths",
        _label("keycloak", _RULE, f"Host(`auth.{DOMAIN}`) && (PathPrefix(`/realms/sevensa`) || PathPrefix(`/resources/`))"),
    ),
    Accepted("KC-09", "upper-case-proxy-headers", _env("keycloak", "KC_PROXY_HEADERS=XForwarded", drop="KC_PROXY_HEADERS")),
    Accepted("KC-09", "service-on-8080", _label("keycloak", "traefik.http.services.keycloak.loadbalancer.server.port", "8080")),
)



# ---- Traefik and TLS (TLS-*, TR-*) --------------------------------------------------------------

_ROUTED = ("keycloak", "oauth2-proxy", "openbao", "prometheus", "psra-frontend")
_NO_HSTS = "sends no HSTS header of ≥ 1 year with includeSubDomains"
_NO_HEADERS = "lacks a security-headers middleware (contentTypeNosniff and frame options)"


def _every_router(message: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{name}-container", f"router {name} {message}") for name in _ROUTED)


def _traefik_findings(*messages: str) -> tuple[tuple[str, str], ...]:
    return tuple(("traefik-container", m) for m in messages)


def _frontend(key: str, value: str) -> Edit:
    return _label("psra-frontend", f"traefik.http.routers.psra-frontend.{key}", value)


def _static(old: str, new: str) -> Edit:
    return _file("traefik", TRAEFIK_STATIC, old, new)


def _dynamic(old: str, new: str) -> Edit:
    return _file("traefik", TRAEFIK_DYNAMIC, old, new)


_REDIRECT = "entryPoint: {to: websecure, scheme: https, permanent: true}"
_DASHBOARD = {
    "traefik.http.routers.dashboard.rule": f"Host(`traefik.{DOMAIN}`)",
    "traefik.http.routers.dashboard.service": "api@internal",
    "traefik.http.routers.dashboard.entrypoints": "websecure",
    "traefik.http.routers.dashboard.tls.certresolver": "letsencrypt",
}

TRAEFIK_VIOLATIONS = (
    Violation(
        "TLS-01", "no-min-version", _dynamic("minVersion: VersionTLS12, ", ""),
        _traefik_findings("Traefik's default TLS options set minVersion nothing (want VersionTLS12 or VersionTLS13)"),
    ),
    Violation(
        "TLS-01", "tls-1-0", _dynamic("VersionTLS12", "VersionTLS10"),
        _traefik_findings("Traefik's default TLS options set minVersion versiontls10 (want VersionTLS12 or VersionTLS13)"),
    ),
    Violation(
        "TLS-02", "no-port-80", _static('address: ":80"', 'address: ":8000"'),
        _traefik_findings("no entrypoint on :80 redirects to HTTPS (no :80 entrypoint declared)"),
    ),
    Violation("TLS-02", "redirect-to-http", _static("scheme: https", "scheme: http"), _traefik_findings("entrypoint web (:80) does not redirect to HTTPS")),
    Violation(
        "TLS-03", "hsts-without-subdomains", _dynamic("stsIncludeSubdomains: true", "stsIncludeSubdomains: false"), _every_router(_NO_HSTS)
    ),
    Violation("TLS-03", "hsts-one-second-short", _dynamic("stsSeconds: 63072000", "stsSeconds: 31535999"), _every_router(_NO_HSTS)),
    Violation("TLS-03", "hsts-not-a-number", _dynamic("stsSeconds: 63072000", "stsSeconds: forever"), _every_router(_NO_HSTS)),
    Violation(
        "TLS-04", "no-entrypoint",
        _unlabel("psra-frontend", "traefik.http.routers.psra-frontend.entrypoints"),
        (("psra-frontend-container", "router psra-frontend names no entrypoint, so it also listens on plain HTTP"),),
    ),
    Violation(
        "TLS-04", "plain-entrypoint-by-name-case", _frontend("entrypoints", "Web"),
        (("psra-frontend-container", "router psra-frontend listens on plain-HTTP entrypoint(s) Web"),),
    ),
    Violation(
        "TLS-04", "no-tls",
        _all(_frontend("tls", "false"), _unlabel("psra-frontend", "traefik.http.routers.psra-frontend.tls.certresolver")),
        (
            ("psra-frontend-container", "router psra-frontend does not terminate TLS"),
            ("psra-frontend-container", "router psra-frontend uses no declared certificate resolver (letsencrypt)"),
        ),
    ),
    Violation(
        "TLS-04", "two-plain-entrypoints",
        _all(_static('  websecure:\n', '  http:\n    address: ":80"\n  websecure:\n'), _frontend("entrypoints", "web,http")),
        (("psra-frontend-container", "router psra-frontend listens on plain-HTTP entrypoint(s) web, http"),),
    ),
    Violation(
        "TLS-04", "two-declared-resolvers",
        _all(_static("certificatesResolvers:\n", "certificatesResolvers:\n  zerossl:\n    acme: {email: ops@example.test, storage: /letsencrypt/z.json}\n"),
             _frontend("tls.certresolver", "other")),
        (("psra-frontend-container", "router psra-frontend uses no declared certificate resolver (letsencrypt, zerossl)"),),
    ),
    Violation(
        "TLS-04", "acme-volume-one-level-deeper",
        _edit("traefik", mounts=[{"type": "volume", "source": "traefik-certificates", "target": "/letsencrypt/X"}]),
        _traefik_findings("ACME storage /letsencrypt/acme.json (letsencrypt) is not on a named volume: certificates are lost on recreate"),
    ),
    Violation(
        "TLS-04", "undeclared-resolver", _frontend("tls.certresolver", "other"),
        (("psra-frontend-container", "router psra-frontend uses no declared certificate resolver (letsencrypt)"),),
    ),
    Violation(
        "TLS-04", "acme-storage-off-volume", _static("storage: /letsencrypt/acme.json", "storage: /letsencrypt-old/acme.json"),
        _traefik_findings("ACME storage /letsencrypt-old/acme.json (letsencrypt) is not on a named volume: certificates are lost on recreate"),
    ),
    Violation(
        "TR-01", "swarm-default", _static('docker: {endpoint: "tcp://socket-proxy:2375", exposedByDefault: false}', 'swarm: {endpoint: "tcp://socket-proxy:2375"}'),
        _traefik_findings("Traefik's swarm provider exposes every container by default (exposedByDefault is not false)"),
    ),
    Violation(
        "TR-01", "docker-default", _static(", exposedByDefault: false", ""),
        _traefik_findings("Traefik's docker provider exposes every container by default (exposedByDefault is not false)"),
    ),
    Violation(
        "TR-02", "insecure-api",
        _static("insecure: false", "insecure: true"),
        _traefik_findings("Traefik's API is served insecurely (api.insecure=true)"),
    ),
    Violation(
        "TR-02", "api-port-entrypoint",
        _static('websecure:\n    address: ":443"', 'websecure:\n    address: ":443"\n  traefik:\n    address: ":8080"'),
        _traefik_findings("entrypoint traefik listens on :8080 (the insecure API port)"),
    ),
    Violation(
        "TR-02", "dashboard-without-auth",
        _labels("traefik", {**_DASHBOARD, "traefik.http.routers.dashboard.middlewares": "security-headers@file,rate-limit@file"}),
        (("traefik-container", "router dashboard serves Traefik's API/dashboard without authentication"),),
    ),
    Violation("TR-03", "frames-allowed", _dynamic("frameDeny: true", "frameDeny: false"), _every_router(_NO_HEADERS)),
    Violation("TR-03", "no-nosniff", _dynamic("contentTypeNosniff: true", "contentTypeNosniff: false"), _every_router(_NO_HEADERS)),
    Violation(
        "TR-04", "zero-average", _dynamic("average: 50", "average: 0"),
        (
            ("keycloak-container", "public router keycloak has no rate limit (average > 0 and burst > 0)"),
            ("oauth2-proxy-container", "public router oauth2-proxy has no rate limit (average > 0 and burst > 0)"),
        ),
    ),
    Violation(
        "TR-04", "average-not-a-number", _dynamic("average: 50", "average: fast"),
        (
            ("keycloak-container", "public router keycloak has no rate limit (average > 0 and burst > 0)"),
            ("oauth2-proxy-container", "public router oauth2-proxy has no rate limit (average > 0 and burst > 0)"),
        ),
    ),
    Violation(
        "TR-04", "zero-burst", _dynamic("burst: 100", "burst: 0"),
        (
            ("keycloak-container", "public router keycloak has no rate limit (average > 0 and burst > 0)"),
            ("oauth2-proxy-container", "public router oauth2-proxy has no rate limit (average > 0 and burst > 0)"),
        ),
    ),
    Violation(
        "TR-04", "forwarded-headers-insecure",
        _static('address: ":443"', 'address: ":443"\n    forwardedHeaders: {insecure: true}'),
        _traefik_findings("entrypoint websecure trusts X-Forwarded-* from anyone (forwardedHeaders.insecure)"),
    ),
    Violation(
        "TR-05", "no-host-no-auth",
        _all(_frontend("rule", "PathPrefix(`/x`)"), _frontend("middlewares", "security-headers@file")),
        (("psra-frontend-container", "router psra-frontend (PathPrefix(`/x`)) is not public and has no forward-auth middleware"),),
    ),
    Violation(
        "TR-05", "no-rule-no-auth",
        _all(_frontend("rule", ""), _frontend("middlewares", "security-headers@file")),
        (("psra-frontend-container", "router psra-frontend (no host) is not public and has no forward-auth middleware"),),
    ),
    Violation(
        "TR-05", "oauth2-proxy-beyond-its-endpoints",
        _label("oauth2-proxy", "traefik.http.routers.oauth2-proxy.rule", f"Host(`psra.{DOMAIN}`) && (PathPrefix(`/oauth2/`) || PathPrefix(`/app`))"),
        (("oauth2-proxy-container", f"router oauth2-proxy (psra.{DOMAIN}) is not public and has no forward-auth middleware"),),
    ),
    Violation(
        "TR-05", "public-and-private-hosts",
        _label("keycloak", "traefik.http.routers.keycloak.rule", f"(Host(`auth.{DOMAIN}`) || Host(`admin.{DOMAIN}`)) && PathPrefix(`/realms/sevensa`)"),
        (("keycloak-container", f"router keycloak (auth.{DOMAIN}, admin.{DOMAIN}) is not public and has no forward-auth middleware"),),
    ),
)

TRAEFIK_ACCEPTED = (
    *(Accepted(rule, "no-traefik", _remove("container:Container", "traefik-container")) for rule in ("TLS-01", "TLS-02", "TR-01", "TR-02")),
    Accepted("TLS-01", "tls-1-3-any-case", _dynamic("VersionTLS12", "versiontls13")),
    Accepted("TLS-02", "redirect-by-flags", _all(_static(_REDIRECT, "{}"), _edit("traefik", command=[
        "--configFile=/etc/traefik/traefik.yml",
        "--entrypoints.web.http.redirections.entrypoint.to=websecure",
        "--entrypoints.web.http.redirections.entrypoint.scheme=https",
    ]))),
    Accepted("TLS-03", "hsts-exactly-one-year", _dynamic("stsSeconds: 63072000", "stsSeconds: 31536000")),
    Accepted("TLS-04", "tls-implied-by-resolver", _frontend("tls", "false")),
    Accepted("TLS-04", "entrypoint-declared-elsewhere", _frontend("entrypoints", "websecure,internal")),
    Accepted("TLS-04", "acme-storage-under-volume-with-trailing-slash", _edit("traefik", mounts=[
        {"type": "volume", "source": "traefik-certificates", "target": "/letsencrypt/"}
    ])),
    Accepted("TR-01", "exposed-by-default-off-by-flag", _all(
        _static(", exposedByDefault: false", ""),
        _edit("traefik", command=["--configFile=/etc/traefik/traefik.yml", "--providers.docker.exposedByDefault=false"]),
    )),
    Accepted("TR-02", "dashboard-behind-basic-auth", _all(
        _dynamic("    protected:", "    admin-auth:\n      basicAuth: {usersFile: /etc/traefik/users}\n    protected:"),
        _labels("traefik", {**_DASHBOARD, "traefik.http.routers.dashboard.middlewares": "security-headers@file,admin-auth@file"}),
    )),
    Accepted("TR-03", "custom-frame-options", _dynamic("frameDeny: true", "customFrameOptionsValue: DENY")),
    Accepted("TR-04", "forwarded-headers-trusted-ips", _static('address: ":443"', 'address: ":443"\n    forwardedHeaders: {insecure: false}')),
    Accepted("TR-04", "smallest-limit", _dynamic("average: 50, burst: 100", "average: 1, burst: 1")),
    Accepted("TR-05", "oauth2-proxy-own-endpoints", _label(
        "oauth2-proxy", "traefik.http.routers.oauth2-proxy.middlewares", "security-headers@file,rate-limit@file"
    )),
)


# ---- Networks (NW-*, HOST-02) ---------------------------------------------------------------------

NETWORK_VIOLATIONS = (
    Violation(
        "NW-01", "publish-all-and-ports",
        _edit("psra-frontend", publishAllPorts=True, ports=[{"internal": 3000.0, "external": 3001.0}, {"internal": 3002.0}]),
        (
            ("psra-frontend-container", "container psra-frontend publishes all exposed ports"),
            ("psra-frontend-container", "container psra-frontend publishes host port(s) 3001, 3002; only Traefik may publish"),
        ),
    ),
    Violation(
        "NW-01", "traefik-extra-port",
        _edit("traefik", ports=[{"internal": 80.0, "external": 80.0}, {"internal": 8080.0, "external": 8081.0, "ip": "127.0.0.1"}]),
        (("traefik-container", "Traefik publishes 8081 besides 80/443"),),
    ),
    Violation(
        "NW-01", "traefik-two-extra-ports",
        _edit("traefik", ports=[{"internal": 9000.0, "ip": "127.0.0.1"}, {"internal": 8080.0, "external": 8081.0, "ip": "127.0.0.1"}]),
        (("traefik-container", "Traefik publishes 8081, 9000 besides 80/443"),),
    ),
    Violation(
        "NW-01", "port-without-numbers", _edit("psra-frontend", ports=[{"ip": "127.0.0.1"}]),
        (("psra-frontend-container", "container psra-frontend publishes host port(s) 0; only Traefik may publish"),),
    ),
    Violation(
        "NW-02", "ipv6-any",
        _edit("traefik", ports=[{"internal": 443.0, "external": 443.0, "ip": "[::]"}, {"internal": 8080.0, "external": 8080.0, "ip": "::"}]),
        (("traefik-container", "container traefik publishes port 8080 on all interfaces; bind it to 127.0.0.1"),),
    ),
    Violation(
        "NW-02", "internal-port-only",
        _edit("psra-db", ports=[{"internal": 5432.0, "ip": ""}]),
        (("psra-db-container", "container psra-db publishes port 5432 on all interfaces; bind it to 127.0.0.1"),),
    ),
    Violation(
        "NW-03", "default-bridge", _edit("psra-db", networksAdvanced=[]),
        (("psra-db-container", "postgres container psra-db sits on Docker's default bridge"),),
    ),
    Violation(
        "NW-03", "default-network-mode", _edit("psra-db", networksAdvanced=[], networkMode="default"),
        (("psra-db-container", "postgres container psra-db sits on Docker's default bridge"),),
    ),
    Violation(
        "NW-03", "undeclared-network", _edit("openbao", networksAdvanced=[{"name": "shared-net"}, {"name": "missing-net"}]),
        (("openbao-container", "openbao container openbao is on network missing-net, which is not internal"),),
    ),
    Violation(
        "NW-05", "shares-an-external-network",
        _edit("socket-proxy", networksAdvanced=[{"name": "docker-api-net"}, {"name": "egress-net"}]),
        (
            ("socket-proxy-container", "socket proxy socket-proxy shares network egress-net with backup, keycloak, oauth2-proxy"),
            ("socket-proxy-container", "socket proxy socket-proxy is on network egress-net, which is not internal"),
        ),
    ),
    Violation(
        "NW-05", "post-with-spaces", _env("socket-proxy", "POST= 1 ", drop="POST"),
        (("socket-proxy-container", "socket proxy socket-proxy allows write requests (POST= 1 )"),),
    ),
    Violation(
        "HOST-02", "tcp-with-tls-port", _resource("providers:docker", "docker", host="tcp://vps.example.test:2376"),
        (("docker", "the Docker provider reaches the daemon over TCP (tcp://vps.example.test:2376)"),),
    ),
)

NETWORK_ACCEPTED = (
    Accepted("NW-01", "traefik-both-edge-ports", _edit("traefik", ports=[{"internal": 8000.0, "external": 80.0}, {"internal": 443.0}])),
    Accepted("NW-01", "publish-all-off-as-text", _edit("psra-frontend", publishAllPorts="false")),
    Accepted("NW-02", "traefik-edge-on-all-interfaces", _edit("traefik", ports=[{"internal": 443.0, "external": 443.0, "ip": "0.0.0.0"}])),
    Accepted("NW-03", "host-network-is-cr-13s", _edit("psra-db", networksAdvanced=[], networkMode="host")),
    Accepted("NW-05", "post-empty", _env("socket-proxy", "POST=", drop="POST")),
    Accepted("NW-05", "post-unset", _env("socket-proxy", drop="POST")),
    Accepted("HOST-02", "no-host", _resource("providers:docker", "docker", host=None)),
    Accepted("HOST-02", "ssh", _resource("providers:docker", "docker", host="ssh://deploy@tcp.example.test")),
)


# ---- Container runtime (CR-*) ---------------------------------------------------------------------


def _frontend_finding(message: str) -> tuple[tuple[str, str], ...]:
    return (("psra-frontend-container", f"container psra-frontend {message}"),)


def _bind(source: str, read_only: bool = False) -> dict[str, Any]:
    return {"type": "bind", "source": source, "target": "/host", "readOnly": read_only}


def _direct_image(reference: str) -> Edit:
    """psra-frontend names its image itself instead of depending on a pulled RemoteImage."""

    def apply(document: Document) -> None:
        resource = container(document, "psra-frontend")
        resource["inputs"]["image"] = reference
        resource["dependencies"] = [d for d in resource["dependencies"] if "RemoteImage" not in d]

    return apply


def _image(reference: str | None, **changes: Any) -> Edit:
    return _resource("remoteImage:RemoteImage", "psra-frontend-image", name=reference, **changes)


CONTAINER_VIOLATIONS = (
    Violation("CR-01", "privileged-as-text", _edit("psra-frontend", privileged="True"), _frontend_finding("runs privileged")),
    Violation(
        "CR-02",
        "no-drops-and-an-extra-cap",
        _edit("psra-frontend", capabilities={"adds": ["cap_sys_admin", "NET_BIND_SERVICE"]}),
        (
            ("psra-frontend-container", "container psra-frontend does not drop ALL capabilities (drops: none)"),
            ("psra-frontend-container", "container psra-frontend adds capabilities outside the allowlist: SYS_ADMIN"),
        ),
    ),
    Violation(
        "CR-02",
        "drops-some",
        _edit("psra-frontend", capabilities={"drops": ["SETUID", "NET_RAW"]}),
        _frontend_finding("does not drop ALL capabilities (drops: NET_RAW, SETUID)"),
    ),
    Violation(
        "CR-02",
        "two-extra-caps-lower-case-all",
        _edit("psra-frontend", capabilities={"drops": ["all"], "adds": ["SYS_PTRACE", "NET_ADMIN"]}),
        _frontend_finding("adds capabilities outside the allowlist: NET_ADMIN, SYS_PTRACE"),
    ),
    Violation(
        "CR-02",
        "another-services-documented-cap",
        _edit("psra-frontend", capabilities={"drops": ["ALL"], "adds": ["DAC_READ_SEARCH"]}),
        _frontend_finding("adds capabilities outside the allowlist: DAC_READ_SEARCH"),
    ),
    Violation(
        "CR-03", "no-new-privileges-false", _edit("psra-frontend", securityOpts=["no-new-privileges:false"]),
        _frontend_finding("lacks securityOpts no-new-privileges:true"),
    ),
    Violation(
        "CR-04", "writable-as-text", _edit("psra-frontend", readOnly="false"),
        _frontend_finding("has a writable root filesystem and is not a documented exception"),
    ),
    Violation("CR-05", "root-with-extra-fields", _edit("psra-frontend", user="0:1000:1000"), _frontend_finding("runs as root (user '0:1000:1000')")),
    Violation("CR-05", "root-by-name", _edit("psra-frontend", user="root"), _frontend_finding("runs as root (user 'root')")),
    Violation(
        "CR-05", "no-user-unknown-image", _edit("psra-frontend", user=None),
        _frontend_finding("sets no user and its image is not known to run as non-root"),
    ),
    Violation(
        "CR-05",
        "no-user-no-image",
        _all(_edit("psra-frontend", user=None), _image(None), _label("psra-frontend", "nl.sevensa.platform.image", None)),
        _frontend_finding("sets no user and its image is not known to run as non-root"),
    ),
    Violation(
        "CR-06",
        "zero-limits",
        _edit("psra-frontend", memory=0, cpus="0", cpuQuota=0),
        (
            ("psra-frontend-container", "container psra-frontend has no memory limit"),
            ("psra-frontend-container", "container psra-frontend has no CPU limit (cpus, cpuShares or cpuQuota)"),
        ),
    ),
    Violation("CR-06", "negative-memory", _edit("psra-frontend", memory=-1), _frontend_finding("has no memory limit")),
    Violation(
        "CR-08", "no-policy", _edit("psra-frontend", restart=None),
        _frontend_finding("has restart policy 'no' (want unless-stopped or bounded on-failure)"),
    ),
    Violation(
        "CR-08", "one-retry-too-many", _edit("psra-frontend", restart="on-failure", maxRetryCount=6),
        _frontend_finding("restarts on-failure with maxRetryCount 6 (want 1..5)"),
    ),
    Violation(
        "CR-08", "unbounded-retries", _edit("psra-frontend", restart="on-failure"),
        _frontend_finding("restarts on-failure with maxRetryCount 0 (want 1..5)"),
    ),
    Violation(
        "CR-09",
        "healthcheck-none-and-no-wait",
        _edit("psra-frontend", healthcheck={"tests": ["none"]}, wait=None),
        (
            ("psra-frontend-container", "container psra-frontend declares no healthcheck"),
            ("psra-frontend-container", "container psra-frontend: the deploy does not wait for it to be healthy (wait is not true)"),
        ),
    ),
    Violation("CR-09", "healthcheck-not-a-mapping", _edit("psra-frontend", healthcheck="true"), _frontend_finding("declares no healthcheck")),
    Violation("CR-09", "healthcheck-without-tests", _edit("psra-frontend", healthcheck={"interval": "30s"}), _frontend_finding("declares no healthcheck")),
    Violation("CR-10", "invalid", _image("Bad Image"), (("psra-frontend-image", "image 'Bad Image' is not a valid reference"),)),
    Violation(
        "CR-10", "untagged", _image("ghcr.io/sevensa/psra-frontend"),
        (("psra-frontend-image", "image 'ghcr.io/sevensa/psra-frontend' has neither a tag nor a digest"),),
    ),
    Violation(
        "CR-10", "latest-by-image-name", _image(None, imageName="ghcr.io/sevensa/psra-frontend:latest"),
        (("psra-frontend-image", "image 'ghcr.io/sevensa/psra-frontend:latest' uses the 'latest' tag"),),
    ),
    Violation(
        "CR-10", "built-image-latest", _add_resource("docker:index/image:Image", "built-app", {"imageName": "registry.example.test/app:latest"}),
        (("built-app", "image 'registry.example.test/app:latest' uses the 'latest' tag"),),
    ),
    Violation(
        "CR-10", "container-names-latest", _direct_image("nginx:latest"),
        (("psra-frontend-container", "image 'nginx:latest' uses the 'latest' tag"),),
    ),
    Violation(
        "CR-10", "container-names-empty-image", _direct_image(""),
        (("psra-frontend-container", "image '' is not a valid reference"),),
    ),
    Violation(
        "CR-11", "proxy-read-write",
        _edit("socket-proxy", mounts=[{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}]),
        (("socket-proxy-container", "socket proxy socket-proxy mounts /var/run/docker.sock read-write"),),
    ),
    Violation(
        "CR-11", "relative-socket-path", _edit("psra-frontend", mounts=[_bind("docker.sock", read_only=True)]),
        _frontend_finding("mounts the Docker socket docker.sock; only the socket proxy may"),
    ),
    Violation(
        "CR-14",
        "podman-socket-and-run-directories",
        _edit("psra-frontend", mounts=[_bind("/run/podman/podman.sock"), _bind("var/run/"), _bind("/run/user/1000"), _bind("/runner")]),
        (
            ("psra-frontend-container", "container psra-frontend mounts the container runtime socket /run/podman/podman.sock"),
            ("psra-frontend-container", "container psra-frontend mounts the host's /var/run (runtime sockets live there)"),
            ("psra-frontend-container", "container psra-frontend mounts the host's /run/user/1000 (runtime sockets live there)"),
        ),
    ),
    Violation(
        "CR-14", "cri-dockerd-socket", _edit("psra-frontend", mounts=[_bind("/srv/cri-dockerd.sock", read_only=True)]),
        _frontend_finding("mounts the container runtime socket /srv/cri-dockerd.sock"),
    ),
    Violation(
        "CR-12",
        "never-mountable-and-sensitive",
        _edit(
            "psra-frontend",
            mounts=[_bind("/"), _bind("/proc/"), _bind("/boot", read_only=True), _bind("/usr/lib"), _bind("/etcetera"), _bind("/var/lib/app")],
        ),
        (
            ("psra-frontend-container", "container psra-frontend mounts the host's /"),
            ("psra-frontend-container", "container psra-frontend mounts the host's /proc"),
            ("psra-frontend-container", "container psra-frontend mounts the host's /boot"),
            ("psra-frontend-container", "container psra-frontend mounts the sensitive host path /usr/lib read-write"),
        ),
    ),
    Violation(
        "CR-12", "after-a-volume", _edit("psra-frontend", mounts=[{"type": "volume", "source": "data", "target": "/data"}, _bind("/etc")]),
        _frontend_finding("mounts the sensitive host path /etc read-write"),
    ),
    Violation("CR-12", "trailing-x", _edit("psra-frontend", mounts=[_bind("/usr/X")]), _frontend_finding("mounts the sensitive host path /usr/X read-write")),
    Violation(
        "CR-14", "after-a-volume", _edit("psra-frontend", mounts=[{"type": "volume", "source": "data", "target": "/data"}, _bind("/run/X")]),
        _frontend_finding("mounts the host's /run/X (runtime sockets live there)"),
    ),
    Violation(
        "CR-12", "sensitive-path-itself", _edit("psra-frontend", mounts=[_bind("/etc/")]),
        _frontend_finding("mounts the sensitive host path /etc read-write"),
    ),
    Violation(
        "CR-13",
        "every-namespace-device-and-profile",
        _edit(
            "psra-frontend",
            networkMode="HOST",
            ipcMode="host",
            usernsMode="host",
            cgroupnsMode="host",
            devices=[{"hostPath": "/dev/fuse"}],
            securityOpts=["no-new-privileges:true", "apparmor:unconfined", "seccomp = unconfined"],
        ),
        (
            ("psra-frontend-container", "container psra-frontend shares the host's namespace (networkMode=host)"),
            ("psra-frontend-container", "container psra-frontend shares the host's namespace (ipcMode=host)"),
            ("psra-frontend-container", "container psra-frontend shares the host's namespace (usernsMode=host)"),
            ("psra-frontend-container", "container psra-frontend shares the host's namespace (cgroupnsMode=host)"),
            ("psra-frontend-container", "container psra-frontend maps host devices"),
            ("psra-frontend-container", "container psra-frontend runs with apparmor:unconfined"),
            ("psra-frontend-container", "container psra-frontend runs with seccomp = unconfined"),
        ),
    ),
)

CONTAINER_ACCEPTED = (
    Accepted("CR-01", "privileged-false-text", _edit("psra-frontend", privileged="false")),
    Accepted("CR-02", "documented-cap-of-its-service", _edit("backup", capabilities={"drops": ["ALL"], "adds": ["CAP_DAC_READ_SEARCH"]})),
    Accepted("CR-02", "whole-allowlist", _edit("psra-frontend", capabilities={"drops": ["ALL"], "adds": [
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "NET_BIND_SERVICE", "IPC_LOCK", "KILL"
    ]})),
    Accepted("CR-03", "bare-flag-spaced", _edit("psra-frontend", securityOpts=["No-New-Privileges"])),
    Accepted("CR-03", "with-spaces", _edit("psra-frontend", securityOpts=["no-new-privileges: true"])),
    Accepted("CR-04", "documented-writable-root", _edit("backup", readOnly=False)),
    Accepted("CR-05", "documented-root", _edit("socket-proxy", user="root:root")),
    Accepted("CR-05", "documented-root-service-without-user", _edit("socket-proxy", user=None)),
    Accepted("CR-05", "non-root-image-from-docker-hub", _all(
        _edit("prometheus", user=None), _label("prometheus", "nl.sevensa.platform.image", "docker.io/prom/prometheus:v3.6.0")
    )),
    Accepted("CR-05", "uid-with-group", _edit("psra-frontend", user="1000:0")),
    Accepted("CR-05", "non-root-image-under-library", _all(
        _edit("prometheus", user=None), _label("prometheus", "nl.sevensa.platform.image", "library/prom/prometheus:v3.6.0")
    )),
    Accepted("CR-06", "cpu-quota-only", _edit("psra-frontend", cpus=None, cpuQuota=50_000)),
    Accepted("CR-06", "one-megabyte", _edit("psra-frontend", memory=1)),
    Accepted("CR-08", "one-retry", _edit("psra-frontend", restart="on-failure", maxRetryCount=1)),
    Accepted("CR-08", "five-retries", _edit("psra-frontend", restart="on-failure", maxRetryCount=5)),
    Accepted("CR-09", "wait-and-tests-as-given", _edit("psra-frontend", healthcheck={"tests": ["CMD", "/healthcheck"]}, wait="True")),
    Accepted("CR-10", "tag-and-digest", _image("ghcr.io/sevensa/psra-frontend:2.0.0@sha256:" + "b" * 64)),
    Accepted("CR-10", "container-runs-image-id", _direct_image("sha256:" + "c" * 64)),
    Accepted("CR-10", "image-id-is-never-read-as-a-reference", _direct_image("sha256:" + "c" * 200)),
    Accepted("CR-10", "container-without-image-input", _direct_image(None)),
    Accepted("CR-10", "container-image-named-by-its-remote-image", _edit("psra-frontend", image="ghcr.io/sevensa/psra-frontend:latest")),
    Accepted("CR-10", "container-image-named-by-its-built-image", _all(
        _direct_image("registry.example.test/app:latest"),
        _add_resource("docker:index/image:Image", "built-app", {"imageName": "registry.example.test/app:1.0.0"}),
        lambda d: container(d, "psra-frontend")["dependencies"].append(entry(d, "image:Image", "built-app")["urn"]),
    )),
    Accepted("CR-10", "container-names-pinned-image", _direct_image("nginx:1.27.2")),
    Accepted("CR-11", "proxy-read-only-socket", _edit("socket-proxy", mounts=[_bind("/var/run/docker.sock", read_only=True)])),
    Accepted("CR-14", "proxy-may-mount-run", _edit("socket-proxy", mounts=[_bind("/run/containerd/containerd.sock", read_only=True)])),
    Accepted("CR-14", "docker-socket-is-cr-11s", _edit("psra-frontend", mounts=[_bind("/var/run/docker.sock", read_only=True)])),
    Accepted("CR-14", "volume-named-run", _edit("psra-frontend", mounts=[{"type": "volume", "source": "run", "target": "/run"}])),
    Accepted("CR-12", "sensitive-read-only", _edit("psra-frontend", mounts=[_bind("/etc/ssl/certs/", read_only=True), _bind("/usr", read_only=True)])),
    Accepted("CR-12", "docker-socket-is-cr-11s", _edit("psra-frontend", mounts=[_bind("/var/run/docker.sock")])),
    Accepted("CR-12", "volume-of-root", _edit("psra-frontend", mounts=[{"type": "volume", "source": "/", "target": "/data"}])),
    Accepted("CR-13", "private-namespaces", _edit("psra-frontend", networkMode="bridge", ipcMode="private", devices=[], securityOpts=[
        "no-new-privileges:true", "seccomp=/etc/docker/seccomp.json", "apparmor=docker-default"
    ])),
)


# ---- OpenBao (BAO-*) ------------------------------------------------------------------------------

_JWT = "jwt/authBackendRole:AuthBackendRole"
_DB_ROLE = "database/secretBackendRole:SecretBackendRole"
_PKI = "pkiSecret/secretBackendRole:SecretBackendRole"


def _bao(message: str) -> tuple[tuple[str, str], ...]:
    return (("openbao-container", f"OpenBao openbao {message}"),)


def _hcl(content: str) -> Edit:
    return _content("openbao", OPENBAO_HCL, content)


def _hcl_prefix(settings: str) -> Edit:
    """Top-level settings before the rest of the server HCL."""
    return _file("openbao", OPENBAO_HCL, 'storage "file"', f'{settings}\nstorage "file"')


def _approle(**changes: Any) -> Edit:
    return _resource(APPROLE, "psra-role", **changes)


def _approle_findings(*messages: str) -> tuple[tuple[str, str], ...]:
    return tuple(("psra-role", f"AppRole psra-role{m}") for m in messages)


def _app_policy(*stanzas: str) -> Edit:
    return _resource(POLICY, "psra-role-policy", policy="\n".join(stanzas))


def _path(path: str, *capabilities: str) -> str:
    return f'path "{path}" {{ capabilities = [{", ".join(repr(c).replace(chr(39), chr(34)) for c in capabilities)}] }}'


def _policy_findings(*messages: str) -> tuple[tuple[str, str], ...]:
    return tuple(("psra-role-policy", f"policy psra-role {m}") for m in messages)


def _tenant(*messages: str) -> tuple[tuple[str, str], ...]:
    return tuple(("psra-role", f"AppRole psra-role (tenant psra) is granted {m}") for m in messages)


_EVERY_TENANT = "which reaches every tenant's paths"

OPENBAO_VIOLATIONS = (
    Violation("BAO-01", "no-audit-device", _hcl('storage "file" { path = "/openbao/file" }\n'), _bao("declares no file audit device in its server HCL")),
    Violation(
        "BAO-01", "only-a-stream-device", _hcl('audit "file" "out" {\n  options {\n    file_path = "stderr"\n  }\n}\n'),
        _bao("declares no file audit device in its server HCL"),
    ),
    Violation("BAO-01", "hcl-does-not-parse", _hcl('listener "tcp" {'), (("openbao-container", "OpenBao openbao: the server HCL does not parse"),)),
    Violation(
        "BAO-01", "log-beside-the-volume", _file("openbao", OPENBAO_HCL, "/openbao/audit/audit.log", "/openbao/audit-old/audit.log"),
        _bao("writes its audit log to /openbao/audit-old/audit.log, which is not on a named volume"),
    ),
    Violation(
        "BAO-01", "audit-volume-with-trailing-x",
        _edit("openbao", mounts=[{"type": "volume", "source": "openbao-audit", "target": "/openbao/auditX"}]),
        _bao("writes its audit log to /openbao/audit/audit.log, which is not on a named volume"),
    ),
    Violation(
        "BAO-01", "api-audit-resource", _add_resource("vault:index/audit:Audit", "api-audit", {"type": "file"}),
        (("api-audit", "a vault.Audit resource is declared; OpenBao ≥ 2.4 refuses API-created audit devices (declare it in the server HCL)"),),
    ),
    Violation(
        "BAO-02", "plain-http-on-external-networks",
        _edit("openbao", networksAdvanced=[{"name": "shared-net"}, {"name": "egress-net"}, {"name": "traefik-net"}]),
        _bao("serves plain HTTP and is reachable on non-internal network(s) egress-net, traefik-net"),
    ),
    Violation(
        "BAO-02", "old-tls", _file("openbao", OPENBAO_HCL, "tls_disable = true", 'tls_min_version = "tls11"'),
        _bao("accepts tls11 (want tls12 or newer)"),
    ),
    Violation(
        "BAO-02", "router-without-forward-auth", _label("openbao", "traefik.http.routers.openbao.middlewares", "rate-limit@file"),
        (("openbao-container", "router openbao serves OpenBao without forward-auth"),),
    ),
    Violation(
        "BAO-02", "tcp-after-a-unix-listener",
        _hcl('listener "unix" {\n  address = "/run/bao.sock"\n}\nlistener "tcp" {\n  tls_min_version = "tls10"\n}\n'),
        _bao("accepts tls10 (want tls12 or newer)"),
    ),
    Violation(
        "BAO-02", "token-less-metrics-on-the-routed-listener",
        _file("openbao", OPENBAO_HCL, "tls_disable = true", "tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = true\n  }"),
        _bao("serves /v1/sys/metrics without a token on its routed listener (port 8200)"),
    ),
    Violation(
        "BAO-02", "token-less-metrics-on-the-routed-ipv6-listener",
        _file("openbao", OPENBAO_HCL, '"0.0.0.0:8200"\n  tls_disable = true', '"[::]:8200"\n  tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = true\n  }'),
        _bao("serves /v1/sys/metrics without a token on its routed listener (port 8200)"),
    ),
    Violation(
        "BAO-02", "token-less-metrics-on-the-default-address",  # OpenBao listens on 127.0.0.1:8200 when no address is given
        _file("openbao", OPENBAO_HCL, '  address     = "0.0.0.0:8200"\n  tls_disable = true', '  tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = true\n  }'),
        _bao("serves /v1/sys/metrics without a token on its routed listener (port 8200)"),
    ),
    Violation("BAO-02", "hcl-does-not-parse", _hcl('listener "tcp" {'), (("openbao-container", "OpenBao openbao: the server HCL does not parse"),)),
    Violation(
        "BAO-03",
        "every-condition",
        _app_policy(
            _path("sys/mounts", "read", "sudo", "root"),
            _path("psra/transit/encrypt/k", "update", "read", "create"),
            _path("psra/other/x", "read"),
            _path("psra/database/creds/app", "read", "update", "delete"),
            _path("auth/token/create", "update"),
            _path("psra/kv/data/+/x", "read", "root"),
        ),
        _policy_findings(
            "reaches 'sys/mounts' (sys/ or auth/)",
            "grants root, sudo on 'sys/mounts'",
            "grants 'sys/mounts', which is not a KV v2 data path, a transit key or database credentials",
            "grants create, read on transit path 'psra/transit/encrypt/k' (only update is needed)",
            "grants 'psra/other/x', which is not a KV v2 data path, a transit key or database credentials",
            "grants delete, update on 'psra/database/creds/app' (applications only read)",
            "reaches 'auth/token/create' (sys/ or auth/)",
            "grants 'auth/token/create', which is not a KV v2 data path, a transit key or database credentials",
            "grants a glob path 'psra/kv/data/+/x'",
            "grants root on 'psra/kv/data/+/x'",
            "grants root on 'psra/kv/data/+/x' (applications only read)",
        ),
    ),
    Violation(
        "BAO-03", "namespaced-sys-and-snapshot-write",
        _app_policy(_path("psra/sys/policy", "read"), _path("sys/storage/raft/snapshot", "read", "update")),
        _policy_findings(
            "reaches 'psra/sys/policy' (sys/ or auth/)",
            "grants 'psra/sys/policy', which is not a KV v2 data path, a transit key or database credentials",
            "reaches 'sys/storage/raft/snapshot' (sys/ or auth/)",
            "grants 'sys/storage/raft/snapshot', which is not a KV v2 data path, a transit key or database credentials",
        ),
    ),
    Violation(
        "BAO-03", "glob-star", _app_policy(_path("psra/kv/data/*", "read")), _policy_findings("grants a glob path 'psra/kv/data/*'")
    ),
    Violation(
        "BAO-03", "transit-key-glob", _app_policy(_path("psra/transit/decrypt/*", "update")),
        _policy_findings(
            "grants a glob path 'psra/transit/decrypt/*'",
            "grants 'psra/transit/decrypt/*', which is not a KV v2 data path, a transit key or database credentials",
        ),
    ),
    Violation(
        "BAO-03", "not-hcl", _app_policy('path "x" {'),
        _policy_findings("is not valid HCL: Unexpected token Token('$END', '') at line 1, column 11."),
    ),
    Violation("BAO-04", "root-token-env", _env("backup", "APP_ROOT_TOKEN=x"), (("backup-container", "found in env APP_ROOT_TOKEN"),)),
    Violation("BAO-04", "root-token-file", _append_upload("backup", "/run/secrets/rootToken", "x"), (("backup-container", "found in file /run/secrets/rootToken"),)),
    Violation(
        "BAO-04", "root-token-property", _resource(APPROLE, "psra-role", rootToken="x"),
        (("psra-role", "found in property rootToken"),),
    ),
    Violation(
        "BAO-05",
        "every-condition",
        _approle(secretIdTtl=None, tokenTtl="25h", tokenMaxTtl=0, secretIdBoundCidrs=["0.0.0.0/0", "nonsense"], tokenBoundCidrs=None,
                 tokenPolicies=["psra-role", "root"]),
        _approle_findings(
            ": secret IDs live forever (want ≤ 90 days)",
            ": tokenTtl is 90000s (want ≤ 24h)",
            ": tokenMaxTtl is unset (want ≤ 24h)",
            " is bound to 0.0.0.0/0, i.e. anywhere",
            " has an invalid bound CIDR 'nonsense'",
            " issues tokens with the root policy",
        ),
    ),
    Violation(
        "BAO-05", "secret-id-one-second-over", _approle(secretIdTtl=90 * 86_400 + 1),
        _approle_findings(": secret IDs live 7.776e+06s (want ≤ 90 days)"),
    ),
    Violation(
        "BAO-05", "root-by-policies-and-ipv6-anywhere", _approle(policies=["root"], tokenBoundCidrs=["::/0"], tokenMaxTtl=86_401),
        _approle_findings(": tokenMaxTtl is 86401s (want ≤ 24h)", " is bound to ::/0, i.e. anywhere", " issues tokens with the root policy"),
    ),
    Violation(
        "BAO-06",
        "jwt-every-condition",
        _resource(_JWT, "admin-oidc", boundAudiences=None, userClaim=None,
                  allowedRedirectUris=[f"http://vault.{DOMAIN}/cb", f"https://vault.{DOMAIN}/*"], tokenTtl=None, tokenMaxTtl=86_401),
        (
            ("admin-oidc", "JWT/OIDC role admin accepts any audience (boundAudiences empty)"),
            ("admin-oidc", "JWT/OIDC role admin names no userClaim"),
            ("admin-oidc", f"JWT/OIDC role admin allows redirect URI 'http://vault.{DOMAIN}/cb'"),
            ("admin-oidc", f"JWT/OIDC role admin allows redirect URI 'https://vault.{DOMAIN}/*'"),
            ("admin-oidc", "role admin: tokenTtl is unset (want ≤ 24h)"),
            ("admin-oidc", "role admin: tokenMaxTtl is 86401s (want ≤ 24h)"),
        ),
    ),
    Violation(
        "BAO-06", "database-ttls", _resource(_DB_ROLE, "psra-db-role", defaultTtl="25h", maxTtl=None, name=None),
        (
            ("psra-db-role", "role psra-db-role: defaultTtl is 90000s (want ≤ 24h)"),
            ("psra-db-role", "role psra-db-role: maxTtl is unset (want ≤ 24h)"),
        ),
    ),
    Violation(
        "BAO-06", "database-role-named-by-name", _resource(_DB_ROLE, "psra-db-role", defaultTtl="25h"),
        (("psra-db-role", "role psra-app: defaultTtl is 90000s (want ≤ 24h)"),),
    ),
    Violation("BAO-07", "recovery-keys-env", _env("backup", "RECOVERY_KEYS=x", "BAO_UNSEAL_KEY_FILE=/x"), (("backup-container", "found in env RECOVERY_KEYS"),)),
    Violation(
        "BAO-07", "unseal-keys-file", _append_upload("backup", "/etc/bao/unseal-keys.json", "{}"),
        (("backup-container", "found in file /etc/bao/unseal-keys.json"),),
    ),
    Violation(
        "BAO-07", "key-shares-property", _resource(APPROLE, "psra-role", keySharesB64=["x"]),
        (("psra-role", "found in property keySharesB64"),),
    ),
    Violation(
        "BAO-08", "every-condition", _resource(_PKI, "internal-certs", allowAnyName="true", allowedDomains=None, maxTtl=None),
        (
            ("internal-certs", "PKI role internal allows any name"),
            ("internal-certs", "PKI role internal lists no allowedDomains"),
            ("internal-certs", "PKI role internal: maxTtl is unset (want ≤ 1 year)"),
        ),
    ),
    Violation(
        "BAO-08", "one-second-over-a-year", _resource(_PKI, "internal-certs", maxTtl=365 * 86_400 + 1, name=None),
        (("internal-certs", "PKI role internal-certs: maxTtl is 3.1536e+07s (want ≤ 1 year)"),),
    ),
    Violation("BAO-09", "one-minor-too-old", _label("openbao", "nl.sevensa.platform.image", "quay.io/openbao/openbao:2.3.9"), _bao("runs 2.3.9 (want ≥ 2.4.0)")),
    Violation(
        "BAO-09", "no-version-tag", _label("openbao", "nl.sevensa.platform.image", "quay.io/openbao/openbao:latest"),
        (("openbao-container", "OpenBao openbao: image quay.io/openbao/openbao:latest carries no version tag to check (want ≥ 2.4.0)"),),
    ),
    Violation("BAO-09", "dev-flag-with-value", _edit("openbao", command=["server", "-dev-listen-address=0.0.0.0"]), _bao("runs in dev mode")),
    Violation(
        "BAO-09", "unsafe-switches", _hcl_prefix('raw_storage_endpoint = true\nunauthenticated_pprof_access = "true"'),
        (
            ("openbao-container", "OpenBao openbao enables raw_storage_endpoint"),
            ("openbao-container", "OpenBao openbao enables unauthenticated_pprof_access"),
        ),
    ),
    Violation(
        "BAO-10", "core-dumps-and-root",
        _edit("openbao", ulimits=[{"name": "core", "soft": 0, "hard": 1}], user="root:root"),
        (
            ("openbao-container", "OpenBao openbao may write core dumps (set ulimits core soft=0 hard=0)"),
            ("openbao-container", "OpenBao openbao runs as root"),
        ),
    ),
    Violation("BAO-10", "soft-core-limit", _edit("openbao", ulimits=[{"name": "core", "soft": 1, "hard": 0}]),
              _bao("may write core dumps (set ulimits core soft=0 hard=0)")),
    Violation("BAO-10", "root-with-extra-fields", _edit("openbao", user="0:100:100"), _bao("runs as root")),
    Violation("BAO-10", "no-user", _edit("openbao", user=None), _bao("runs as root")),
    Violation(
        "BAO-10", "mlock-disabled", _all(_hcl_prefix("disable_mlock = true"), _edit("openbao", memorySwap=512)),
        _bao("can be swapped out (no mlock with IPC_LOCK, and memorySwap ≠ memory)"),
    ),
    Violation(
        "BAO-10", "no-ipc-lock", _edit("openbao", capabilities={"drops": ["ALL"]}, memorySwap=512),
        _bao("can be swapped out (no mlock with IPC_LOCK, and memorySwap ≠ memory)"),
    ),
    Violation(
        "BAO-11", "globs-over-tenants",
        _grant(f"{_path('*', 'read')}\n{_path('ps*/kv/data/x', 'read')}\n{_path('+/kv/data/x', 'read')}\n", ("rentguy",)),
        _tenant(f"'*', {_EVERY_TENANT}", f"'ps*/kv/data/x', {_EVERY_TENANT}", f"'+/kv/data/x', {_EVERY_TENANT}"),
    ),
    Violation(
        "BAO-11", "tenant-from-a-nested-namespace-path",
        _all(_grant(_path("rentguyX/kv/data/x", "read")), _add_resource("vault:index/namespace:Namespace", "ns-nested", {"path": "/rentguyX/apps/x/"})),
        _tenant("tenant rentguyX's path 'rentguyX/kv/data/x'"),
    ),
    Violation(
        "BAO-11", "tenant-namespace-ending-in-x",
        _all(_grant(_path("rentguyX/kv/data/x", "read")), _add_resource("vault:index/namespace:Namespace", "ns-x", {"path": "/rentguyX/"})),
        _tenant("tenant rentguyX's path 'rentguyX/kv/data/x'"),
    ),
    Violation(
        "BAO-11", "glob-of-a-longer-name", _grant(_path("psraX*/kv/data/x", "read")),
        _tenant(f"'psraX*/kv/data/x', {_EVERY_TENANT}"),
    ),
    Violation(
        "BAO-11", "another-tenant-by-namespace",
        _all(_grant(_path("kv/data/x", "read"), ("rentguy",)), _resource(POLICY, "psra-role-policy", namespace="/rentguy/")),
        _tenant("tenant rentguy's path 'rentguy/kv/data/x'"),
    ),
    Violation(
        "BAO-12", "every-condition",
        _operator_policy("\n".join((_path("+/*", "read"), _path("sys/auth/approle", "sudo"), _path("sys/mounts", "sudo", "root")))),
        (
            ("admin-policy", "policy admin grants read on '+/*', i.e. everything"),
            ("admin-policy", "policy admin grants sudo on 'sys/mounts', beyond what bootstrap needs"),
            ("admin-policy", "policy admin grants root on 'sys/mounts'"),
        ),
    ),
    Violation(
        "BAO-12", "not-hcl", _operator_policy('path "x" {'),
        (("admin-policy", "policy admin is not valid HCL: Unexpected token Token('$END', '') at line 1, column 11."),),
    ),
    Violation(
        "BAO-12", "every-namespace", _operator_policy(_path("+/+/*", "list", "read")),
        (("admin-policy", "policy admin grants list, read on '+/+/*', i.e. everything"),),
    ),
)

OPENBAO_ACCEPTED = (
    Accepted("BAO-01", "stream-device-beside-the-file", _file(
        "openbao", OPENBAO_HCL, 'audit "file" "file" {', 'audit "file" "stdout" {\n  options {\n    file_path = "discard"\n  }\n}\naudit "file" "file" {'
    )),
    Accepted("BAO-01", "volume-target-with-slash", _edit("openbao", mounts=[
        {"type": "volume", "source": "openbao-data", "target": "/openbao/file"},
        {"type": "volume", "source": "openbao-audit", "target": "/openbao/audit/"},
    ])),
    Accepted("BAO-02", "tls-on-external-network", _all(
        _file("openbao", OPENBAO_HCL, "tls_disable = true", 'tls_min_version = "tls13"'),
        _edit("openbao", networksAdvanced=[{"name": "shared-net"}, {"name": "egress-net"}]),
    )),
    Accepted("BAO-02", "tls-default-version", _file("openbao", OPENBAO_HCL, "tls_disable = true", 'tls_cert_file = "/x"')),
    Accepted("BAO-02", "token-less-metrics-on-an-unrouted-listener", _file(
        "openbao", OPENBAO_HCL, 'audit "file"',
        'listener "tcp" {\n  address = "0.0.0.0:8209"\n  tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = true\n  }\n}\naudit "file"',
    )),
    Accepted("BAO-02", "unix-listener-plain", _file("openbao", OPENBAO_HCL, 'listener "tcp"', 'listener "unix"')),
    Accepted("BAO-03", "every-allowed-kind", _app_policy(
        _path("psra/kv/data/a", "read"),
        _path("psra/kv/metadata/a", "list", "read"),
        _path("psra/transit/decrypt/psra-key", "update"),
        _path("psra/database/creds/app", "read"),
        _path("sys/storage/raft/snapshot", "read"),
    )),
    Accepted("BAO-04", "token-file-setting", _env("backup", "VAULT_TOKEN_FILE=/run/secrets/token")),
    Accepted("BAO-05", "exact-limits", _approle(secretIdTtl="2160h", tokenTtl="24h", tokenMaxTtl=86_400, tokenBoundCidrs=["10.0.0.1/32"])),
    Accepted("BAO-05", "cidr-with-host-bits", _approle(secretIdBoundCidrs=["172.20.10.11/24"], tokenBoundCidrs=["fd00::1/64"])),
    Accepted("BAO-06", "exact-limits", _resource(_DB_ROLE, "psra-db-role", defaultTtl="1s", maxTtl="24h")),
    Accepted("BAO-06", "jwt-exact-https-uri", _resource(_JWT, "admin-oidc", allowedRedirectUris=["https://vault.example.test/cb"], tokenMaxTtl="24h")),
    Accepted("BAO-07", "seal-settings", _env("backup", "BAO_SEAL_TYPE=shamir", "UNSEAL_KEYS_FILE=/run/secrets/keys")),
    Accepted("BAO-08", "exactly-a-year", _resource(_PKI, "internal-certs", maxTtl="8760h", allowAnyName="false")),
    Accepted("BAO-09", "patched-tag-and-switches-off", _all(
        _label("openbao", "nl.sevensa.platform.image", "quay.io/openbao/openbao:v2.4.0-ubi"),
        _hcl_prefix("raw_storage_endpoint = false"),
        _edit("openbao", command=["server", "-config=/openbao/config", "-devx"]),
    )),
    Accepted("BAO-10", "ipc-lock-with-swap", _edit("openbao", memorySwap=512)),
    Accepted("BAO-10", "swap-equal-memory-without-ipc-lock", _edit("openbao", capabilities={"drops": ["ALL"]}, memorySwap=256)),
    Accepted("BAO-10", "core-limit-among-others", _edit("openbao", ulimits=[{"name": "nofile", "soft": 1024, "hard": 1024}, {"name": "core", "soft": 0, "hard": 0}])),
    Accepted("BAO-11", "own-tenant-glob", _grant(_path("psra*/kv/data/x", "read"), ("rentguy",))),
    Accepted("BAO-11", "platform-role", _all(
        _grant(_path("rentguy/kv/data/x", "read"), ("rentguy",)), _approle(roleName="backup-role")
    )),
    Accepted("BAO-12", "bootstrap-sudo", _operator_policy("\n".join((_path("sys/auth/approle", "sudo"), _path("sys/auth/oidc/*", "sudo", "update"))))),
)


# ---- Secrets (SEC-*) ------------------------------------------------------------------------------

_PEM = "-----BEGIN RSA PRIVATE KEY-----"


def _realm_outputs(**values: Any) -> Edit:
    def apply(document: Document) -> None:
        entry(document, REALM, "realm")["outputs"].update(values)

    return apply

SECRET_VIOLATIONS = (
    Violation(
        "SEC-01",
        "nested-password-and-url",
        _realm(smtpServer={"auth": {"password": "pw12"}}, attributes={"url": "redis://:pw@cache:6379"}),
        (
            ("realm", "plaintext secret at inputs.smtpServer.auth.password"),
            ("realm", "credentials embedded in a URL at inputs.attributes.url"),
        ),
    ),
    Violation(
        "SEC-01", "url-in-env-and-list",
        _all(_env("psra-db", 'DB_SECRET=""', "API_KEY=null", "DSN=postgres://app:pw@psra-db/psra"), _realm(attributes={"mirrors": ["https://u:p@h/"]})),
        (
            ("psra-db-container", "plaintext secret in inputs.envs[4] (DSN)"),
            ("realm", "credentials embedded in a URL at inputs.attributes.mirrors[0]"),
        ),
    ),
    Violation(
        "SEC-01", "after-a-sealed-entry-with-an-equals-sign-in-the-value", _env("psra-db", envelope("x"), "SESSION_SECRET=c2VjcmV0=="),
        (("psra-db-container", "plaintext secret in inputs.envs[3] (SESSION_SECRET)"),),
    ),
    Violation(
        "SEC-01", "secret-key-in-env", _env("psra-db", "SIGNING_KEY=abc"),
        (("psra-db-container", "plaintext secret in inputs.envs[2] (SIGNING_KEY)"),),
    ),
    Violation(
        "SEC-01", "password-in-outputs",
        _realm_outputs(smtpServer={"auth": {"password": "pw12"}}),
        (("realm", "plaintext secret at outputs.smtpServer.auth.password"),),
    ),
    Violation(
        "SEC-02", "secret-envs-list", _edit("psra-db", envs=envelope("x")),
        (("psra-db-container", "container psra-db gets 1 secret env entr(ies); secrets belong in *_FILE files"),),
    ),
    Violation(
        "SEC-02", "sensitive-key-and-sealed-entries", _env("psra-db", "PRIVATE_KEY=abc", envelope("y"), envelope("z")),
        (
            ("psra-db-container", "container psra-db gets PRIVATE_KEY through its environment (visible in docker inspect)"),
            ("psra-db-container", "container psra-db gets 2 secret env entr(ies); secrets belong in *_FILE files"),
        ),
    ),
    Violation(
        "SEC-03", "sealed-label", _label("psra-frontend", "app.token", envelope("x")),
        (("psra-frontend-container", "label app.token of psra-frontend carries a secret"),),
    ),
    Violation(
        "SEC-03", "credential-url-label", _label("psra-frontend", "app.url", "https://u:pw@h/"),
        (("psra-frontend-container", "label app.url of psra-frontend embeds credentials in a URL"),),
    ),
    Violation(
        "SEC-04",
        "private-key-assignment-and-url",
        _append_upload("psra-db", "/etc/app.yml", f'{_PEM}\napi_key: "abc",\nsecret_key: $X\nurl: https://u:p@h\npassword: ""\ntoken: /run/x\n'),
        (
            ("psra-db-container", "file /etc/app.yml holds a private key in plaintext (psra-db)"),
            ("psra-db-container", "file /etc/app.yml line 2 sets api_key in plaintext (psra-db)"),
            ("psra-db-container", "file /etc/app.yml line 4 embeds credentials in a URL (psra-db)"),
        ),
    ),
    Violation(
        "SEC-04", "secret-file-name", _append_upload("psra-db", "/etc/api.token", "abc"),
        (("psra-db-container", "file /etc/api.token of psra-db looks secret but its content is not a Pulumi secret"),),
    ),
    Violation(
        "SEC-04", "key-file-name", _append_upload("psra-db", "/etc/tls/private.key", "abc"),
        (("psra-db-container", "file /etc/tls/private.key of psra-db looks secret but its content is not a Pulumi secret"),),
    ),
    Violation(
        "SEC-04",
        "values-trimmed-of-quotes-and-commas-only",
        _append_upload("psra-db", "/etc/app.yml", 'api_key: XXXX,\nauth_token: "X"\ndb_password: X/abc\nsecret: "\'\'"\npassword: "",\n'),
        (
            ("psra-db-container", "file /etc/app.yml line 1 sets api_key in plaintext (psra-db)"),
            ("psra-db-container", "file /etc/app.yml line 2 sets auth_token in plaintext (psra-db)"),
            ("psra-db-container", "file /etc/app.yml line 3 sets db_password in plaintext (psra-db)"),
        ),
    ),
    Violation(
        "SEC-04", "quoted-key", _append_upload("psra-db", "/etc/app.json", '{\n  "password": "abc"\n}\n'),
        (("psra-db-container", "file /etc/app.json line 2 sets password in plaintext (psra-db)"),),
    ),
    Violation(
        "SEC-05",
        "command-entrypoint-healthcheck",
        _edit(
            "psra-frontend",
            command=["sh", "-c", "PGPASSWORD=pw psql; redis-cli -a hunter2 ping; curl https://u:p@h"],
            entrypoints=["--token", "abc"],
            healthcheck={"tests": ["CMD", "x", "--api-key=zz"]},
        ),
        (
            ("psra-frontend-container", "container psra-frontend: command carries PGPASSWORD assigned inline"),
            ("psra-frontend-container", "container psra-frontend: command carries a URL with credentials"),
            ("psra-frontend-container", "container psra-frontend: command carries redis-cli -a with a password"),
            ("psra-frontend-container", "container psra-frontend: entrypoint carries a secret flag with its value"),
            ("psra-frontend-container", "container psra-frontend: healthcheck carries a secret flag with its value"),
        ),
    ),
    Violation(
        "SEC-05", "value-starting-with-x", _edit("psra-frontend", command=["server", "--password=X/abc"]),
        (("psra-frontend-container", "container psra-frontend: command carries a secret flag with its value"),),
    ),
    Violation(
        "SEC-05", "env-value", _env("psra-frontend", "OPTS=--password=abc"),
        (("psra-frontend-container", "container psra-frontend: env OPTS carries credentials in its value"),),
    ),
    Violation(
        "SEC-05", "config-directives", _append_upload("psra-db", "/etc/redis.conf", "requirepass s3cret\nmasterauth /run/x\nsentinel auth-pass mymaster pw\n"),
        (
            ("psra-db-container", "container psra-db: file /etc/redis.conf line 1 sets requirepass in plaintext"),
            ("psra-db-container", "container psra-db: file /etc/redis.conf line 3 sets sentinel in plaintext"),
        ),
    ),
)

SECRET_ACCEPTED = (
    Accepted("SEC-01", "metadata-and-write-only-keys", _realm(
        clientSecretWo="x", apiTokenTtl="5m", passwordPolicyName="strict", tmpfs={"/run/secrets": "size=1m"}, smtpServer={"auth": {"password": envelope("p")}},
    )),
    Accepted("SEC-01", "unknown-at-preview", _realm(smtpServer={"auth": {"password": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}})),
    Accepted("SEC-01", "empty-and-templated", _env("psra-db", 'DB_SECRET=""', "API_KEY=null", "TOKEN=~", "URL=postgres://{{username}}:{{password}}@db/x")),
    Accepted("SEC-02", "file-settings", _env("psra-db", "API_KEY_FILE=/run/secrets/key", "PGPASSWORD_FILE=/run/secrets/pg")),
    Accepted("SEC-03", "empty-secret-label", _label("psra-frontend", "app.secret", "")),
    Accepted("SEC-04", "sealed-secret-file-and-references", _all(
        _append_upload("psra-db", "/etc/api.token", envelope("abc")),
        _append_upload("psra-db", "/etc/app.yml", "password: /run/secrets/db\ntoken: $TOKEN\nsecret: '{{secret}}'\napi_key: ''\n"),
    )),
    Accepted("SEC-04", "benign-files-in-secret-directories", _all(
        _append_upload("psra-db", "/run/secrets/app.conf", "listen: 8080\n"), _append_upload("psra-db", "app.yml", "listen: 8080\n")
    )),
    Accepted("SEC-05", "references-only", _all(
        _edit("psra-frontend", command=["x", "PGPASSWORD_FILE=/x", "--password", "$P", "--token=@/run/t", "-a", "pw"]),
        _edit("keycloak", healthcheck=None, command=["sh", "-c", "PGPASSWORD_FILE=pgpass.txt psql"]),
        _edit("psra-db", command=["--password='/run/secrets/db'", '--token="{{token}}"', "--api-key={{key}}", "--db-password --verbose"]),
        _append_upload("psra-db", "/etc/redis.conf", "requirepass /run/secrets/redis\nmasterauth $MASTER\n"),
    )),
)


# ---- Backups (BK-*) -------------------------------------------------------------------------------

_JOB = "/etc/backup/backup.json"
_ROLE_ID = "/run/secrets/openbao-role-id"
_SECRET_ID = "/run/secrets/openbao-secret-id"


def _backup(message: str) -> tuple[tuple[str, str], ...]:
    return (("backup-container", f"backup backup {message}"),)


def _remove_container(name: str) -> Edit:
    def apply(document: Document) -> None:
        document["deployment"]["resources"].remove(container(document, name))

    return apply


def _platform_job(change: Callable[[dict[str, Any]], None] = lambda settings: None, *, sealed: bool = True) -> Edit:
    """The backup container runs the platform's job: a JSON configuration and OpenBao login files
    instead of RESTIC_* env and a crontab. `change` edits the settings first."""

    def apply(document: Document) -> None:
        settings: dict[str, Any] = {
            "openbao": {
                "role_id_file": _ROLE_ID,
                "secret_id_file": _SECRET_ID,
                "password_key": "restic-password",
                "offsite_key": "sevensa/shared/backup/offsite",
            },
            "retention": {"postgres": {"local_days": 7, "offsite_days": 30}, "volumes": {"local_days": 7}},
            "schedules": {"backup": "0 2 * * *", "check": "0 5 * * 0", "drill": "30 3 * * 0"},
            "targets": [{"name": "psra-db"}, {"name": "openbao"}],
            "volumes": [{"name": "traefik-certificates"}],
        }
        change(settings)
        login = envelope("id") if sealed else "plaintext-id"
        inputs = container(document, "backup")["inputs"]
        inputs["envs"] = []
        inputs["uploads"] = [
            {"file": _JOB, "content": json.dumps(settings)},
            {"file": _ROLE_ID, "content": login},
            {"file": _SECRET_ID, "content": login},
        ]

    return apply


def _before_job(*uploads: dict[str, Any]) -> Edit:
    """Other files uploaded before the job's JSON configuration."""

    def apply(document: Document) -> None:
        container(document, "backup")["inputs"]["uploads"][:0] = list(uploads)

    return apply


_NO_PASSWORD = "is given no repository password from OpenBao (AppRole login files) or from a Pulumi secret file (e.g. RESTIC_PASSWORD_FILE)"
_NOTHING_OFF_SITE = "copies nothing off-site (platform:backup offsite: true and an offsite_days retention)"
_NO_BACKUP = "no backup container (the platform has data stores) is declared"

BACKUP_VIOLATIONS = (
    *(Violation(rule, "no-backup-container", _remove_container("backup"), (("platform-crafted", _NO_BACKUP),)) for rule in ("BK-01", "BK-02", "BK-03", "BK-04")),
    Violation(
        "BK-01", "password-in-env", _env("backup", "RESTIC_PASSWORD=abc"),
        _backup("gets its repository password from an environment variable (use a file: --password-file)"),
    ),
    Violation("BK-01", "key-file-not-sealed", _env("backup", "RESTIC_PASSWORD_FILE=/etc/restic/password", drop="RESTIC_PASSWORD_FILE"), _backup(_NO_PASSWORD)),
    Violation("BK-01", "job-without-password-key", _platform_job(lambda s: s["openbao"].pop("password_key")), _backup(_NO_PASSWORD)),
    Violation("BK-01", "job-without-secret-id", _platform_job(lambda s: s["openbao"].pop("secret_id_file")), _backup(_NO_PASSWORD)),
    Violation("BK-01", "job-login-files-in-plaintext", _platform_job(sealed=False), _backup(_NO_PASSWORD)),
    Violation(
        "BK-01", "job-file-not-json",
        _all(_platform_job(), lambda d: upload(container(d, "backup"), _JOB).update(file="/etc/backup/backup.conf")),
        _backup(_NO_PASSWORD),
    ),
    Violation(
        "BK-01", "job-file-unreadable",
        _all(_platform_job(), lambda d: upload(container(d, "backup"), _JOB).update(content="{not json")),
        _backup(_NO_PASSWORD),
    ),
    Violation(
        "BK-01", "json-file-of-another-shape",
        _all(_platform_job(), lambda d: upload(container(d, "backup"), _JOB).update(content=json.dumps({"openbao": {}}))),
        _backup(_NO_PASSWORD),
    ),
    Violation("BK-02", "no-retention", _env("backup", "X=1", drop="RETENTION_DAYS"), _backup("declares no retention")),
    Violation(
        "BK-02", "off-site-shorter-than-local", _platform_job(lambda s: s["retention"]["postgres"].update(offsite_days=6)),
        _backup("keeps postgres 6 days off-site but 7 days locally (the off-site copy must outlive the local one)"),
    ),
    Violation(
        "BK-02", "negative-off-site-days-without-local-days", _platform_job(lambda s: s["retention"].update(volumes={"offsite_days": -1})),
        _backup("keeps volumes -1 days off-site but 0 days locally (the off-site copy must outlive the local one)"),
    ),
    Violation("BK-02", "job-without-offsite-key", _platform_job(lambda s: s["openbao"].update(offsite_key=None)), _backup(_NOTHING_OFF_SITE)),
    Violation(
        "BK-02", "job-without-offsite-days",
        _platform_job(lambda s: s.update(retention={"postgres": {"local_days": 7}, "note": "kept"})),
        _backup(_NOTHING_OFF_SITE),
    ),
    Violation(
        "BK-03", "no-check", _file("backup", CRONTAB, "0 5 * * 0 restic check --read-data-subset=10%\n", ""),
        _backup("schedules no repository check (restic check --read-data-subset)"),
    ),
    Violation(
        "BK-03", "job-without-drill", _platform_job(lambda s: s["schedules"].pop("drill")),
        _backup("schedules no restore test (a restore of the latest snapshot into a scratch database)"),
    ),
    Violation(
        "BK-03", "job-without-check", _platform_job(lambda s: s["schedules"].update(check="")),
        _backup("schedules no repository check (restic check --read-data-subset)"),
    ),
    Violation(
        "BK-04", "openbao-not-named", _file("backup", CRONTAB, "--snapshot openbao ", ""),
        _backup("does not dump openbao openbao (not named in its config or not reachable)"),
    ),
    Violation(
        "BK-04", "database-not-reachable", _edit("backup", networksAdvanced=[{"name": "shared-net"}, {"name": "egress-net"}]),
        _backup("does not dump postgres psra-db (not named in its config or not reachable)"),
    ),
    Violation(
        "BK-04", "certificates-not-covered", _all(_file("backup", CRONTAB, " --volume traefik-certificates", ""), _edit("backup", mounts=[])),
        _backup("does not cover the volumes of traefik"),
    ),
)

BACKUP_ACCEPTED = (
    *(Accepted(rule, "platform-job", _platform_job()) for rule in ("BK-01", "BK-02", "BK-03", "BK-04")),
    Accepted("BK-03", "job-check-schedule-as-mapping", _platform_job(lambda s: s["schedules"].update(check={"cron": "0 5 * * 0"}))),
    Accepted("BK-02", "off-site-as-long-as-local", _platform_job(lambda s: s["retention"]["postgres"].update(offsite_days=7))),
    Accepted("BK-02", "restic-copy", _all(_env("backup", "KEEP_DAILY=7", drop="RETENTION_DAYS"), _env("backup", drop="RESTIC_REPOSITORY"),
                                          _file("backup", CRONTAB, "restic check", "restic copy --repo2 rest:https://b.example.test && restic check"))),
    Accepted("BK-01", "job-after-other-files", _all(_platform_job(), _before_job(
        {"file": "/etc/backup/README.txt", "content": "restic"},
        {"file": "/etc/backup/old.json", "content": "{not json"},
        {"file": "/etc/backup/retention.json", "content": '{"retention": {}}'},
        {"file": "/etc/backup/list.json", "content": '["openbao", "retention"]'},
    ))),
    Accepted("BK-04", "openbao-reached-by-its-volume", _edit(
        "backup",
        networksAdvanced=[{"name": "psra-db-net"}, {"name": "egress-net"}],
        mounts=[
            {"type": "volume", "source": "traefik-certificates", "target": "/backup/traefik-certificates", "readOnly": True},
            {"type": "volume", "source": "openbao-data", "target": "/backup/openbao", "readOnly": True},
        ],
    )),
    Accepted("BK-04", "certificates-by-mount-only", _file("backup", CRONTAB, " --volume traefik-certificates", "")),
    Accepted("BK-04", "openbao-by-its-volume", _file("backup", CRONTAB, "--snapshot openbao", "--snapshot openbao-data")),
)


# ---- Monitoring (MON-*) ---------------------------------------------------------------------------

_NO_PROMETHEUS = "no Prometheus is declared"


def _prometheus(message: str) -> tuple[tuple[str, str], ...]:
    return (("prometheus-container", f"Prometheus prometheus has no alert {message}"),)


def _alerts(old: str, new: str) -> Edit:
    return _file("prometheus", ALERTS, old, new)


MONITORING_VIOLATIONS = (
    *(Violation(rule, "no-prometheus", _remove_container("prometheus"), (("platform-crafted", _NO_PROMETHEUS),)) for rule in ("MON-01", "MON-02", "MON-03", "MON-04")),
    Violation(
        "MON-01", "no-health-alert", _alerts("engine_daemon_health_checks_failed_total", "engine_daemon_container_states_containers"),
        _prometheus("on unhealthy containers"),
    ),
    Violation(
        "MON-01", "down-as-a-recording-rule", _alerts("      - alert: TargetDown\n", "      - record: TargetDown\n"),
        _prometheus("on down targets (up == 0 with for:)"),
    ),
    Violation(
        "MON-03", "backup-alert-without-time", _alerts("time() - sevensa_backup_last_success_timestamp_seconds", "sevensa_backup_last_success_timestamp_seconds"),
        _prometheus("on stale backups"),
    ),
    Violation(
        "MON-03", "time-alert-not-about-backups", _alerts("sevensa_backup_last_success_timestamp_seconds", "sevensa_job_last_success_timestamp_seconds"),
        _prometheus("on stale backups"),
    ),
    Violation("MON-04", "watchdog-never-fires", _alerts("vector(1)", "vector(0)"), _prometheus("Watchdog (vector(1))")),
    Violation("MON-04", "watchdog-with-a-condition", _alerts("expr: vector(1)", "expr: vector(1) > 0"), _prometheus("Watchdog (vector(1))")),
    Violation(
        "MON-04", "ui-published", _edit("prometheus", ports=[{"internal": 9090.0, "external": 9090.0, "ip": "127.0.0.1"}]),
        (("prometheus-container", "prometheus prometheus publishes host ports"),),
    ),
    Violation(
        "MON-02", "rules-file-not-yaml", lambda d: upload(container(d, "prometheus"), ALERTS).update(file="/etc/prometheus/rules/platform.rules"),
        _prometheus("on certificate expiry"),
    ),
    Violation("MON-02", "rules-file-unparsable", _alerts("groups:", "groups: ["), _prometheus("on certificate expiry")),
)

MONITORING_ACCEPTED = (
    Accepted("MON-01", "yaml-list-file-ignored", _append_upload("prometheus", "/etc/prometheus/rules/extra.yml", "- up == 0\n- health\n")),
    Accepted("MON-01", "down-with-selector", _alerts("expr: up == 0", 'expr: up{job=~"platform.*"} == 0')),
    Accepted("MON-02", "cert-expiry-by-name", _alerts("probe_ssl_earliest_cert_expiry - time()", "ssl_certificate_expiry_seconds")),
    Accepted("MON-03", "backup-age-any-case", _alerts("sevensa_backup_last_success_timestamp_seconds", "Restic_Backup_Last_Run")),
    Accepted("MON-04", "watchdog-spaced", _alerts("expr: vector(1)", 'expr: " vector( 1 ) "')),
    Accepted("MON-04", "groups-and-rules-of-other-shapes", _alerts("groups:\n", "groups:\n  - null\n  - name: empty\n    rules: null\n  - name: odd\n    rules: [text]\n")),
)


# ---- Export shape (DOC-01) ------------------------------------------------------------------------

_FRONTEND = "docker:index/container:Container psra-frontend-container"


def _frontend_entry(**changes: Any) -> Edit:
    def apply(document: Document) -> None:
        container(document, "psra-frontend").update(changes)

    return apply


EXPORT_SHAPE_VIOLATIONS = (
    Violation(
        "DOC-01", "outputs-and-dependencies-of-the-wrong-shape", _frontend_entry(outputs="x", dependencies={}),
        (
            ("psra-frontend-container", f"{_FRONTEND}: outputs is text, not a mapping; its properties were not checked"),
            ("psra-frontend-container", f"{_FRONTEND}: dependencies is a mapping, not a list of URNs; its properties were not checked"),
        ),
    ),
)

EXPORT_SHAPE_ACCEPTED = (Accepted("DOC-01", "empty-but-well-shaped", _frontend_entry(inputs={}, outputs={}, dependencies=[])),)


VIOLATIONS: tuple[Violation, ...] = (*KEYCLOAK_VIOLATIONS, *TRAEFIK_VIOLATIONS, *NETWORK_VIOLATIONS, *CONTAINER_VIOLATIONS, *OPENBAO_VIOLATIONS, *SECRET_VIOLATIONS, *BACKUP_VIOLATIONS, *MONITORING_VIOLATIONS, *EXPORT_SHAPE_VIOLATIONS)
ACCEPTED: tuple[Accepted, ...] = (*KEYCLOAK_ACCEPTED, *TRAEFIK_ACCEPTED, *NETWORK_ACCEPTED, *CONTAINER_ACCEPTED, *OPENBAO_ACCEPTED, *SECRET_ACCEPTED, *BACKUP_ACCEPTED, *MONITORING_ACCEPTED, *EXPORT_SHAPE_ACCEPTED)
