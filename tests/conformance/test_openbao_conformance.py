"""The OpenBao content of the prod plan, applied to a real OpenBao, does what the seed says.

Access matrix: for every AppRole and every KV path of the secrets matrix, a token obtained
by logging in *from the role's bound address* reads the path exactly where the seed grants
it and gets 403 everywhere else — addressed from the root namespace (`psra/kv/data/…`) and
from inside the tenant namespace (`X-Vault-Namespace: psra`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from infra.ops.replay.openbao import loopback_twin
from infra.spec.models import AppRoleSpec, SecretPathSpec
from infra.spec.openbao_policy import admin_policy, approle_policies, database_role_name
from tests.conformance.conftest import SecurityServers
from tests.harness import spec_for

pytestmark = pytest.mark.servers

SPEC = spec_for(stack="prod")
ROLES = {role.name: role for role in SPEC.openbao.approles}
KV_PATHS = [p for p in SPEC.openbao.secret_paths if p.engine == "kv-v2"]
TRANSIT_KEYS = [p for p in SPEC.openbao.secret_paths if p.engine == "transit"]


def bound_address(servers: SecurityServers, role: str) -> str:
    planned = next(
        r for r in servers.plan.of_type("vault:appRole/authBackendRole:AuthBackendRole") if r.inputs["roleName"] == role
    )
    return loopback_twin(planned.inputs["tokenBoundCidrs"][0].split("/")[0])


@contextmanager
def client_from(servers: SecurityServers, address: str) -> Iterator[httpx.Client]:
    """An HTTP client whose connections leave from `address` (a loopback alias)."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=servers.openbao_addr, transport=transport, timeout=30) as client:
        yield client


def role_id(servers: SecurityServers, role: str) -> str:
    response = httpx.get(
        f"{servers.openbao_addr}/v1/auth/approle/role/{role}/role-id", headers={"X-Vault-Token": servers.openbao_root_token}
    )
    response.raise_for_status()
    return response.json()["data"]["role_id"]


def login(servers: SecurityServers, role: str, address: str) -> httpx.Response:
    with client_from(servers, address) as client:
        return client.post(
            "/v1/auth/approle/login",
            json={"role_id": role_id(servers, role), "secret_id": servers.openbao.approle_secret_ids[role]},
        )


def token_for(servers: SecurityServers, role: str) -> str:
    response = login(servers, role, bound_address(servers, role))
    assert response.status_code == 200, response.text
    return response.json()["auth"]["client_token"]


def read_kv(client: httpx.Client, token: str, path: SecretPathSpec, via_namespace: bool) -> httpx.Response:
    headers = {"X-Vault-Token": token}
    if via_namespace and path.namespace:
        headers["X-Vault-Namespace"] = path.namespace
        return client.get(f"/v1/{path.mount}/data/{path.key}", headers=headers)
    return client.get(f"/v1/{path.acl_path}", headers=headers)


def test_every_planned_openbao_resource_was_applied(security_servers: SecurityServers) -> None:
    planned = [r for r in security_servers.plan.resources if r.custom and r.type.startswith("vault:")]
    assert sorted(security_servers.openbao.applied) == sorted(r.urn for r in planned)
    assert sorted(security_servers.openbao.namespaces) == sorted(SPEC.openbao.namespaces)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_approle_login_only_from_the_bound_address(security_servers: SecurityServers, role: str) -> None:
    refused = login(security_servers, role, "127.0.0.1")
    assert refused.status_code == 400 and "cidr" in refused.text.lower(), refused.text
    accepted = login(security_servers, role, bound_address(security_servers, role))
    assert accepted.status_code == 200, accepted.text
    auth = accepted.json()["auth"]
    assert sorted(auth["token_policies"]) == sorted(["default", role])
    assert auth["lease_duration"] == ROLES[role].token_ttl_seconds


@pytest.mark.parametrize("role", sorted(ROLES))
def test_access_matrix(security_servers: SecurityServers, role: str) -> None:
    """Allowed exactly where the seed allows; 403 everywhere else, in every namespace."""
    spec: AppRoleSpec = ROLES[role]
    token = token_for(security_servers, role)
    written = {
        json.loads(value)["value"] for value in security_servers.kv_secrets.values()
    }
    outcome: dict[tuple[str, bool], int] = {}
    with client_from(security_servers, bound_address(security_servers, role)) as client:
        for path in KV_PATHS:
            for via_namespace in (False, True):
                response = read_kv(client, token, path, via_namespace)
                outcome[(path.seed_path, via_namespace)] = response.status_code
                if response.status_code == 200:
                    assert response.json()["data"]["data"]["value"] in written
    expected = {
        (path.seed_path, via_namespace): 200 if path.seed_path in spec.secret_paths else 403
        for path in KV_PATHS
        for via_namespace in (False, True)
    }
    assert outcome == expected


@pytest.mark.parametrize("role", sorted(ROLES))
def test_approle_tokens_are_read_only_and_bound(security_servers: SecurityServers, role: str) -> None:
    token = token_for(security_servers, role)
    allowed = next(p for p in KV_PATHS if p.seed_path in ROLES[role].secret_paths)
    with client_from(security_servers, bound_address(security_servers, role)) as client:
        write = client.post(f"/v1/{allowed.acl_path}", headers={"X-Vault-Token": token}, json={"data": {"value": "x"}})
        assert write.status_code == 403
        listing = client.request("LIST", f"/v1/{allowed.acl_path.replace('/data/', '/metadata/', 1).rsplit('/', 1)[0]}", headers={"X-Vault-Token": token})
        assert listing.status_code == 403
        for system_path in ("sys/policies/acl", "sys/mounts", "auth/approle/role"):
            assert client.request("LIST" if system_path.endswith("role") else "GET", f"/v1/{system_path}", headers={"X-Vault-Token": token}).status_code == 403
    # the same token from an address outside its CIDRs is refused
    with client_from(security_servers, "127.0.0.1") as elsewhere:
        assert read_kv(elsewhere, token, allowed, via_namespace=False).status_code == 403


def transit(client: httpx.Client, token: str, key: SecretPathSpec, operation: str, body: dict[str, str]) -> httpx.Response:
    return client.post(f"/v1/{key.namespace}/{key.mount}/{operation}/{key.key}", headers={"X-Vault-Token": token}, json=body)


def test_transit_psra_key_for_psra_role_only(security_servers: SecurityServers) -> None:
    psra_key = next(k for k in TRANSIT_KEYS if k.key == "psra-key")
    rentguy_key = next(k for k in TRANSIT_KEYS if k.key == "rentguy-key")
    plaintext = "b3JpZ2luIGNhbGN1bGF0aW9u"  # base64 of the payload
    psra = token_for(security_servers, "psra-role")
    with client_from(security_servers, bound_address(security_servers, "psra-role")) as client:
        encrypted = transit(client, psra, psra_key, "encrypt", {"plaintext": plaintext})
        assert encrypted.status_code == 200, encrypted.text
        ciphertext = encrypted.json()["data"]["ciphertext"]
        assert ciphertext.startswith("vault:v1:")
        decrypted = transit(client, psra, psra_key, "decrypt", {"ciphertext": ciphertext})
        assert decrypted.json()["data"]["plaintext"] == plaintext
        assert transit(client, psra, rentguy_key, "encrypt", {"plaintext": plaintext}).status_code == 403
        assert client.get(f"/v1/psra/transit/export/encryption-key/{psra_key.key}", headers={"X-Vault-Token": psra}).status_code == 403
    rentguy = token_for(security_servers, "rentguy-role")
    with client_from(security_servers, bound_address(security_servers, "rentguy-role")) as client:
        assert transit(client, rentguy, psra_key, "encrypt", {"plaintext": plaintext}).status_code == 403
        assert transit(client, rentguy, psra_key, "decrypt", {"ciphertext": ciphertext}).status_code == 403
        assert transit(client, rentguy, rentguy_key, "encrypt", {"plaintext": plaintext}).status_code == 200


def test_dynamic_database_credentials_log_in_to_postgres(security_servers: SecurityServers) -> None:
    creds_path = f"/v1/psra/database/creds/{database_role_name('psra')}"
    rentguy = token_for(security_servers, "rentguy-role")
    with client_from(security_servers, bound_address(security_servers, "rentguy-role")) as client:
        assert client.get(creds_path, headers={"X-Vault-Token": rentguy}).status_code == 403
    psra = token_for(security_servers, "psra-role")
    with client_from(security_servers, bound_address(security_servers, "psra-role")) as client:
        response = client.get(creds_path, headers={"X-Vault-Token": psra})
    assert response.status_code == 200, response.text
    lease = response.json()
    assert lease["lease_duration"] == SPEC.openbao.database_credentials_ttl_seconds
    username, password = lease["data"]["username"], lease["data"]["password"]
    assert username.startswith(f"v-{database_role_name('psra')}-")
    database = next(s for s in SPEC.datastores if s.name == "psra-db").database
    def connect() -> psycopg.Connection:
        conninfo = security_servers.postgres_conninfo
        return psycopg.connect(host=conninfo["host"], port=conninfo["port"], user=username, password=password, dbname=database, connect_timeout=5)

    with connect() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == username
        rolsuper, rolcreaterole = conn.execute(
            "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert (rolsuper, rolcreaterole) == (False, False)
    # revoking the lease removes the role: the credentials stop working
    revoke = httpx.put(
        f"{security_servers.openbao_addr}/v1/sys/leases/revoke",
        headers={"X-Vault-Token": security_servers.openbao_root_token, "X-Vault-Namespace": "psra"},
        json={"lease_id": lease["lease_id"]},
    )
    assert revoke.status_code == 204, revoke.text
    with pytest.raises(psycopg.OperationalError):
        connect()


def test_server_policies_are_the_generated_ones(security_servers: SecurityServers) -> None:
    expected = approle_policies(SPEC.openbao) | {"admin": admin_policy(SPEC.openbao)}
    headers = {"X-Vault-Token": security_servers.openbao_root_token}
    for name, text in expected.items():
        served = httpx.get(f"{security_servers.openbao_addr}/v1/sys/policies/acl/{name}", headers=headers).json()["data"]["policy"]
        assert served == text
        if name != "admin":
            # the backup's raft snapshot (read) is the one sys/ path an application policy may name
            others = text.replace('path "sys/storage/raft/snapshot"', "") if name == "backup-role" else text
            assert "*" not in text and "sys/" not in others and "sudo" not in text


def test_pki_issues_only_inside_the_platform_domain(security_servers: SecurityServers) -> None:
    headers = {"X-Vault-Token": security_servers.openbao_root_token}
    issue = f"{security_servers.openbao_addr}/v1/pki/issue/internal-services"
    ok = httpx.post(issue, headers=headers, json={"common_name": f"api.psra.{SPEC.domain}", "ttl": "1h"})
    assert ok.status_code == 200, ok.text
    assert "BEGIN CERTIFICATE" in ok.json()["data"]["certificate"]
    for name in ("evil.example.com", "localhost", f"*.{SPEC.domain}", SPEC.domain):
        refused = httpx.post(issue, headers=headers, json={"common_name": name})
        assert refused.status_code == 400 and f"common name {name} not allowed by this role" in refused.text, refused.text
    too_long = httpx.post(issue, headers=headers, json={"common_name": f"x.{SPEC.domain}", "ttl": "8760h"})
    assert too_long.status_code == 200 and too_long.json()["data"]["expiration"] - ok.json()["data"]["expiration"] < 31 * 86400
    ca = httpx.get(f"{security_servers.openbao_addr}/v1/pki/cert/ca", headers=headers).json()["data"]["certificate"]
    assert "BEGIN CERTIFICATE" in ca


def test_break_glass_userpass_gets_admin_policy(security_servers: SecurityServers) -> None:
    login = httpx.post(
        f"{security_servers.openbao_addr}/v1/auth/userpass/login/breakglass", json={"password": security_servers.break_glass_password}
    )
    assert login.status_code == 200, login.text
    assert sorted(login.json()["auth"]["token_policies"]) == ["admin", "default"]
    wrong = httpx.post(f"{security_servers.openbao_addr}/v1/auth/userpass/login/breakglass", json={"password": "wrong-password"})
    assert wrong.status_code == 400 and "invalid username or password" in wrong.text, wrong.text
