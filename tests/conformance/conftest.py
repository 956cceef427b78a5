"""Conformance fixtures: the prod plan's security resources applied to real servers.

Session-scoped and built once: Keycloak (the realm of the plan), then OpenBao (the content
of the plan, its OIDC method pointing at that Keycloak, its database engine at the
PostgreSQL fixture), written with the token of the provisioner AppRole `bootstrap openbao` sets
up, as Pulumi's providers would (so the `platform-provisioner` policy is proven sufficient for the
whole plan). Keycloak and OpenBao are this suite's own instances, not the shared
session servers: the applied realm `sevensa` and the mounts would collide with what other
suites create on those. The AppRole tokens are bound to the services' fixed shared-net
addresses; the applier moves each into 127/8 (`loopback_twin`), so a test client really
connects *from* the bound address, and from 127.0.0.1 to prove the binding refuses it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from psycopg import sql

from infra.ops import bootstrap
from infra.ops.replay.keycloak import AppliedKeycloak, KeycloakApplier
from infra.ops.replay.openbao import (
    AppliedOpenBao,
    OpenBaoApplier,
    OpenBaoSubstitutions,
    PostgresEndpoint,
    loopback_twin,
)
from infra.ops.replay.resources import PlannedResource
from tests.harness import Planned, spec_for
from tests.servers.fixtures import serve
from tests.servers.keycloak_server import KeycloakServer, running_keycloak
from tests.servers.openbao import OpenBaoDev, running_openbao_dev

pytestmark = pytest.mark.servers

DATABASE_MOUNT_TYPE = "vault:database/secretsMount:SecretsMount"


@dataclass
class SecurityServers:
    """Everything the conformance tests talk to, after the plan was applied."""

    plan: Planned
    keycloak: AppliedKeycloak
    keycloak_issuer: str
    openbao: AppliedOpenBao
    openbao_addr: str
    openbao_root_token: str
    kv_secrets: dict[str, str]
    """urn -> the JSON record the test wrote for that planned KV secret."""
    break_glass_password: str
    postgres_conninfo: dict[str, object]


@pytest.fixture(scope="session")
def conformance_keycloak() -> Iterator[KeycloakServer]:
    yield from serve("Keycloak (conformance)", running_keycloak)


@pytest.fixture(scope="session")
def conformance_openbao() -> Iterator[OpenBaoDev]:
    yield from serve("OpenBao dev (conformance)", running_openbao_dev)


def _prepare_postgres(postgres_server, connection: dict[str, object]) -> str:
    """The planned database and admin role, as the data store container has them; returns
    the admin role's password (the plan holds it sealed)."""
    database = str(connection["connectionUrl"]).rsplit("/", 1)[1].split("?", 1)[0]
    username = str(connection["username"])
    postgres_server.create_database(database)
    if username == postgres_server.user:
        return postgres_server.password
    password = secrets.token_urlsafe(24)
    with postgres_server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(username)))
        conn.execute(
            sql.SQL("CREATE ROLE {} WITH LOGIN SUPERUSER PASSWORD {}").format(sql.Identifier(username), sql.Literal(password))
        )
    return password


def provisioner_token(addr: str, root_token: str) -> str:
    """Set up the provisioner as `bootstrap openbao` does, and log in as the providers do."""
    return bootstrap.provisioner_token(addr, bootstrap.create_provisioner(addr, root_token, spec_for(stack="prod").openbao))


@pytest.fixture(scope="session")
def security_servers(prod_plan: Planned, conformance_keycloak, conformance_openbao, postgres_server) -> SecurityServers:
    keycloak = KeycloakApplier(conformance_keycloak.admin(), lambda client_id: secrets.token_urlsafe(32)).apply(
        prod_plan.document, prod_plan.resources
    )
    issuer = f"{conformance_keycloak.base_url}/realms/{keycloak.realm}"

    connections = [c for mount in prod_plan.of_type(DATABASE_MOUNT_TYPE) for c in mount.inputs["postgresqls"]]
    assert len(connections) == 1, "the prod plan has one database engine connection (PSRA)"
    db_password = _prepare_postgres(postgres_server, connections[0])

    written: dict[str, str] = {}
    break_glass = secrets.token_urlsafe(24)

    def secret(item: PlannedResource, key: str) -> str:
        if item.type == "vault:kv/secretV2:SecretV2":
            written[item.resource.urn] = f'{{"value": "conformance {item.name}"}}'
            return written[item.resource.urn]
        if item.type == "vault:index/userpassAuthBackendUser:UserpassAuthBackendUser":
            return break_glass
        raise AssertionError(f"no test value for sealed {key} of {item.resource.urn}")

    # applied as Pulumi's providers would: logged in as the provisioner, not with the root token
    applier = OpenBaoApplier(
        conformance_openbao.addr,
        provisioner_token(conformance_openbao.addr, conformance_openbao.root_token),
        OpenBaoSubstitutions(
            secret=secret,
            bound_cidr=loopback_twin,
            postgres=PostgresEndpoint(host=postgres_server.host, port=postgres_server.port, password=db_password),
            oidc_issuer=issuer,
            oidc_client_secret=keycloak.client_secrets["bao-oidc"],
        ),
    )
    openbao = applier.apply(prod_plan.document, prod_plan.resources)
    return SecurityServers(
        plan=prod_plan,
        keycloak=keycloak,
        keycloak_issuer=issuer,
        openbao=openbao,
        openbao_addr=conformance_openbao.addr,
        openbao_root_token=conformance_openbao.root_token,
        kv_secrets=written,
        break_glass_password=break_glass,
        postgres_conninfo={"host": postgres_server.host, "port": postgres_server.port},
    )
