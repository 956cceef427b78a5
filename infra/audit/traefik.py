"""TLS and Traefik rules (TLS-*, TR-*): entrypoints, routers and their middlewares.

Routers come from container labels and from Traefik's file provider; a router's
middlewares are followed through chains. "Public" routers are the seed's routes without
forward-auth (Keycloak, the PSRA API with its own OIDC); every other router needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.audit.model import Rule, Severity
from infra.audit.resources import Container, Resources
from infra.audit.traefik_config import Middleware, Router, TraefikConfig

ONE_YEAR = 31_536_000
TLS_VERSIONS_OK = frozenset({"versiontls12", "versiontls13"})


def _traefik(r: Resources) -> TraefikConfig:
    return r.view(TraefikConfig)


def _traefik_container(r: Resources) -> list[Container]:
    container = _traefik(r).container
    return [container] if container is not None else []


def _routers(r: Resources) -> list[Router]:
    return _traefik(r).routers


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _entrypoint_addresses(t: TraefikConfig) -> dict[str, str]:
    return {key.split(".")[1]: str(value) for key, value in t.static_matching(r"entrypoints\.[^.]+\.address").items()}


def _min_tls(_: Container, r: Resources) -> Iterator[str]:
    version = (_traefik(r).dynamic_value("tls.options.default.minversion") or "").lower()
    if version not in TLS_VERSIONS_OK:
        yield f"Traefik's default TLS options set minVersion {version or 'nothing'} (want VersionTLS12 or VersionTLS13)"


def _redirect(_: Container, r: Resources) -> Iterator[str]:
    t = _traefik(r)
    plain = [name for name, address in _entrypoint_addresses(t).items() if address.endswith(":80")]
    if not plain:
        yield "no entrypoint on :80 redirects to HTTPS (no :80 entrypoint declared)"
    for name in plain:
        target = t.static_value(f"entrypoints.{name}.http.redirections.entrypoint.to")
        scheme = t.static_value(f"entrypoints.{name}.http.redirections.entrypoint.scheme") or "https"
        if not target or scheme != "https":
            yield f"entrypoint {name} (:80) does not redirect to HTTPS"


def _headers(t: TraefikConfig, router: Router) -> list[Middleware]:
    return t.has(router, "headers")


def _hsts(router: Router, r: Resources) -> Iterator[str]:
    t = _traefik(r)
    good = [m for m in _headers(t, router) if _num(m.config.get("stsseconds")) >= ONE_YEAR and _true(m.config.get("stsincludesubdomains"))]
    if not good:
        yield f"router {router.name} sends no HSTS header of ≥ 1 year with includeSubDomains"


def _tls_router(router: Router, t: TraefikConfig) -> Iterator[str]:
    addresses = _entrypoint_addresses(t)
    entrypoints = router.entrypoints
    if entrypoints is None:
        yield f"router {router.name} names no entrypoint, so it also listens on plain HTTP"
    else:
        plain = [e for e in entrypoints if addresses.get(e.lower(), "").endswith(":80")]
        if plain:
            yield f"router {router.name} listens on plain-HTTP entrypoint(s) {', '.join(plain)}"
    if not router.tls:
        yield f"router {router.name} does not terminate TLS"
    resolvers = t.cert_resolvers
    if resolvers and router.cert_resolver not in resolvers:
        yield f"router {router.name} uses no declared certificate resolver ({', '.join(sorted(resolvers))})"


def _acme_storage(c: Container, t: TraefikConfig) -> Iterator[str]:
    volumes = [m.target.rstrip("/") for m in c.mounts if m.kind == "volume"]
    for key, storage in t.static_matching(r"certificatesresolvers\.[^.]+\.acme\.storage").items():
        path = str(storage)
        if not any(path.startswith(target + "/") for target in volumes):
            yield f"ACME storage {path} ({key.split('.')[1]}) is not on a named volume: certificates are lost on recreate"


def _tls_everywhere(subject: Router | Container, r: Resources) -> Iterator[str]:
    t = _traefik(r)
    if isinstance(subject, Router):
        yield from _tls_router(subject, t)
    else:
        yield from _acme_storage(subject, t)


def _exposed_by_default(_: Container, r: Resources) -> Iterator[str]:
    t = _traefik(r)
    for provider in ("docker", "swarm"):
        configured = any(key.startswith(f"providers.{provider}") for key in t.static)
        if configured and (t.static_value(f"providers.{provider}.exposedbydefault") or "true") != "false":
            yield f"Traefik's {provider} provider exposes every container by default (exposedByDefault is not false)"


def _api_protected(subject: Router | Container, r: Resources) -> Iterator[str]:
    t = _traefik(r)
    if isinstance(subject, Container):
        if (t.static_value("api.insecure") or "false") == "true":
            yield "Traefik's API is served insecurely (api.insecure=true)"
        for name, address in _entrypoint_addresses(t).items():
            if address.endswith(":8080"):
                yield f"entrypoint {name} listens on :8080 (the insecure API port)"
        return
    if subject.service.startswith("api@internal") and not (t.has(subject, "forwardauth") or t.has(subject, "basicauth")):
        yield f"router {subject.name} serves Traefik's API/dashboard without authentication"


def _api_subjects(r: Resources) -> list[Router | Container]:
    return [*_traefik_container(r), *(router for router in _routers(r) if router.service.startswith("api@internal"))]


def _security_headers(router: Router, r: Resources) -> Iterator[str]:
    headers = _headers(_traefik(r), router)
    nosniff = any(_true(m.config.get("contenttypenosniff")) for m in headers)
    frames = any(_true(m.config.get("framedeny")) or m.config.get("customframeoptionsvalue") for m in headers)
    if not (nosniff and frames):
        yield f"router {router.name} lacks a security-headers middleware (contentTypeNosniff and frame options)"


def _rate_limited(subject: Router | Container, r: Resources) -> Iterator[str]:
    t = _traefik(r)
    if isinstance(subject, Container):
        for key, value in t.static_matching(r"entrypoints\.[^.]+\.forwardedheaders\.insecure").items():
            if _true(value):
                yield f"entrypoint {key.split('.')[1]} trusts X-Forwarded-* from anyone (forwardedHeaders.insecure)"
        return
    limits = [m for m in t.has(subject, "ratelimit") if _num(m.config.get("average")) > 0 and _num(m.config.get("burst")) > 0]
    if not limits:
        yield f"public router {subject.name} has no rate limit (average > 0 and burst > 0)"


def _rate_limit_subjects(r: Resources) -> list[Router | Container]:
    t = _traefik(r)
    return [*_traefik_container(r), *(router for router in t.routers if t.public(router))]


def _forward_auth(router: Router, r: Resources) -> Iterator[str]:
    t = _traefik(r)
    if not t.public(router) and not t.has(router, "forwardauth"):
        hosts = ", ".join(router.hosts) or router.rule or "no host"
        yield f"router {router.name} ({hosts}) is not public and has no forward-auth middleware"


RULES: tuple[Rule, ...] = (
    Rule(
        "TLS-01",
        Severity.MEDIUM,
        "minimum TLS 1.2 (file provider)",
        "declare tls.options.default.minVersion: VersionTLS12 in Traefik's dynamic file",
        "RFC 8996",
        subjects=_traefik_container,
        violations=_min_tls,
    ),
    Rule(
        "TLS-02",
        Severity.HIGH,
        "HTTP redirects to HTTPS at the entrypoint",
        "set entryPoints.web.http.redirections.entryPoint.to=websecure (scheme https)",
        "Traefik entrypoints docs",
        subjects=_traefik_container,
        violations=_redirect,
    ),
    Rule(
        "TLS-03",
        Severity.MEDIUM,
        "HSTS ≥ 1 year with includeSubDomains",
        "apply a headers middleware with stsSeconds ≥ 31536000 and stsIncludeSubdomains: true",
        "OWASP HSTS",
        subjects=_routers,
        violations=_hsts,
    ),
    Rule(
        "TLS-04",
        Severity.HIGH,
        "every router on TLS with a cert resolver; ACME storage persisted",
        "route only on the websecure entrypoint with tls.certresolver; keep acme.json on a named volume",
        "Traefik ACME docs",
        subjects=lambda r: [*_routers(r), *_traefik_container(r)],
        violations=_tls_everywhere,
    ),
    Rule(
        "TR-01",
        Severity.HIGH,
        "exposedByDefault=false",
        "set providers.docker.exposedByDefault=false and label routed containers traefik.enable=true",
        "Traefik docker provider",
        subjects=_traefik_container,
        violations=_exposed_by_default,
    ),
    Rule(
        "TR-02",
        Severity.HIGH,
        "API/dashboard never insecure",
        "drop api.insecure and :8080; serve api@internal only behind forward-auth",
        "Traefik API docs",
        subjects=_api_subjects,
        violations=_api_protected,
    ),
    Rule(
        "TR-03",
        Severity.MEDIUM,
        "security headers on every router",
        "add the shared headers middleware (contentTypeNosniff, frameDeny) to every router",
        "Traefik headers middleware",
        subjects=_routers,
        violations=_security_headers,
    ),
    Rule(
        "TR-04",
        Severity.MEDIUM,
        "rate limit on public routers, keyed on the real client IP",
        "add a rateLimit middleware (average, burst) to public routers; never forwardedHeaders.insecure",
        "Traefik ratelimit",
        subjects=_rate_limit_subjects,
        violations=_rate_limited,
    ),
    Rule(
        "TR-05",
        Severity.HIGH,
        "every non-public router behind forward-auth",
        "add the oauth2-proxy forwardAuth middleware, or add the route to the seed's public routes",
        "Traefik forwardAuth; oauth2-proxy",
        subjects=_routers,
        violations=_forward_auth,
    ),
)
