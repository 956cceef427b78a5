"""Drift: the live Keycloak realm and OpenBao namespaces against what the stack declares.

Reported per object: `unmanaged` (exists live, declared nowhere — someone clicked it into
existence), `missing` (declared, not live) and `differs` (both, with the fields that do
not match). Compared: Keycloak clients, realm roles, groups (and their roles); OpenBao
namespaces, secret engine mounts, auth methods, ACL policies (text) and AppRoles.
Built-in objects (Keycloak's default clients and roles, OpenBao's sys/identity/cubbyhole
mounts, the token auth method, the default/root policies) are never reported, nor are the
provisioner's auth method and policy, which `cli.py bootstrap openbao` sets up outside the plan
(Pulumi logs in with them; its own policy is denied to it).

The OpenBao side is read relative to a base namespace (`BAO_NAMESPACE`, default the root
namespace), so one server can hold several platforms side by side.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from infra.audit.model import is_secret
from infra.audit.resources import Resources
from infra.plan.document import ExportedResource
from infra.spec.openbao_policy import PROVISIONER_AUTH_PATH, PROVISIONER_POLICY

REALM = "keycloak:index/realm:Realm"
CLIENT = "keycloak:openid/client:Client"
ROLE = "keycloak:index/role:Role"
GROUP = "keycloak:index/group:Group"
GROUP_ROLES = "keycloak:index/groupRoles:GroupRoles"
NAMESPACE = "vault:index/namespace:Namespace"
MOUNT = "vault:index/mount:Mount"
DATABASE_MOUNT = "vault:database/secretsMount:SecretsMount"
AUTH_BACKEND = "vault:index/authBackend:AuthBackend"
JWT_BACKEND = "vault:jwt/authBackend:AuthBackend"
POLICY = "vault:index/policy:Policy"
APPROLE_ROLE = "vault:appRole/authBackendRole:AuthBackendRole"

BUILTIN_CLIENTS = frozenset({"account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"})
BUILTIN_ROLES = frozenset({"offline_access", "uma_authorization"})
BUILTIN_MOUNTS = frozenset({"sys", "identity", "cubbyhole"})
BUILTIN_AUTH = frozenset({"token", PROVISIONER_AUTH_PATH})
BUILTIN_POLICIES = frozenset({"default", "root", PROVISIONER_POLICY})
# Declared client input -> how to read the same setting from Keycloak's client representation.
CLIENT_FIELDS: dict[str, tuple[str, Callable[[dict[str, Any]], Any], Callable[[Any], Any]]] = {
    "validRedirectUris": ("redirect URIs", lambda live: sorted(live.get("redirectUris") or []), lambda v: sorted(v or [])),
    "webOrigins": ("web origins", lambda live: sorted(live.get("webOrigins") or []), lambda v: sorted(v or [])),
    "accessType": (
        "access type",
        lambda live: "BEARER-ONLY" if live.get("bearerOnly") else "PUBLIC" if live.get("publicClient") else "CONFIDENTIAL",
        lambda v: str(v).upper(),
    ),
    "standardFlowEnabled": ("standard flow", lambda live: bool(live.get("standardFlowEnabled")), bool),
    "implicitFlowEnabled": ("implicit flow", lambda live: bool(live.get("implicitFlowEnabled")), bool),
    "directAccessGrantsEnabled": ("password grant", lambda live: bool(live.get("directAccessGrantsEnabled")), bool),
    "serviceAccountsEnabled": ("service accounts", lambda live: bool(live.get("serviceAccountsEnabled")), bool),
    "fullScopeAllowed": ("full scope", lambda live: bool(live.get("fullScopeAllowed")), bool),
    "pkceCodeChallengeMethod": (
        "PKCE method",
        lambda live: (live.get("attributes") or {}).get("pkce.code.challenge.method", ""),
        lambda v: v or "",
    ),
}
APPROLE_FIELDS = {
    "tokenPolicies": ("token_policies", lambda v: sorted(v or [])),
    "secretIdTtl": ("secret_id_ttl", lambda v: int(v or 0)),
    "tokenTtl": ("token_ttl", lambda v: int(v or 0)),
    "tokenMaxTtl": ("token_max_ttl", lambda v: int(v or 0)),
    "secretIdNumUses": ("secret_id_num_uses", lambda v: int(v or 0)),
    "secretIdBoundCidrs": ("secret_id_bound_cidrs", lambda v: _cidrs(v)),
    "tokenBoundCidrs": ("token_bound_cidrs", lambda v: _cidrs(v)),
}


def _cidrs(values: Any) -> list[str]:
    """OpenBao stores a /32 as the bare address: compare networks, not spellings."""
    return sorted(str(ipaddress.ip_network(value, strict=False)) for value in values or [])


class DriftError(RuntimeError):
    """The live systems cannot be read (unreachable, no credentials, refused)."""


@dataclass(frozen=True, order=True)
class DriftItem:
    system: str  # keycloak | openbao
    kind: str
    name: str
    status: str  # unmanaged | missing | differs
    detail: str = ""


@dataclass
class DriftReport:
    items: list[DriftItem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.items

    def add(self, system: str, kind: str, declared: Iterable[str], live: Iterable[str], differs: Mapping[str, str] | None = None) -> None:
        """Record one kind of object: unmanaged, missing and differing names."""
        declared, live = set(declared), set(live)
        self.checked[f"{system} {kind}s"] = len(declared | live)
        self.items += [DriftItem(system, kind, name, "unmanaged") for name in sorted(live - declared)]
        self.items += [DriftItem(system, kind, name, "missing") for name in sorted(declared - live)]
        self.items += [DriftItem(system, kind, name, "differs", detail) for name, detail in sorted((differs or {}).items())]


def _text(value: Any) -> str:
    return value if isinstance(value, str) and not is_secret(value) else ""


def _names(resources: Iterable[ExportedResource], key: str = "name") -> list[str]:
    return [_text(r.inputs.get(key)) or r.name for r in resources]


def _secret_from(environ: Mapping[str, str], *names: str) -> str | None:
    """A credential from NAME or from the file NAME_FILE points at."""
    for name in names:
        if environ.get(name):
            return environ[name]
        path = environ.get(f"{name}_FILE")
        if path:
            return Path(path).read_text().strip()
    return None


@dataclass(frozen=True)
class LiveEndpoints:
    keycloak_url: str
    keycloak_user: str | None
    keycloak_password: str | None
    openbao_url: str
    openbao_token: str | None
    openbao_namespace: str = ""
    verify: bool | str = True

    def __repr__(self) -> str:  # credentials never in logs
        return f"LiveEndpoints(keycloak={self.keycloak_url!r}, openbao={self.openbao_url!r}, namespace={self.openbao_namespace!r})"

    @classmethod
    def from_environment(
        cls,
        resources: list[ExportedResource],
        *,
        keycloak_url: str | None = None,
        openbao_url: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> LiveEndpoints:
        domain = Resources(resources).domain or "localhost"
        return cls(
            keycloak_url=keycloak_url or environ.get("KEYCLOAK_URL") or f"https://auth.{domain}",
            keycloak_user=environ.get("KEYCLOAK_ADMIN") or environ.get("KC_BOOTSTRAP_ADMIN_USERNAME"),
            keycloak_password=_secret_from(environ, "KEYCLOAK_ADMIN_PASSWORD", "KC_BOOTSTRAP_ADMIN_PASSWORD"),
            openbao_url=openbao_url or environ.get("BAO_ADDR") or environ.get("VAULT_ADDR") or f"https://vault.{domain}",
            openbao_token=_secret_from(environ, "BAO_TOKEN", "VAULT_TOKEN"),
            openbao_namespace=(environ.get("BAO_NAMESPACE") or environ.get("VAULT_NAMESPACE") or "").strip("/"),
            verify=environ.get("BAO_CACERT") or environ.get("REQUESTS_CA_BUNDLE") or True,
        )


# ---- Keycloak ---------------------------------------------------------------------------


def _client_differences(declared: dict[str, Any], live: dict[str, Any]) -> str:
    changed = []
    for key, (label, read_live, normalise) in CLIENT_FIELDS.items():
        if key in declared and normalise(declared[key]) != read_live(live):
            changed.append(f"{label}: declared {normalise(declared[key])!r}, live {read_live(live)!r}")
    return "; ".join(changed)


def _group_roles(r: Resources, group: ExportedResource) -> set[str]:
    roles: set[str] = set()
    for binding in r.of_type(GROUP_ROLES):
        if group.urn in binding.dependencies:
            roles.update(_names(r.dependencies_of(binding, ROLE)))
    return roles


def keycloak_drift(exported: list[ExportedResource], endpoints: LiveEndpoints, report: DriftReport) -> None:
    r = Resources(exported)
    for realm in r.of_type(REALM):
        name = _text(realm.inputs.get("realm")) or realm.name
        if not (endpoints.keycloak_user and endpoints.keycloak_password):
            raise DriftError("Keycloak admin credentials missing: set KEYCLOAK_ADMIN and KEYCLOAK_ADMIN_PASSWORD (or _FILE)")
        try:
            admin = KeycloakAdmin(
                server_url=endpoints.keycloak_url,
                username=endpoints.keycloak_user,
                password=endpoints.keycloak_password,
                realm_name=name,
                user_realm_name="master",
                verify=endpoints.verify,
            )
            live_clients = {c["clientId"]: c for c in admin.get_clients()}
            live_roles = {role["name"] for role in admin.get_realm_roles()}
            live_groups = {g["name"]: {role["name"] for role in admin.get_group_realm_roles(g["id"])} for g in admin.get_groups()}
        except (KeycloakError, requests.RequestException) as error:
            raise DriftError(f"cannot read realm {name} at {endpoints.keycloak_url}: {error}") from error
        clients = {(_text(c.inputs.get("clientId")) or c.name): c.inputs for c in r.of_type(CLIENT)}
        differs = {
            cid: d for cid, inputs in clients.items() if cid in live_clients and (d := _client_differences(inputs, live_clients[cid]))
        }
        report.add("keycloak", "client", clients, set(live_clients) - BUILTIN_CLIENTS, differs)
        realm_roles = [role for role in r.of_type(ROLE) if not role.inputs.get("clientId")]
        report.add("keycloak", "role", _names(realm_roles), live_roles - BUILTIN_ROLES - {f"default-roles-{name}"})
        groups = {(_text(g.inputs.get("name")) or g.name): _group_roles(r, g) for g in r.of_type(GROUP)}
        group_differs = {
            g: f"roles: declared {sorted(roles)}, live {sorted(live_groups[g])}"
            for g, roles in groups.items()
            if g in live_groups and roles != live_groups[g]
        }
        report.add("keycloak", "group", groups, live_groups, group_differs)


# ---- OpenBao ----------------------------------------------------------------------------


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part and part.strip("/"))


def _mount_type(inputs: Mapping[str, Any], default: str) -> str:
    kind = _text(inputs.get("type")) or default
    version = str((inputs.get("options") or {}).get("version", ""))
    if kind == "kv-v2" or (kind == "kv" and version == "2"):
        return "kv-v2"
    return kind


def _live_mount_type(info: Mapping[str, Any]) -> str:
    kind = info.get("type", "")
    if kind == "kv" and str((info.get("options") or {}).get("version", "1")) == "2":
        return "kv-v2"
    return kind


class _Bao:
    """hvac clients per namespace, relative to the platform's base namespace."""

    def __init__(self, endpoints: LiveEndpoints) -> None:
        if not endpoints.openbao_token:
            raise DriftError("OpenBao token missing: set BAO_TOKEN (or VAULT_TOKEN, or BAO_TOKEN_FILE)")
        self.endpoints = endpoints

    def client(self, namespace: str) -> hvac.Client:
        full = _join(self.endpoints.openbao_namespace, namespace)
        return hvac.Client(
            url=self.endpoints.openbao_url,
            token=self.endpoints.openbao_token,
            namespace=full or None,
            verify=self.endpoints.verify,
            timeout=30,
        )

    def read(self, namespace: str, call: Callable[[hvac.Client], Any], missing: Any) -> Any:
        try:
            return call(self.client(namespace))
        except hvac.exceptions.InvalidPath:
            return missing
        except (hvac.exceptions.VaultError, requests.RequestException) as error:
            where = _join(self.endpoints.openbao_namespace, namespace) or "root namespace"
            raise DriftError(f"cannot read OpenBao ({where}) at {self.endpoints.openbao_url}: {error}") from error


def openbao_drift(exported: list[ExportedResource], endpoints: LiveEndpoints, report: DriftReport) -> None:
    r = Resources(exported)
    bao = _Bao(endpoints)
    namespaces = {_join(_text(n.inputs.get("namespace")), _text(n.inputs.get("path")) or n.name) for n in r.of_type(NAMESPACE)}
    scopes = sorted({""} | namespaces)
    parents = sorted({ns.rsplit("/", 1)[0] if "/" in ns else "" for ns in namespaces} | {""})
    live_namespaces = {
        _join(parent, key) for parent in parents for key in bao.read(parent, lambda c: c.sys.list_namespaces()["data"]["keys"], [])
    }
    report.add("openbao", "namespace", namespaces, live_namespaces)

    def scoped(resource: ExportedResource, name: str) -> str:
        return _join(_text(resource.inputs.get("namespace")), name)

    mounts = {scoped(m, _text(m.inputs.get("path")) or m.name): _mount_type(m.inputs, "") for m in r.of_type(MOUNT)}
    mounts |= {scoped(m, _text(m.inputs.get("path")) or m.name): "database" for m in r.of_type(DATABASE_MOUNT)}
    auths = {
        scoped(a, _text(a.inputs.get("path")) or _text(a.inputs.get("type")) or "jwt"): _text(a.inputs.get("type")) or "jwt"
        for a in r.of_type(AUTH_BACKEND, JWT_BACKEND)
    }
    policies = {scoped(p, _text(p.inputs.get("name")) or p.name): _text(p.inputs.get("policy")) for p in r.of_type(POLICY)}

    live_mounts: dict[str, str] = {}
    live_auths: dict[str, str] = {}
    live_policies: dict[str, str] = {}
    for scope in scopes:
        for path, info in bao.read(scope, lambda c: c.sys.list_mounted_secrets_engines()["data"], {}).items():
            if path.strip("/") not in BUILTIN_MOUNTS:
                live_mounts[_join(scope, path)] = _live_mount_type(info)
        for path, info in bao.read(scope, lambda c: c.sys.list_auth_methods()["data"], {}).items():
            if path.strip("/") not in BUILTIN_AUTH:
                live_auths[_join(scope, path)] = info.get("type", "")
        for name in bao.read(scope, lambda c: c.sys.list_acl_policies()["data"]["keys"], []):
            if name not in BUILTIN_POLICIES:
                live_policies[_join(scope, name)] = bao.read(scope, lambda c, n=name: c.sys.read_acl_policy(n)["data"]["policy"], "")

    def type_differs(declared: dict[str, str], live: dict[str, str]) -> dict[str, str]:
        return {k: f"type: declared {v}, live {live[k]}" for k, v in declared.items() if k in live and v and v != live[k]}

    report.add("openbao", "mount", mounts, live_mounts, type_differs(mounts, live_mounts))
    report.add("openbao", "auth method", auths, live_auths, type_differs(auths, live_auths))
    report.add(
        "openbao",
        "policy",
        policies,
        live_policies,
        {k: "policy text differs" for k, text in policies.items() if k in live_policies and text.strip() != live_policies[k].strip()},
    )
    _approle_drift(r, bao, {k: v for k, v in (live_auths | auths).items() if v == "approle"}, report)


def _approle_drift(r: Resources, bao: _Bao, approle_mounts: dict[str, str], report: DriftReport) -> None:
    declared: dict[str, Mapping[str, Any]] = {}
    for role in r.of_type(APPROLE_ROLE):
        backend = _text(role.inputs.get("backend")) or "approle"
        declared[_join(_text(role.inputs.get("namespace")), backend, _text(role.inputs.get("roleName")) or role.name)] = role.inputs
    live: dict[str, dict[str, Any]] = {}
    for mount in approle_mounts:
        scope, _, path = mount.rpartition("/")
        for name in bao.read(scope, lambda c, p=path: c.auth.approle.list_roles(mount_point=p)["data"]["keys"], []):
            live[_join(mount, name)] = bao.read(scope, lambda c, p=path, n=name: c.auth.approle.read_role(n, mount_point=p)["data"], {})
    differs: dict[str, str] = {}
    for key, inputs in declared.items():
        if key not in live:
            continue
        changed = [
            f"{live_key}: declared {normalise(inputs[k])!r}, live {normalise(live[key].get(live_key))!r}"
            for k, (live_key, normalise) in APPROLE_FIELDS.items()
            if k in inputs and normalise(inputs[k]) != normalise(live[key].get(live_key))
        ]
        if changed:
            differs[key] = "; ".join(changed)
    report.add("openbao", "approle", declared, live, differs)


def detect_drift(exported: list[ExportedResource], endpoints: LiveEndpoints) -> DriftReport:
    report = DriftReport()
    r = Resources(exported)
    if r.of_type(REALM):
        keycloak_drift(exported, endpoints, report)
    if r.of_type(NAMESPACE, MOUNT, POLICY, AUTH_BACKEND, APPROLE_ROLE):
        openbao_drift(exported, endpoints, report)
    report.items.sort()
    return report
