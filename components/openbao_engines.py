"""OpenBao secrets engines: KV v2, transit keys, PostgreSQL dynamic credentials, internal PKI.

Mount paths come from the secrets matrix (`SecretPathSpec.mount`), so the policies of
`infra.spec.openbao_policy` and the mounts here always agree. Every engine has bounded lease
TTLs; transit keys cannot be exported or deleted; PKI roles are limited to the platform's
domain (BAO-08).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from components.openbao_namespaces import ROOT, OpenBaoNamespaces
from infra.spec.models import OpenBaoSpec
from infra.spec.openbao_policy import (
    DATABASE_MOUNT,
    PKI_MOUNT,
    database_role_name,
    namespaced,
)

PKI_ROLE = "internal-services"
PKI_LEAF_TTL_SECONDS = 86_400
PKI_LEAF_MAX_TTL_SECONDS = 2_592_000


@dataclass(frozen=True)
class PostgresTarget:
    """Where the database engine of a namespace connects, and as whom (a role with CREATEROLE)."""

    host: str
    port: int
    database: str
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    server: Sequence[pulumi.Resource] = ()
    """The data store's container: OpenBao verifies the connection when it is written."""


@dataclass(frozen=True)
class OpenBaoEnginesArgs:
    openbao: OpenBaoSpec
    domain: str
    namespaces: OpenBaoNamespaces
    databases: dict[str, PostgresTarget]
    """namespace -> its PostgreSQL, for the namespaces of `database_engine_namespaces` whose
    data store credentials are known."""


def creation_statements(database: str) -> list[str]:
    """A login role valid until its lease ends, with data access in `public` only."""
    return [
        """CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';""",
        f'GRANT CONNECT ON DATABASE "{database}" TO "{{{{name}}}}";',
        'GRANT USAGE ON SCHEMA public TO "{{name}}";',
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{{name}}";',
    ]


def revocation_statements(database: str) -> list[str]:
    return [
        'REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}";',
        'REVOKE USAGE ON SCHEMA public FROM "{{name}}";',
        f'REVOKE CONNECT ON DATABASE "{database}" FROM "{{{{name}}}}";',
        'DROP ROLE IF EXISTS "{{name}}";',
    ]


class OpenBaoEngines(pulumi.ComponentResource):
    """KV v2 mounts for every (namespace, mount) of the matrix, transit, database and PKI."""

    kv_mounts: dict[tuple[str, str], vault.Mount]

    def __init__(self, name: str, args: OpenBaoEnginesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:OpenBaoEngines", name, None, opts)
        spec, ns = args.openbao, args.namespaces
        self.kv_mounts = {}
        for namespace, mount in sorted({(p.namespace, p.mount) for p in spec.secret_paths if p.engine == "kv-v2"}):
            self.kv_mounts[(namespace, mount)] = vault.Mount(
                f"{name}-kv-{namespaced(namespace, mount).replace('/', '-')}",
                path=mount,
                type="kv",
                options={"version": "2"},
                description=f"KV v2 secrets of {namespace or 'the shared area'} (secrets matrix)",
                opts=ns.opts(namespace, self),
            )
        self._transit(name, spec, ns)
        unknown = sorted(set(args.databases) - set(spec.database_engine_namespaces))
        if unknown:
            raise ValueError(f"database targets for namespaces without a database engine: {', '.join(unknown)}")
        for namespace, target in sorted(args.databases.items()):
            self._database(name, namespace, target, spec, ns)
        self._pki(name, spec, args.domain, ns)
        self.register_outputs({"kv_mounts": [namespaced(n, m) for n, m in self.kv_mounts]})

    def _transit(self, name: str, spec: OpenBaoSpec, ns: OpenBaoNamespaces) -> None:
        keys = [p for p in spec.secret_paths if p.engine == "transit"]
        mounts: dict[tuple[str, str], vault.Mount] = {}
        for key in keys:
            where = (key.namespace, key.mount)
            if where not in mounts:
                mounts[where] = vault.Mount(
                    f"{name}-transit-{namespaced(*where).replace('/', '-')}",
                    path=key.mount,
                    type="transit",
                    description=f"transit encryption of {key.namespace}",
                    opts=ns.opts(key.namespace, self),
                )
            vault.transit.SecretBackendKey(
                f"{name}-transit-{key.namespace}-{key.key}",
                backend=mounts[where].path,
                name=key.key,
                type="aes256-gcm96",
                exportable=False,
                allow_plaintext_backup=False,
                deletion_allowed=False,
                opts=ns.opts(key.namespace, self),
            )

    def _database(
        self, name: str, namespace: str, target: PostgresTarget, spec: OpenBaoSpec, ns: OpenBaoNamespaces
    ) -> None:
        role = database_role_name(namespace)
        ttl, max_ttl = spec.database_credentials_ttl_seconds, spec.database_credentials_max_ttl_seconds
        mount = vault.database.SecretsMount(
            f"{name}-database-{namespace}",
            path=DATABASE_MOUNT,
            default_lease_ttl_seconds=ttl,
            max_lease_ttl_seconds=max_ttl,
            postgresqls=[
                vault.database.SecretsMountPostgresqlArgs(
                    name=target.database,
                    connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{target.host}:{target.port}/{target.database}?sslmode=disable",
                    username=target.username,
                    password=target.password,
                    allowed_roles=[role],
                    verify_connection=True,
                    max_open_connections=4,
                    username_template="v-{{.RoleName}}-{{random 8}}-{{unix_time}}",
                )
            ],
            opts=ns.opts(namespace, self, depends_on=list(target.server)),
        )
        vault.database.SecretBackendRole(
            f"{name}-database-{namespace}-{role}",
            backend=mount.path,
            name=role,
            db_name=target.database,
            default_ttl=ttl,
            max_ttl=max_ttl,
            creation_statements=creation_statements(target.database),
            revocation_statements=revocation_statements(target.database),
            opts=ns.opts(namespace, self, depends_on=[mount]),
        )

    def _pki(self, name: str, spec: OpenBaoSpec, domain: str, ns: OpenBaoNamespaces) -> None:
        """Root-namespace internal CA (10 years), name-constrained to the platform's domain."""
        mount = vault.Mount(
            f"{name}-pki",
            path=PKI_MOUNT,
            type="pki",
            description="internal CA of the platform",
            default_lease_ttl_seconds=PKI_LEAF_TTL_SECONDS,
            max_lease_ttl_seconds=spec.pki_max_ttl_seconds,
            opts=ns.opts(ROOT, self),
        )
        root = vault.pkisecret.SecretBackendRootCert(
            f"{name}-pki-root",
            backend=mount.path,
            type="internal",
            common_name=f"Sevensa Internal Root CA ({domain})",
            issuer_name="internal-root",
            key_type="ec",
            key_bits=384,
            ttl=str(spec.pki_max_ttl_seconds),
            permitted_dns_domains=[domain],
            exclude_cn_from_sans=True,
            opts=ns.opts(ROOT, self),
        )
        vault.pkisecret.SecretBackendRole(
            f"{name}-pki-role",
            backend=mount.path,
            name=PKI_ROLE,
            issuer_ref="internal-root",
            allowed_domains=[domain],
            allow_subdomains=True,
            allow_bare_domains=False,
            allow_glob_domains=False,
            allow_any_name=False,
            allow_wildcard_certificates=False,
            allow_localhost=False,
            allow_ip_sans=False,
            enforce_hostnames=True,
            server_flag=True,
            client_flag=True,
            key_type="ec",
            key_bits=256,
            ttl=str(PKI_LEAF_TTL_SECONDS),
            max_ttl=str(PKI_LEAF_MAX_TTL_SECONDS),
            opts=ns.opts(ROOT, self, depends_on=[root]),
        )
