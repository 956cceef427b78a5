"""What every tenant stack (psra, rentguy, wpcs, ai) does with its application services.

Each service gets, on top of its spec:
- its own OIDC client (a frontend whose host is a redirect host of a realm client other
  than oauth2-proxy): issuer, client id, and the client secret as a secret file; with a
  private ACME CA (`acmeIssuerCertificate`), that CA's root as its trust store;
- AppRole access to OpenBao when the spec's access matrix names it: address, namespace,
  and the role/secret id as secret files, once the security stack has published them
  in `context.shared["approle_credentials"][<role name>]` (`{"role_id", "secret_id"}`);
- the non-secret coordinates of its tenant's data stores (passwords come from OpenBao).
Env names follow one convention (`OIDC_*`, `OPENBAO_*`, `DATABASE_*`, `REDIS_*`) with an
optional per-service prefix (the bundled app reads `PSRA_*`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.container import HardenedContainer
from infra.spec.models import ServiceSpec
from stacks.context import PlatformContext
from stacks.datastores import credentials as datastore_credentials
from stacks.services import (
    APPROLE_CREDENTIALS,
    CLIENT_SECRETS,
    CONTAINERS,
    service_container,
)

SECRETS_DIR = "/run/secrets"
ACME_ISSUER_FILE = "/etc/platform-ca/acme-issuer.pem"
"""OpenSSL's `SSL_CERT_FILE`: with `acmeIssuerCertificate`, the one root an app trusts (its only TLS peer is the issuer)."""
FORWARD_AUTH_CLIENT = "oauth2-proxy"
OPENBAO_SERVICE = "openbao"


@dataclass
class Fields:
    """ContainerArgs fields being assembled for one service."""

    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_files: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    config_files: dict[str, pulumi.Input[str]] = field(default_factory=dict)

    def add(self, other: Fields) -> Fields:
        self.env |= other.env
        self.secret_files |= other.secret_files
        self.config_files |= other.config_files
        return self


def issuer_url(context: PlatformContext) -> str:
    return f"https://{context.spec.host('auth')}/realms/{context.spec.keycloak.realm}"


def oidc_fields(context: PlatformContext, service: ServiceSpec, prefix: str = "") -> Fields:
    """A routed frontend's own OIDC client (by redirect host), secret as a file."""
    hosts = {route.host for route in service.routes}
    client = next(
        (c for c in context.spec.keycloak.clients if c.client_id != FORWARD_AUTH_CLIENT and hosts & set(c.redirect_hosts)), None
    )
    if client is None:
        return Fields()
    fields = Fields(env={f"{prefix}OIDC_ISSUER": issuer_url(context), f"{prefix}OIDC_CLIENT_ID": client.client_id})
    secret = context.shared.get(CLIENT_SECRETS, {}).get(client.client_id)
    if secret is not None:
        path = f"{SECRETS_DIR}/oidc-client-secret"
        fields.env[f"{prefix}OIDC_CLIENT_SECRET_FILE"] = path
        fields.secret_files[path] = secret
    if context.spec.acme_issuer_certificate is not None:  # a private ACME CA: its tokens' issuer is served under it
        fields.env["SSL_CERT_FILE"] = ACME_ISSUER_FILE
        fields.config_files[ACME_ISSUER_FILE] = context.spec.acme_issuer_certificate
    return fields


def openbao_address(service: ServiceSpec, openbao: ServiceSpec) -> str:
    """OpenBao's fixed address on a network where `service` has its fixed address too.

    The AppRole binding accepts only the service's fixed addresses (`approle_cidrs`); the name
    `openbao` resolves on every network the two share, and a login sent over another one (the
    lab saw psra-api log in from its psra-db-net address) is refused."""
    network = next((n for n in service.ipv4_addresses if n in openbao.ipv4_addresses), None)
    if network is None:
        raise ValueError(f"service {service.name!r} and OpenBao share no network where both have a fixed address (its AppRole is bound to one)")
    return str(openbao.ipv4_addresses[network])


def openbao_fields(context: PlatformContext, service: ServiceSpec, prefix: str = "", missing: list[str] | None = None) -> Fields:
    """AppRole login material for a service in the access matrix; `missing` collects those still without it."""
    role = next((r for r in context.spec.openbao.approles if service.name in r.services), None)
    if role is None:
        return Fields()
    openbao = next(s for s in context.spec.services if s.name == OPENBAO_SERVICE)
    port = openbao.routes[0].service_port if openbao.routes else 8200
    fields = Fields(env={f"{prefix}OPENBAO_ADDR": f"http://{openbao_address(service, openbao)}:{port}", f"{prefix}OPENBAO_ROLE": role.name})
    credentials: Mapping[str, pulumi.Input[str]] | None = context.shared.get(APPROLE_CREDENTIALS, {}).get(role.name)
    if credentials is None:
        if missing is not None:
            missing.append(service.name)
        return fields
    role_file, secret_file = f"{SECRETS_DIR}/openbao-role-id", f"{SECRETS_DIR}/openbao-secret-id"
    fields.env |= {f"{prefix}OPENBAO_ROLE_ID_FILE": role_file, f"{prefix}OPENBAO_SECRET_ID_FILE": secret_file}
    fields.secret_files |= {role_file: credentials["role_id"], secret_file: credentials["secret_id"]}
    return fields


def datastore_fields(context: PlatformContext, stores: Mapping[str, str], prefix: str = "") -> Fields:
    """`{"DATABASE": "psra-db", "REDIS": "psra-redis"}` -> host/port/name/user env (no passwords)."""
    env: dict[str, pulumi.Input[str]] = {}
    credentials = datastore_credentials(context)
    for kind, name in stores.items():
        store = credentials[name]
        env |= {f"{prefix}{kind}_HOST": store.host, f"{prefix}{kind}_PORT": str(store.port)}
        if store.database:
            env |= {f"{prefix}{kind}_NAME": store.database, f"{prefix}{kind}_USER": store.user}
    return Fields(env=env)


def build_app_services(
    context: PlatformContext,
    stack: str,
    per_service: Mapping[str, Fields] | None = None,
    env_prefixes: Mapping[str, str] | None = None,
) -> dict[str, HardenedContainer]:
    """Every service of `stack`, each after its tenant's data stores, with the conventions above."""
    per_service, env_prefixes = per_service or {}, env_prefixes or {}
    containers = context.shared.get(CONTAINERS, {})
    stores = [containers[s.name] for s in context.spec.datastores_of(stack) if s.name in containers]
    missing: list[str] = []
    built: dict[str, HardenedContainer] = {}
    for service in context.spec.services_of(stack):
        fields = Fields()
        prefix = env_prefixes.get(service.name, "")
        fields.add(oidc_fields(context, service, prefix)).add(openbao_fields(context, service, prefix, missing))
        fields.add(per_service.get(service.name, Fields()))
        built[service.name] = service_container(
            context, service.name, env=fields.env, secret_files=fields.secret_files, config_files=fields.config_files, depends_on=stores
        )
    if missing:
        pulumi.log.warn(
            f"{stack}: no AppRole credentials published for {', '.join(missing)}; "
            "their containers cannot log in to OpenBao until the security stack provides them"
        )
    return built
