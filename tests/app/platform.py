"""Provision the real servers the way the platform does, for the HTTP tests and the benchmark.

* Keycloak: realm `sevensa` with realm roles psra-user/psra-admin, users, and TEST-ONLY confidential
  clients using the direct-access (password) grant; an audience mapper puts `psra-api` in `aud`.
  Tokens are issued and signed by Keycloak; nothing here signs a JWT.
* OpenBao: namespace `psra`, KV v2 mount `kv`, secrets `database/credentials` and
  `database/redis-password`; AppRole at `approle` in the root namespace, role `psra-role`, a policy
  that reads only those two paths. Role-id and secret-id are written to files, as in production.
* PostgreSQL: a dedicated login role and database for the app, whose password exists only in OpenBao.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REALM = "sevensa"
AUDIENCE = "psra-api"
TEST_CLIENT = "psra-tests"
SHORT_CLIENT = "psra-tests-short"
FOREIGN_CLIENT = "psra-tests-no-audience"
AUDIENCE_MAPPER = {
    "name": "audience-psra-api",
    "protocol": "openid-connect",
    "protocolMapper": "oidc-audience-mapper",
    "config": {"included.custom.audience": AUDIENCE, "access.token.claim": "true", "id.token.claim": "false"},
}
USERS = {"alice": ["psra-user"], "bob": ["psra-user"], "carol": ["psra-admin"], "dave": []}


@dataclass
class PsraRealm:
    base_url: str
    password: str
    client_secrets: dict[str, str] = field(default_factory=dict)

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/realms/{REALM}/protocol/openid-connect/token"

    def token(self, username: str, client: str = TEST_CLIENT) -> str:
        response = httpx.post(
            self.token_url,
            data={
                "grant_type": "password",
                "client_id": client,
                "client_secret": self.client_secrets[client],
                "username": username,
                "password": self.password,
                "scope": "openid",
            },
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def headers(self, username: str, client: str = TEST_CLIENT) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username, client)}"}


class RenewedToken:
    """A user's token from Keycloak, renewed well before its 300 s lifetime runs out (long fuzz runs)."""

    def __init__(self, realm: PsraRealm, username: str) -> None:
        self._realm = realm
        self._username = username
        self._value = ""
        self._at = float("-inf")

    def headers(self) -> dict[str, str]:
        if time.monotonic() - self._at > 200:
            self._value, self._at = self._realm.token(self._username), time.monotonic()
        return {"Authorization": f"Bearer {self._value}"}


def provision_realm(keycloak_server: Any) -> PsraRealm:
    admin = keycloak_server.admin()
    admin.create_realm(payload={"realm": REALM, "enabled": True}, skip_exists=True)
    admin.change_current_realm(REALM)
    for role in ("psra-user", "psra-admin"):
        admin.create_realm_role({"name": role}, skip_exists=True)
    realm = PsraRealm(base_url=keycloak_server.base_url, password=secrets.token_urlsafe(16))
    for client_id, mappers, lifespan in ((TEST_CLIENT, [AUDIENCE_MAPPER], 300), (SHORT_CLIENT, [AUDIENCE_MAPPER], 1), (FOREIGN_CLIENT, [], 300)):
        _password_grant_client(admin, realm, client_id, {"protocolMappers": mappers, "attributes": {"access.token.lifespan": str(lifespan)}})
    for username, roles in USERS.items():
        create_test_user(admin, username, roles, realm.password)
    return realm


def create_test_user(admin: Any, username: str, roles: tuple[str, ...] | list[str], password: str) -> None:
    """A verified user with a permanent password and the given realm roles."""
    user_id = admin.create_user(
        {
            "username": username,
            "enabled": True,
            "email": f"{username}@example.test",
            "emailVerified": True,
            "firstName": username.title(),
            "lastName": "Test",
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        },
        exist_ok=False,
    )
    if roles:
        admin.assign_realm_roles(user_id, [admin.get_realm_role(role) for role in roles])


def provision_claims_client(keycloak_server: Any, realm: PsraRealm, client_id: str, claims: dict[str, str]) -> None:
    """A TEST-ONLY client whose access tokens carry `claims` (name -> JSON text) hard-coded by Keycloak in
    place of its own role claims (the client gets only the `basic` scope, so `sub` but no `realm_access`):
    Keycloak signs tokens with malformed claims, as a misconfigured mapper would."""
    admin = keycloak_server.admin()
    admin.change_current_realm(REALM)
    mappers = [
        {
            "name": f"hardcoded-{name}",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-hardcoded-claim-mapper",
            "config": {"claim.name": name, "claim.value": value, "jsonType.label": "JSON", "access.token.claim": "true"},
        }
        for name, value in claims.items()
    ]
    _password_grant_client(admin, realm, client_id, {"protocolMappers": [AUDIENCE_MAPPER, *mappers], "defaultClientScopes": ["basic"], "optionalClientScopes": []})


def _password_grant_client(admin: Any, realm: PsraRealm, client_id: str, settings: dict[str, Any]) -> None:
    """A confidential TEST-ONLY client with the direct-access (password) grant; its secret goes to `realm`."""
    secret = secrets.token_urlsafe(24)
    client = {"clientId": client_id, "enabled": True, "publicClient": False, "secret": secret, "directAccessGrantsEnabled": True, "standardFlowEnabled": False}
    admin.create_client(client | settings, skip_exists=True)
    realm.client_secrets[client_id] = secret


@dataclass(frozen=True)
class AppRoleFiles:
    role_id_file: Path
    secret_id_file: Path
    database_user: str


def provision_database(postgres_server: Any, name: str) -> tuple[str, str]:
    """A login role and database `name` owned by it; returns (user, password)."""
    from psycopg import sql

    password = secrets.token_urlsafe(24)
    with postgres_server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name)))
    return name, password


def provision_openbao(openbao_dev: Any, postgres_server: Any, redis_server: Any, directory: Path, database: str) -> AppRoleFiles:
    """Configure a fresh `bao server -dev` per the platform convention and issue AppRole credentials."""
    user, password = provision_database(postgres_server, database)
    root = openbao_dev.client()
    root.sys.create_namespace("psra")
    psra = openbao_dev.client(namespace="psra")
    psra.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    credentials = {"username": user, "password": password, "host": postgres_server.host, "port": str(postgres_server.port), "database": database}
    psra.secrets.kv.v2.create_or_update_secret("database/credentials", secret=credentials, mount_point="kv")
    psra.secrets.kv.v2.create_or_update_secret("database/redis-password", secret={"password": redis_server.password}, mount_point="kv")
    root.sys.enable_auth_method("approle", path="approle")
    root.sys.create_or_update_policy(
        "psra-api",
        'path "psra/kv/data/database/credentials" { capabilities = ["read"] }\n'
        'path "psra/kv/data/database/redis-password" { capabilities = ["read"] }',
    )
    root.auth.approle.create_or_update_approle("psra-role", token_policies=["psra-api"], token_ttl="1h", mount_point="approle")
    role_id = root.auth.approle.read_role_id("psra-role", mount_point="approle")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("psra-role", mount_point="approle")["data"]["secret_id"]
    directory.mkdir(parents=True, exist_ok=True)
    files = AppRoleFiles(directory / "role_id", directory / "secret_id", user)
    files.role_id_file.write_text(role_id, encoding="utf-8")
    files.secret_id_file.write_text(secret_id, encoding="utf-8")
    files.secret_id_file.chmod(0o600)
    return files

