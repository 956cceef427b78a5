"""Replay the plan's OpenBao resources on a real server with hvac.

Each pulumi-vault resource type is translated to the API call its provider makes, in the
namespace of the resource's provider (one explicit provider per namespace in the plan).
Every planned input must be consumed by a translation (`check_consumed`), so a new input in
the program cannot go unapplied silently.

Environment-specific values are substituted, and only these (`OpenBaoSubstitutions`):
secrets (the caller's test values, or the lab plan's own); the bound CIDRs (the tests move
them into 127/8, the lab keeps them); the PostgreSQL the database engine connects to (a
test fixture instead of the `psra-db` container; the lab keeps the container); the OIDC
issuer (a test Keycloak instead of `https://auth.<domain>`; the lab keeps it); and, in the
lab only, the AppRole role and secret ids the plan computed, since its containers were
given those.
Everything that decides access — paths, policies, CIDR bindings, TTLs, roles, audiences,
bound claims — is applied exactly as planned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hvac
import hvac.exceptions

from infra.ops.replay.resources import (
    PlannedResource,
    UnhandledInput,
    planned,
    revealed,
    snake,
)
from infra.plan.document import ExportedResource

Substitute = Callable[[PlannedResource, str], str]


@dataclass(frozen=True)
class PostgresEndpoint:
    """Where the planned connection's database lives in a test, and its password."""

    host: str
    port: int
    password: str


BOUND_CIDR_KEYS = frozenset({"token_bound_cidrs", "secret_id_bound_cidrs", "cidr_list"})


def loopback_twin(cidr: str) -> str:
    """`172.20.10.11/32` -> `127.20.10.11/32`: the planned address moved into 127/8.

    The test client cannot connect from the services' real shared-net addresses, and this
    machine may only send test traffic to loopback; every 127.x.y.z is a local address on
    Linux, so the binding is proven from the twin, one distinct address per service.
    """
    address, _, prefix = cidr.partition("/")
    return ".".join(["127", *address.split(".")[1:]]) + (f"/{prefix}" if prefix else "")


ALREADY_THERE = ("path is already in use", "already exists", "issuer name already in use")


def created(create: Callable[[], Any]) -> bool:
    """Run `create`; False when the namespace, mount or PKI root is already there (a second replay converges)."""
    try:
        create()
    except hvac.exceptions.InvalidRequest as error:
        if not any(marker in str(error) for marker in ALREADY_THERE):
            raise
        return False
    return True


def as_planned(cidr: str) -> str:
    return cidr


@dataclass
class OpenBaoSubstitutions:
    """The environment-specific values (see module docstring); `None` keeps the planned one."""

    secret: Substitute
    bound_cidr: Callable[[str], str]
    """`loopback_twin` (tests) or `as_planned` (the lab)."""
    postgres: PostgresEndpoint | None = None
    """`None`: the planned connection URL and the (lab) plan's own password."""
    oidc_issuer: str | None = None
    oidc_client_secret: str | None = None
    planned_approle_ids: bool = False
    """The lab: each AppRole gets the role id and secret id the plan computed (its containers hold them)."""


@dataclass
class AppliedOpenBao:
    """What the applier did, for the assertions."""

    namespaces: list[str] = field(default_factory=list)
    policies: dict[str, str] = field(default_factory=dict)
    kv_values: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    """(namespace, mount, key) -> the record written."""
    approle_secret_ids: dict[str, str] = field(default_factory=dict)
    """AppRole name -> the secret id the planned `AuthBackendRoleSecretId` issued."""
    applied: list[str] = field(default_factory=list)


class OpenBaoApplier:
    def __init__(self, addr: str, root_token: str, substitutions: OpenBaoSubstitutions) -> None:
        self.addr = addr
        self.root_token = root_token
        self.subs = substitutions
        self.result = AppliedOpenBao()

    def client(self, namespace: str) -> hvac.Client:
        return hvac.Client(url=self.addr, token=self.root_token, namespace=namespace or None, timeout=30)

    def apply(self, document: dict[str, Any], resources: list[ExportedResource]) -> AppliedOpenBao:
        providers = {r.urn: r.inputs.get("namespace", "") for r in resources if r.type == "pulumi:providers:vault"}
        items = planned(document, resources, "vault:")
        # namespaces first: in the program the tenant providers wait for them
        items.sort(key=lambda item: item.type != "vault:index/namespace:Namespace")
        for item in items:
            provider_urn = item.resource.provider.rsplit("::", 1)[0]
            if provider_urn not in providers:
                raise UnhandledInput(f"{item.resource.urn}: not created through an explicit vault provider")
            handler = HANDLERS.get(item.type)
            if handler is None:
                raise UnhandledInput(f"{item.resource.urn}: no applier for type {item.type}")
            handler(self, item, providers[provider_urn])
            item.check_consumed()
            self.result.applied.append(item.resource.urn)
        return self.result

    # -- handlers ---------------------------------------------------------------------
    def namespace(self, item: PlannedResource, ns: str) -> None:
        path = item.require("path")
        created(lambda: self.client(ns).sys.create_namespace(path=path))
        self.result.namespaces.append(path)

    def mount(self, item: PlannedResource, ns: str) -> None:
        config = {}
        for key, api in (("defaultLeaseTtlSeconds", "default_lease_ttl"), ("maxLeaseTtlSeconds", "max_lease_ttl")):
            if key in item.resource.inputs:
                config[api] = f"{item.get(key)}s"
        client, path = self.client(ns), item.require("path")
        kind, description, options = item.require("type"), item.get("description"), item.get("options")
        enabled = created(
            lambda: client.sys.enable_secrets_engine(backend_type=kind, path=path, description=description, options=options, config=config or None)
        )
        if not enabled and config:
            client.sys.tune_mount_configuration(path=path, **config)

    def transit_key(self, item: PlannedResource, ns: str) -> None:
        client, backend, name = self.client(ns), item.require("backend"), item.require("name")
        client.write_data(f"{backend}/keys/{name}", data={"type": item.require("type"), "exportable": item.require("exportable")})
        client.write_data(
            f"{backend}/keys/{name}/config",
            data={"deletion_allowed": item.require("deletionAllowed"), "allow_plaintext_backup": item.require("allowPlaintextBackup")},
        )

    def database_mount(self, item: PlannedResource, ns: str) -> None:
        self.mount_typed(item, ns, "database")
        client, path = self.client(ns), item.require("path")
        for connection in item.require("postgresqls"):
            url, name, password = connection.pop("connectionUrl"), connection.pop("name"), connection.pop("password")
            if self.subs.postgres is not None:
                # the planned URL's host:port name the data store container; only they are replaced
                pg = self.subs.postgres
                prefix, _, rest = url.partition("@")
                url, password = f"{prefix}@{pg.host}:{pg.port}/{rest.partition('/')[2]}", pg.password
            data = {
                "plugin_name": "postgresql-database-plugin",
                "connection_url": url,
                "password": revealed(password),
            } | {snake(key): value for key, value in connection.items()}
            client.write_data(f"{path}/config/{name}", data=data)

    def mount_typed(self, item: PlannedResource, ns: str, backend_type: str) -> None:
        config = {
            "default_lease_ttl": f"{item.require('defaultLeaseTtlSeconds')}s",
            "max_lease_ttl": f"{item.require('maxLeaseTtlSeconds')}s",
        }
        client, path = self.client(ns), item.require("path")
        if not created(lambda: client.sys.enable_secrets_engine(backend_type=backend_type, path=path, config=config)):
            client.sys.tune_mount_configuration(path=path, **config)

    def database_role(self, item: PlannedResource, ns: str) -> None:
        data = {
            "db_name": item.require("dbName"),
            "creation_statements": item.require("creationStatements"),
            "revocation_statements": item.require("revocationStatements"),
            "default_ttl": item.require("defaultTtl"),
            "max_ttl": item.require("maxTtl"),
        }
        self.client(ns).write_data(f"{item.require('backend')}/roles/{item.require('name')}", data=data)

    def pki_root(self, item: PlannedResource, ns: str) -> None:
        backend, kind = item.require("backend"), item.require("type")
        data = {snake(key): item.get(key) for key in item.resource.inputs if key not in {"backend", "type"}}
        client = self.client(ns)
        created(lambda: client.write_data(f"{backend}/root/generate/{kind}", data=data))

    def pki_role(self, item: PlannedResource, ns: str) -> None:
        backend, name = item.require("backend"), item.require("name")
        data = {snake(key): item.get(key) for key in item.resource.inputs if key not in {"backend", "name"}}
        self.client(ns).write_data(f"{backend}/roles/{name}", data=data)

    def auth_backend(self, item: PlannedResource, ns: str) -> None:
        client, kind, path, description = self.client(ns), item.require("type"), item.require("path"), item.get("description")
        created(lambda: client.sys.enable_auth_method(method_type=kind, path=path, description=description))

    def approle_role(self, item: PlannedResource, ns: str) -> None:
        backend, role = item.require("backend"), item.require("roleName")
        data = {snake(key): item.get(key) for key in item.resource.inputs if key not in {"backend", "roleName"}}
        data |= {key: [self.subs.bound_cidr(c) for c in data[key]] for key in BOUND_CIDR_KEYS & set(data) if data[key]}
        client = self.client(ns)
        client.write_data(f"auth/{backend}/role/{role}", data=data)
        if self.subs.planned_approle_ids:
            role_id = item.resource.outputs.get("roleId")
            if not role_id:
                raise UnhandledInput(f"{item.resource.urn}: the plan computed no role id")
            client.write_data(f"auth/{backend}/role/{role}/role-id", data={"role_id": role_id})

    def approle_secret_id(self, item: PlannedResource, ns: str) -> None:
        backend, role = item.require("backend"), item.require("roleName")
        data = {
            "cidr_list": [self.subs.bound_cidr(c) for c in item.require("cidrLists")],
            "token_bound_cidrs": [self.subs.bound_cidr(c) for c in item.require("tokenBoundCidrs")],
        }
        client, path = self.client(ns), f"auth/{backend}/role/{role}"
        if self.subs.planned_approle_ids:
            planned_secret_id = revealed(item.resource.outputs.get("secretId"))
            if not planned_secret_id:
                raise UnhandledInput(f"{item.resource.urn}: the plan computed no secret id")
            known = client.write_data(f"{path}/secret-id/lookup", data={"secret_id": planned_secret_id})
            if not (isinstance(known, dict) and known.get("data")):  # OpenBao answers 204 for an unknown id
                client.write_data(f"{path}/custom-secret-id", data=data | {"secret_id": planned_secret_id})
            self.result.approle_secret_ids[role] = planned_secret_id
            return
        response = client.write_data(f"{path}/secret-id", data=data)
        self.result.approle_secret_ids[role] = response["data"]["secret_id"]

    def jwt_backend(self, item: PlannedResource, ns: str) -> None:
        client, path = self.client(ns), item.require("path")
        kind, description = item.require("type"), item.get("description")
        created(lambda: client.sys.enable_auth_method(method_type=kind, path=path, description=description))
        discovery_url, issuer = item.require("oidcDiscoveryUrl"), item.require("boundIssuer")
        if self.subs.oidc_issuer is not None:
            discovery_url = issuer = self.subs.oidc_issuer
        secret = self.subs.secret if self.subs.oidc_client_secret is None else lambda *_: self.subs.oidc_client_secret
        data = {
            "oidc_discovery_url": discovery_url,
            "bound_issuer": issuer,
            "oidc_client_id": item.require("oidcClientId"),
            "oidc_client_secret": item.secret("oidcClientSecret", secret),
            "default_role": item.require("defaultRole"),
        }
        if "oidcDiscoveryCaPem" in item.resource.inputs:
            data["oidc_discovery_ca_pem"] = item.get("oidcDiscoveryCaPem")
        client.write_data(f"auth/{path}/config", data=data)

    def jwt_role(self, item: PlannedResource, ns: str) -> None:
        backend, role = item.require("backend"), item.require("roleName")
        data = {snake(key): item.get(key) for key in item.resource.inputs if key not in {"backend", "roleName"}}
        self.client(ns).write_data(f"auth/{backend}/role/{role}", data=data)

    def userpass_user(self, item: PlannedResource, ns: str) -> None:
        mount, user = item.require("mount"), item.require("username")
        password = item.secret("passwordWo", self.subs.secret)
        item.ignore("passwordWoVersion")  # Pulumi-side trigger for re-sending the write-only password
        data = {"password": password} | {
            snake(key): item.get(key) for key in item.resource.inputs if key.startswith("token")
        }
        self.client(ns).write_data(f"auth/{mount}/users/{user}", data=data)

    def policy(self, item: PlannedResource, ns: str) -> None:
        name, text = item.require("name"), item.require("policy")
        self.client(ns).sys.create_or_update_policy(name=name, policy=text)
        self.result.policies[name] = text

    def kv_secret(self, item: PlannedResource, ns: str) -> None:
        mount, key = item.require("mount"), item.require("name")
        record = json.loads(item.secret("dataJson", self.subs.secret))
        item.ignore("disableRead")  # provider-side: whether Pulumi reads the value back
        client = self.client(ns)
        client.secrets.kv.v2.create_or_update_secret(path=key, secret=record, mount_point=mount)
        metadata = item.require("customMetadata")
        client.secrets.kv.v2.update_metadata(
            path=key, mount_point=mount, max_versions=metadata["maxVersions"], custom_metadata=metadata["data"]
        )
        self.result.kv_values[(ns, mount, key)] = record


HANDLERS: dict[str, Callable[[OpenBaoApplier, PlannedResource, str], None]] = {
    "vault:index/namespace:Namespace": OpenBaoApplier.namespace,
    "vault:index/mount:Mount": OpenBaoApplier.mount,
    "vault:transit/secretBackendKey:SecretBackendKey": OpenBaoApplier.transit_key,
    "vault:database/secretsMount:SecretsMount": OpenBaoApplier.database_mount,
    "vault:database/secretBackendRole:SecretBackendRole": OpenBaoApplier.database_role,
    "vault:pkiSecret/secretBackendRootCert:SecretBackendRootCert": OpenBaoApplier.pki_root,
    "vault:pkiSecret/secretBackendRole:SecretBackendRole": OpenBaoApplier.pki_role,
    "vault:index/authBackend:AuthBackend": OpenBaoApplier.auth_backend,
    "vault:appRole/authBackendRole:AuthBackendRole": OpenBaoApplier.approle_role,
    "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId": OpenBaoApplier.approle_secret_id,
    "vault:jwt/authBackend:AuthBackend": OpenBaoApplier.jwt_backend,
    "vault:jwt/authBackendRole:AuthBackendRole": OpenBaoApplier.jwt_role,
    "vault:index/userpassAuthBackendUser:UserpassAuthBackendUser": OpenBaoApplier.userpass_user,
    "vault:index/policy:Policy": OpenBaoApplier.policy,
    "vault:kv/secretV2:SecretV2": OpenBaoApplier.kv_secret,
}
