"""OpenBao rules (BAO-*): the server's HCL, ACL policies, AppRoles and auth roles.

Audit devices are declared in the server HCL since OpenBao 2.4 (fact 6), so a
`vault.Audit` resource is itself a finding. Application policies (held by AppRoles) name
exact paths with the least capability; operator policies are out of BAO-03's scope.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from infra.audit.model import (
    Rule,
    Severity,
    known,
    number,
    rules_on,
    seconds,
    strings,
    text,
    truthy,
)
from infra.audit.resources import Container, Resources
from infra.audit.traefik_config import TraefikConfig
from infra.audit.vault_config import (
    AUDIT,
    JWT_ROLE,
    HclError,
    VaultConfig,
    blocks,
    find_values,
    server_config,
)
from infra.plan.document import ExportedResource
from infra.spec.openbao_policy import APPROLE_PATH, OIDC_PATH, USERPASS_PATH

DATABASE_ROLE = "vault:database/secretBackendRole:SecretBackendRole"
PKI_ROLE = "vault:pkiSecret/secretBackendRole:SecretBackendRole"
MIN_OPENBAO = (2, 4, 0)
MAX_SECRET_ID_TTL = 90 * 86_400
MAX_TOKEN_TTL = 86_400
MAX_PKI_TTL = 365 * 86_400
KV_READ = frozenset({"read"})
TRANSIT_USE = frozenset({"update"})
FORBIDDEN_CAPABILITIES = frozenset({"sudo", "root"})
RAFT_SNAPSHOT_PATH = "sys/storage/raft/snapshot"  # the one sys/ path an application may read: the backup's snapshot
STREAM_TARGETS = frozenset({"stdout", "stderr", "discard"})  # an extra device, never the persistent one
DEFAULT_LISTENER_ADDRESS = "127.0.0.1:8200"  # a tcp listener's address when the HCL gives none
UNSAFE_SWITCHES = ("raw_storage_endpoint", "introspection_endpoint", "unauthenticated_pprof_access")
ROOT_TOKEN = re.compile(r"(^|[_.-])(root[_-]?token)$|^(VAULT|BAO)_TOKEN$|rootToken$", re.I)
UNSEAL_MATERIAL = re.compile(r"unseal|recovery[_-]?keys?|keyShares?B64|unsealKeys", re.I)
TRANSIT_OPERATION = re.compile(r"/transit/(encrypt|decrypt)/[^/*+]+$")
NAMESPACE = "vault:index/namespace:Namespace"
# `path "*"`, `"+/*"`, `"+/+/*"` …: every mount, every namespace
WHOLE_TREE = re.compile(r"^(\+/)*\*?$|^(\+/)+\*$")
# sudo is needed to enable the platform's auth methods, nowhere else (infra.spec.openbao_policy.provisioner_grants)
BOOTSTRAP_SUDO_PATHS = frozenset(
    path for method in (APPROLE_PATH, OIDC_PATH, USERPASS_PATH) for path in (f"sys/auth/{method}", f"sys/auth/{method}/*")
)


def _bao(r: Resources) -> VaultConfig:
    return r.view(VaultConfig)


def _config(container: Container, r: Resources) -> dict[str, list[Any]] | None:
    try:
        return server_config(r, container)
    except HclError:
        return None


def _audit_device(subject: Container | ExportedResource, r: Resources) -> Iterator[str]:
    if isinstance(subject, ExportedResource):
        yield "a vault.Audit resource is declared; OpenBao ≥ 2.4 refuses API-created audit devices (declare it in the server HCL)"
        return
    config = _config(subject, r)
    if config is None:
        yield f"OpenBao {subject.name}: the server HCL does not parse"
        return
    volumes = [m.target.rstrip("/") for m in subject.mounts if m.kind == "volume"]
    paths = [str(p) for p in find_values(config.get("audit", []), "file_path") if str(p) not in STREAM_TARGETS]
    if not paths:
        yield f"OpenBao {subject.name} declares no file audit device in its server HCL"
    for path in paths:
        if not any(path.startswith(v + "/") for v in volumes):
            yield f"OpenBao {subject.name} writes its audit log to {path}, which is not on a named volume"


def _audit_subjects(r: Resources) -> list[Container | ExportedResource]:
    return [*r.with_role("openbao"), *r.of_type(AUDIT)]


def _listener(container: Container, r: Resources) -> Iterator[str]:
    config = _config(container, r)
    if config is None:
        yield f"OpenBao {container.name}: the server HCL does not parse"
        return
    traefik = r.view(TraefikConfig)
    routers = [router for router in traefik.routers if router.urn == container.urn]
    port_labels = (container.labels.get(f"traefik.http.services.{router.service}.loadbalancer.server.port") for router in routers)
    routed_ports = {str(port) for port in port_labels if port is not None}
    for kind, listener in blocks(config, "listener"):
        if kind != "tcp":
            continue
        if truthy(listener.get("tls_disable")):
            outside = [n for n in container.networks if not r.network_internal(n)]
            if outside:
                yield f"OpenBao {container.name} serves plain HTTP and is reachable on non-internal network(s) {', '.join(outside)}"
        elif str(listener.get("tls_min_version", "tls12")) not in {"tls12", "tls13"}:
            yield f"OpenBao {container.name} accepts {listener.get('tls_min_version')} (want tls12 or newer)"
        port = str(listener.get("address", DEFAULT_LISTENER_ADDRESS)).rpartition(":")[2]
        if port in routed_ports and any(truthy(v) for v in find_values(listener, "unauthenticated_metrics_access")):
            yield f"OpenBao {container.name} serves /v1/sys/metrics without a token on its routed listener (port {port})"
    for router in routers:
        if not traefik.has(router, "forwardauth"):
            yield f"router {router.name} serves OpenBao without forward-auth"


def _least_privilege(policy: Any, _: Resources) -> Iterator[str]:
    try:
        grants = policy.grants
    except HclError as error:
        yield f"policy {policy.name} is not valid HCL: {error}"
        return
    for grant in grants:
        path, caps = grant.path, set(grant.capabilities)
        if "*" in path or "+" in path:
            yield f"policy {policy.name} grants a glob path {path!r}"
        if re.match(r"^([^/]+/)?(sys|auth)(/|$)", path) and (path, caps) != (RAFT_SNAPSHOT_PATH, {"read"}):
            yield f"policy {policy.name} reaches {path!r} (sys/ or auth/)"
        if caps & FORBIDDEN_CAPABILITIES:
            yield f"policy {policy.name} grants {', '.join(sorted(caps & FORBIDDEN_CAPABILITIES))} on {path!r}"
        if TRANSIT_OPERATION.search(path):
            if caps - TRANSIT_USE:
                yield f"policy {policy.name} grants {', '.join(sorted(caps - TRANSIT_USE))} on transit path {path!r} (only update is needed)"
        elif "/data/" in path or "/creds/" in path:
            if caps - KV_READ:
                yield f"policy {policy.name} grants {', '.join(sorted(caps - KV_READ))} on {path!r} (applications only read)"
        elif "/metadata/" not in path and (path, caps) != (RAFT_SNAPSHOT_PATH, {"read"}):
            yield f"policy {policy.name} grants {path!r}, which is not a KV v2 data path, a transit key or database credentials"


def _tenants(r: Resources) -> set[str]:
    """The tenants: the OpenBao namespaces the platform declares (psra, rentguy …)."""
    return {path.strip("/").split("/", 1)[0] for ns in r.of_type(NAMESPACE) if (path := text(ns.inputs.get("path")))}


def _tenant_isolation(role: ExportedResource, r: Resources) -> Iterator[str]:
    """An AppRole `<tenant>-role` reads only its own tenant's paths (and shared platform ones)."""
    name = _bao(r).role_name(role)
    tenants = _tenants(r)
    tenant = name.removesuffix("-role")
    if tenant not in tenants:
        return  # a platform role (backup, monitoring): BAO-03 keeps it to exact paths
    for path in _bao(r).readable_paths(role):
        owner = path.split("/", 1)[0]
        if owner in {"*", "+"} or (owner.endswith("*") and owner.rstrip("*") != tenant):
            yield f"AppRole {name} (tenant {tenant}) is granted {path!r}, which reaches every tenant's paths"
        elif owner in tenants and owner != tenant:
            yield f"AppRole {name} (tenant {tenant}) is granted tenant {owner}'s path {path!r}"


def _operator_policy(policy: Any, r: Resources) -> Iterator[str]:
    try:
        grants = policy.grants
    except HclError as error:
        yield f"policy {policy.name} is not valid HCL: {error}"
        return
    for grant in grants:
        if WHOLE_TREE.match(grant.path):
            yield f"policy {policy.name} grants {', '.join(grant.capabilities)} on {grant.path!r}, i.e. everything"
        if "sudo" in grant.capabilities and grant.path not in BOOTSTRAP_SUDO_PATHS:
            yield f"policy {policy.name} grants sudo on {grant.path!r}, beyond what bootstrap needs"
        if "root" in grant.capabilities:
            yield f"policy {policy.name} grants root on {grant.path!r}"


def _approle(role: ExportedResource, r: Resources) -> Iterator[str]:
    name = _bao(r).role_name(role)
    secret_ttl = seconds(role.inputs.get("secretIdTtl"))
    if not secret_ttl or secret_ttl > MAX_SECRET_ID_TTL:
        yield f"AppRole {name}: secret IDs live {'forever' if not secret_ttl else f'{secret_ttl:g}s'} (want ≤ 90 days)"
    for key in ("tokenTtl", "tokenMaxTtl"):
        ttl = seconds(role.inputs.get(key))
        if not ttl or ttl > MAX_TOKEN_TTL:
            yield f"AppRole {name}: {key} is {'unset' if not ttl else f'{ttl:g}s'} (want ≤ 24h)"
    cidrs = strings(role.inputs.get("secretIdBoundCidrs")) + strings(role.inputs.get("tokenBoundCidrs"))
    if not cidrs:
        yield f"AppRole {name} is not bound to the application's addresses (secretIdBoundCidrs/tokenBoundCidrs)"
    for cidr in cidrs:
        try:
            if ipaddress.ip_network(cidr, strict=False).prefixlen == 0:
                yield f"AppRole {name} is bound to {cidr}, i.e. anywhere"
        except ValueError:
            yield f"AppRole {name} has an invalid bound CIDR {cidr!r}"
    if "root" in strings(role.inputs.get("tokenPolicies")) + strings(role.inputs.get("policies")):
        yield f"AppRole {name} issues tokens with the root policy"


def _auth_roles(role: ExportedResource, _: Resources) -> Iterator[str]:
    name = text(role.inputs.get("roleName")) or text(role.inputs.get("name")) or role.name
    if role.type == JWT_ROLE:
        if not strings(role.inputs.get("boundAudiences")):
            yield f"JWT/OIDC role {name} accepts any audience (boundAudiences empty)"
        if not text(role.inputs.get("userClaim")):
            yield f"JWT/OIDC role {name} names no userClaim"
        for uri in strings(role.inputs.get("allowedRedirectUris")):
            if "*" in uri or not uri.startswith("https://"):
                yield f"JWT/OIDC role {name} allows redirect URI {uri!r}"
        ttl_keys = ("tokenTtl", "tokenMaxTtl")
    else:
        ttl_keys = ("defaultTtl", "maxTtl")
    for key in ttl_keys:
        ttl = seconds(role.inputs.get(key))
        if not ttl or ttl > MAX_TOKEN_TTL:
            yield f"role {name}: {key} is {'unset' if not ttl else f'{ttl:g}s'} (want ≤ 24h)"


def _pki_roles(role: ExportedResource, _: Resources) -> Iterator[str]:
    name = text(role.inputs.get("name")) or role.name
    if truthy(role.inputs.get("allowAnyName")):
        yield f"PKI role {name} allows any name"
    if not strings(role.inputs.get("allowedDomains")):
        yield f"PKI role {name} lists no allowedDomains"
    ttl = seconds(role.inputs.get("maxTtl"))
    if not ttl or ttl > MAX_PKI_TTL:
        yield f"PKI role {name}: maxTtl is {'unset' if not ttl else f'{ttl:g}s'} (want ≤ 1 year)"


def _version(tag: str | None) -> tuple[int, ...] | None:
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag or "")
    return tuple(int(part) for part in match.groups()) if match else None


def _patched(container: Container, r: Resources) -> Iterator[str]:
    version = _version(container.image_tag)
    wanted = ".".join(map(str, MIN_OPENBAO))
    if version is None:
        yield f"OpenBao {container.name}: image {container.image_ref} carries no version tag to check (want ≥ {wanted})"
    elif version < MIN_OPENBAO:
        yield f"OpenBao {container.name} runs {'.'.join(map(str, version))} (want ≥ {wanted})"
    if any(arg == "-dev" or arg.startswith("-dev-") for arg in container.command):
        yield f"OpenBao {container.name} runs in dev mode"
    config = _config(container, r) or {}
    for switch in UNSAFE_SWITCHES:
        if any(truthy(value) for value in find_values(config, switch)):
            yield f"OpenBao {container.name} enables {switch}"


def _no_core_dumps(container: Container, r: Resources) -> Iterator[str]:
    limits = [u for u in known(container.inputs.get("ulimits")) or [] if isinstance(u, dict) and text(u.get("name")) == "core"]
    if not limits or any(number(u.get("soft")) != 0 or number(u.get("hard")) != 0 for u in limits):
        yield f"OpenBao {container.name} may write core dumps (set ulimits core soft=0 hard=0)"
    user = (container.user or "0").split(":", 1)[0]
    if user in {"0", "root"}:
        yield f"OpenBao {container.name} runs as root"
    _, adds = container.capabilities
    mlock = "IPC_LOCK" in adds and not any(truthy(v) for v in find_values(_config(container, r) or {}, "disable_mlock"))
    if not mlock and number(container.inputs.get("memorySwap")) != container.memory:
        yield f"OpenBao {container.name} can be swapped out (no mlock with IPC_LOCK, and memorySwap ≠ memory)"


class _Location:
    """Where forbidden material sits: a resource and the key or path that carries it."""

    def __init__(self, urn: str, where: str) -> None:
        self.urn = urn
        self.where = where


def _keys(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{prefix}{key}"
            yield from _keys(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _keys(item, f"{prefix}{index}.")


def _material(pattern: re.Pattern[str]):  # noqa: ANN202 - a subject selector
    """Every env key, uploaded file path and property key matching `pattern`."""

    def select(r: Resources) -> Iterator[_Location]:
        for container in r.containers:
            for key in container.env:
                if pattern.search(key) and not key.endswith("_FILE"):
                    yield _Location(container.urn, f"env {key}")
            for upload in container.uploads:
                if pattern.search(upload.path.rsplit("/", 1)[-1]):
                    yield _Location(container.urn, f"file {upload.path}")
        for resource in r.all:
            for key in (*_keys(resource.inputs), *_keys(resource.outputs)):
                if pattern.search(key.rsplit(".", 1)[-1]):
                    yield _Location(resource.urn, f"property {key}")

    return select


def _root_token_material(r: Resources) -> Iterator[_Location]:
    """Root-token material anywhere, and OpenBao providers that hold a token of their own instead of
    logging in as the provisioner AppRole (a token stored in state and config is a standing credential;
    in practice it is the root token `bootstrap` would otherwise have to keep)."""
    yield from _material(ROOT_TOKEN)(r)
    for provider in r.of_type("pulumi:providers:vault"):
        if "token" in provider.inputs:
            yield _Location(provider.urn, "provider input token")


def _found(location: _Location, _: Resources) -> Iterator[str]:
    yield f"found in {location.where}"


openbao_rule = rules_on(lambda r: r.with_role("openbao"))

RULES: tuple[Rule, ...] = (
    Rule(
        "BAO-01",
        Severity.MEDIUM,
        "audit device in the server HCL, on a persistent volume",
        'declare audit "file" "…" { options { file_path = "<volume>/audit.log" } } in the server HCL; drop vault.Audit',
        "OpenBao audit docs",
        subjects=_audit_subjects,
        violations=_audit_device,
    ),
    openbao_rule(
        "BAO-02",
        Severity.MEDIUM,
        "TLS listener or internal-only; route protected, metrics not public",
        "keep OpenBao on internal networks (or enable TLS ≥ 1.2), put its router behind forward-auth, and serve "
        "token-less metrics only on a listener Traefik does not route to",
        "OpenBao tcp listener docs",
        _listener,
    ),
    Rule(
        "BAO-03",
        Severity.HIGH,
        "least-privilege application policies",
        "grant exact KV v2 data paths with read, transit encrypt/decrypt with update; no globs, sys/, auth/ or sudo",
        "OpenBao policies docs",
        subjects=lambda r: _bao(r).application_policies(),
        violations=_least_privilege,
    ),
    Rule(
        "BAO-04",
        Severity.HIGH,
        "root token never used by apps or providers, never stored",
        "authenticate apps with AppRole and Pulumi's providers as the provisioner AppRole (authLogin, set up by "
        "`cli.py bootstrap openbao`); revoke the root token after bootstrap and never export it",
        "Vault hardening",
        subjects=_root_token_material,
        violations=_found,
    ),
    Rule(
        "BAO-05",
        Severity.HIGH,
        "AppRoles: short secret-id TTL, bounded tokens, bound CIDRs, no root",
        "set secretIdTtl ≤ 90d, tokenTtl/tokenMaxTtl ≤ 24h, secretIdBoundCidrs/tokenBoundCidrs = the app's address",
        "OpenBao AppRole API",
        subjects=lambda r: _bao(r).approle_roles,
        violations=_approle,
    ),
    Rule(
        "BAO-06",
        Severity.MEDIUM,
        "bounded JWT/OIDC and database roles",
        "set boundAudiences, userClaim, exact https redirect URIs, and TTLs ≤ 24h",
        "OpenBao JWT docs",
        subjects=lambda r: r.of_type(JWT_ROLE, DATABASE_ROLE),
        violations=_auth_roles,
    ),
    Rule(
        "BAO-07",
        Severity.HIGH,
        "unseal material away from data, state and backups",
        "keep unseal keys offline (the bootstrap step prints them once); never pass them to a container or export them",
        "OpenBao seal docs",
        subjects=_material(UNSEAL_MATERIAL),
        violations=_found,
    ),
    Rule(
        "BAO-08",
        Severity.MEDIUM,
        "PKI roles constrained",
        "allowAnyName=false, allowedDomains set, maxTtl ≤ 1 year",
        "pulumi-vault PKI role",
        subjects=lambda r: r.of_type(PKI_ROLE),
        violations=_pki_roles,
    ),
    Rule(
        "BAO-11",
        Severity.HIGH,
        "tenant isolation: a tenant's AppRole reads only its own tenant's secrets",
        "grant <tenant>-role only paths under its own namespace (and the shared sevensa/ paths the seed gives it)",
        "seed secret matrix; OpenBao namespaces docs",
        subjects=lambda r: _bao(r).approle_roles,
        violations=_tenant_isolation,
    ),
    Rule(
        "BAO-12",
        Severity.HIGH,
        "operator policies: no path \"*\", sudo only where bootstrap needs it",
        "grant operators the mounts they manage by name; sudo only on sys/auth/<method> for the platform's auth methods",
        "OpenBao policies docs (sudo, root)",
        subjects=lambda r: [p for p in _bao(r).policies if p.name not in _bao(r).application_policy_names],
        violations=_operator_policy,
    ),
    openbao_rule(
        "BAO-09",
        Severity.MEDIUM,
        "patched version, unsafe switches off",
        f"pin OpenBao ≥ {'.'.join(map(str, MIN_OPENBAO))}; no -dev, {', '.join(UNSAFE_SWITCHES)} off",
        "OpenBao release notes",
        _patched,
    ),
    openbao_rule(
        "BAO-10",
        Severity.MEDIUM,
        "no core dumps, non-root, no swap",
        "ulimits core 0/0, a non-root user, IPC_LOCK with mlock (or memorySwap = memory)",
        "Vault hardening",
        _no_core_dumps,
    ),
)
