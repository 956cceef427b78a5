"""Security stack: Keycloak and OpenBao servers, the realm, and OpenBao's content.

Order of a real deployment (see README, "First deploy"): the containers come up; the
realm is applied as soon as Keycloak answers; OpenBao's content needs `cli.py bootstrap
openbao` (init; the provisioner's AppRole login stored as the config secrets
`security:openbaoProvisionerRoleId`/`...SecretId`; root token revoked) and `bootstrap unseal`
first. Until the login exists, a real run creates the servers and the realm and says so; the
offline plan always shows the complete content.

Cross-stack values (secrets as secret Outputs):
- reads `shared["datastore_credentials"][store]` (`DatastoreCredentials`, built by the core
  stack): Keycloak's database, the KV records at the seed's paths, the database engine;
- reads and completes `shared["keycloak_client_secrets"][client_id]`: a secret another stack
  generated (core's oauth2-proxy) becomes the Keycloak client's; the others are generated here;
- publishes `shared["approle_credentials"][role]` = `{"role_id", "secret_id"}` for the apps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_keycloak as keycloak
import pulumi_random as random

from components import keycloak_server, openbao_server, readiness
from components.datastore import DatastoreCredentials
from components.keycloak_realm import KeycloakRealm, KeycloakRealmArgs, redirect_uris
from components.openbao_auth import KeycloakIssuer, OpenBaoAuth, OpenBaoAuthArgs
from components.openbao_engines import (
    OpenBaoEngines,
    OpenBaoEnginesArgs,
    PostgresTarget,
)
from components.openbao_namespaces import OpenBaoNamespaces, OpenBaoNamespacesArgs
from components.openbao_policies import OpenBaoPolicies, OpenBaoPoliciesArgs
from components.openbao_secrets import OpenBaoSecrets, OpenBaoSecretsArgs
from infra.spec import security_settings
from infra.spec.models import DatastoreSpec, PlatformSpec, ServiceSpec
from stacks.context import PlatformContext
from stacks.datastores import credentials as datastore_credentials
from stacks.services import CONTAINERS, service_container, service_spec

KEYCLOAK_CLIENT_SECRETS = "keycloak_client_secrets"
APPROLE_CREDENTIALS = "approle_credentials"
OPENBAO_ADMIN_CLIENT = "bao-oidc"
GENERATED_SECRET_LENGTH = 64
OFFLINE_LOGIN = ("offline-plan-role-id", "offline-plan-secret-id")


def build(context: PlatformContext) -> None:
    spec = context.spec
    settings = security_settings.endpoints(spec)
    keycloak_service = service_spec(context, "keycloak")
    keycloak_database = _datastore(spec, "keycloak-db")
    admin_password = keycloak_server.admin_password("keycloak")
    keycloak_container = service_container(
        context,
        keycloak_service.name,
        **keycloak_server.container_fields(
            keycloak_server.KeycloakSettings(
                service=keycloak_service,
                database=keycloak_database,
                domain=spec.domain,
                trusted_proxies=_trusted_proxies(spec, keycloak_service),
                admin_password=admin_password,
                db_password=_credentials(context, keycloak_database.name).password,
            )
        ),
    )
    openbao_service = service_spec(context, "openbao")
    openbao_container = service_container(context, openbao_service.name, **openbao_server.container_fields(openbao_service))

    provider = keycloak.Provider(
        "keycloak",
        url=readiness.gated_endpoint(settings.keycloak_admin_url, readiness.KEYCLOAK_HEALTH, [keycloak_container.container.id]),
        base_path="",
        realm="master",
        client_id="admin-cli",
        username=keycloak_server.ADMIN_USERNAME,
        password=admin_password,
        initial_login=False,
    )
    known_secrets = context.shared.setdefault(KEYCLOAK_CLIENT_SECRETS, {})
    realm = KeycloakRealm(
        "keycloak-realm",
        KeycloakRealmArgs(realm=spec.keycloak, client_secrets=dict(known_secrets)),
        pulumi.ResourceOptions(providers=[provider]),
    )
    known_secrets.update(realm.client_secrets)

    login = security_settings.provisioner_credentials()
    if login is None:
        if not readiness.offline():
            pulumi.log.warn(
                "OpenBao content skipped: no provisioner login (security:openbaoProvisionerRoleId/SecretId) yet. "
                "Run `python cli.py bootstrap openbao`, `python cli.py bootstrap unseal`, then `up` again."
            )
            return
        role_id, secret_id = (pulumi.Output.secret(value) for value in OFFLINE_LOGIN)
        login = security_settings.ProvisionerCredentials(role_id=role_id, secret_id=secret_id)
    address = readiness.gated_endpoint(settings.openbao_address, readiness.OPENBAO_HEALTH, [openbao_container.container.id])
    _openbao_content(context, address, login, realm)


def _openbao_content(
    context: PlatformContext, address: pulumi.Output[str], login: security_settings.ProvisionerCredentials, realm: KeycloakRealm
) -> None:
    spec = context.spec
    openbao = spec.openbao
    # data stores of disabled stacks do not exist: their paths keep a placeholder, no engine
    credentials = {store.name: _credentials(context, store.name) for store in spec.datastores if spec.enabled(store.stack)}
    namespaces = OpenBaoNamespaces("openbao", OpenBaoNamespacesArgs(namespaces=openbao.namespaces, address=address, login=login))
    engines = OpenBaoEngines(
        "openbao-engines",
        OpenBaoEnginesArgs(
            openbao=openbao, domain=spec.domain, namespaces=namespaces, databases=_database_targets(spec, credentials, context.shared[CONTAINERS])
        ),
    )
    OpenBaoSecrets(
        "openbao-secrets",
        OpenBaoSecretsArgs(
            openbao=openbao, namespaces=namespaces, engines=engines, values=_secret_values(spec, realm.client_secrets, credentials)
        ),
    )
    policies = OpenBaoPolicies("openbao-policies", OpenBaoPoliciesArgs(openbao=openbao, namespaces=namespaces))
    admin_client = next(c for c in spec.keycloak.clients if c.client_id == OPENBAO_ADMIN_CLIENT)
    issuer_url = f"https://{spec.host('auth')}/realms/{spec.keycloak.realm}"
    containers = context.shared[CONTAINERS]
    edge = [containers[name].container.id for name in ("traefik", "keycloak")]  # the issuer's route and server
    auth = OpenBaoAuth(
        "openbao-auth",
        OpenBaoAuthArgs(
            approles=openbao.approles,
            services=spec.services,
            openbao_networks=service_spec(context, "openbao").networks,
            issuer=KeycloakIssuer(
                issuer_url=issuer_url,
                discovery_url=readiness.gated_endpoint(issuer_url, readiness.ISSUER_DISCOVERY, edge),
                client_id=admin_client.client_id,
                client_secret=realm.client_secrets[admin_client.client_id],
                redirect_uris=tuple(redirect_uris(admin_client)),
                admin_group=openbao.admin_group,
                realm=realm,
                ca_pem=spec.acme_issuer_certificate,
            ),
            namespaces=namespaces,
            policies=policies,
        ),
    )
    context.shared[APPROLE_CREDENTIALS] = auth.approle_credentials
    pulumi.export("openbao_break_glass_password", auth.break_glass_password)


def _credentials(context: PlatformContext, name: str) -> DatastoreCredentials:
    published = datastore_credentials(context)
    if name not in published:
        raise KeyError(f"no credentials of data store {name!r}: the core stack builds every data store before this stack")
    return published[name]


def _trusted_proxies(spec: PlatformSpec, service: ServiceSpec) -> str:
    """Traefik's fixed address (/32) on the one internal network it reaches `service` through;
    the whole subnet only when the spec gives Traefik no fixed address there."""
    traefik = next(s for s in spec.services if s.name == "traefik")
    shared = [spec.network(n) for n in service.networks if n in traefik.networks and spec.network(n).internal]
    if len(shared) != 1:
        raise ValueError(f"{service.name!r} must share exactly one internal network with Traefik, shares {len(shared)}")
    address = traefik.ipv4_addresses.get(shared[0].name)
    return f"{address}/32" if address else str(shared[0].subnet)


def _datastore(spec: PlatformSpec, name: str) -> DatastoreSpec:
    for store in spec.datastores:
        if store.name == name:
            return store
    raise KeyError(f"the spec has no data store {name!r}")


def _secret_values(
    spec: PlatformSpec, client_secrets: Mapping[str, pulumi.Output[str]], credentials: Mapping[str, DatastoreCredentials]
) -> dict[str, pulumi.Input[Mapping[str, Any]]]:
    """The record of every platform-owned KV path (operator paths are left to operators)."""
    values: dict[str, pulumi.Input[Mapping[str, Any]]] = {}
    for path in spec.openbao.secret_paths:
        kind, _, ref = path.source.partition(":")
        if path.engine != "kv-v2" or kind == "operator":
            continue
        if kind == "generated":
            generated = random.RandomPassword(f"openbao-{path.seed_path.replace('/', '-')}", length=GENERATED_SECRET_LENGTH, special=False)
            values[path.seed_path] = {"value": generated.result}
        elif kind == "keycloak-client":
            values[path.seed_path] = {"client_id": ref, "client_secret": client_secrets[ref]}
        elif ref in credentials:
            store = credentials[ref]
            record: dict[str, Any] = {"username": store.user, "password": store.password, "host": store.host, "port": str(store.port)}
            values[path.seed_path] = record | ({"database": store.database} if store.database else {})
        else:
            values[path.seed_path] = {"status": "unset", "reason": f"data store {ref} is not deployed (its stack is disabled)"}
    return values


def _database_targets(
    spec: PlatformSpec, credentials: Mapping[str, DatastoreCredentials], containers: Mapping[str, pulumi.Resource]
) -> dict[str, PostgresTarget]:
    """The PostgreSQL each database-engine namespace issues credentials for (its tenant's DB), and its container."""
    targets: dict[str, PostgresTarget] = {}
    for namespace in spec.openbao.database_engine_namespaces:
        stores = [s for s in spec.datastores if s.stack == namespace and s.engine == "postgres"]
        if len(stores) != 1:
            raise ValueError(f"database engine of {namespace!r} needs exactly one PostgreSQL data store, found {len(stores)}")
        if stores[0].name not in credentials:
            continue
        store = credentials[stores[0].name]
        # the superuser: only it may create and drop the per-lease roles
        targets[namespace] = PostgresTarget(
            host=store.host,
            port=store.port,
            database=store.database or store.name,
            username=store.admin_user,
            password=store.admin_password,
            server=[containers[stores[0].name]],
        )
    return targets
