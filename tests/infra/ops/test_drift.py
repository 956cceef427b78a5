"""`cli.py drift` against real servers (the security layer's Keycloak and OpenBao fixtures):
a declared realm and OpenBao layout is applied live, then objects are added and changed by
hand, and drift names each one.

Isolation on shared servers: the realm has a unique name, and the OpenBao layout lives in a
unique base namespace (`BAO_NAMESPACE`), exactly as drift reads it.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_keycloak as keycloak
import pulumi_vault as vault
import pytest

from infra.spec.openbao_policy import PROVISIONER_AUTH_PATH, PROVISIONER_POLICY
from tests.harness import plan_function

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.servers

POLICY_TEXT = 'path "psra/kv/data/database/credentials" {\n  capabilities = ["read"]\n}\n'
CLIENT = {
    "client_id": "psra-client",
    "redirect": ["https://psra.example.test/api/auth/callback/keycloak"],
    "origins": ["https://psra.example.test"],
}
APPROLE = {
    "token_policies": ["psra-role"],
    "secret_id_ttl": 86_400,
    "token_ttl": 3600,
    "token_max_ttl": 14_400,
    "cidrs": ["172.20.10.11/32"],
}


def declared_program(realm_name: str):  # noqa: ANN201 - a Pulumi program
    def program() -> None:
        pulumi.export("domain", "example.test")
        realm = keycloak.Realm("realm", realm=realm_name)
        keycloak.openid.Client(
            "psra-client",
            realm_id=realm.id,
            client_id=CLIENT["client_id"],
            access_type="CONFIDENTIAL",
            standard_flow_enabled=True,
            valid_redirect_uris=CLIENT["redirect"],
            web_origins=CLIENT["origins"],
            pkce_code_challenge_method="S256",
        )
        role = keycloak.Role("psra-user", realm_id=realm.id, name="psra-user")
        group = keycloak.Group("psra-users", realm_id=realm.id, name="PSRA Users")
        keycloak.GroupRoles("psra-users-roles", realm_id=realm.id, group_id=group.id, role_ids=[role.id])
        vault.Namespace("ns-psra", path="psra")
        vault.Mount("psra-kv", path="kv", type="kv", options={"version": "2"}, namespace="psra")
        vault.Policy("psra-role", name="psra-role", policy=POLICY_TEXT)
        backend = vault.AuthBackend("approle", type="approle")
        vault.approle.AuthBackendRole(
            "psra-role-approle",
            backend=backend.path,
            role_name="psra-role",
            token_policies=APPROLE["token_policies"],
            secret_id_ttl=APPROLE["secret_id_ttl"],
            token_ttl=APPROLE["token_ttl"],
            token_max_ttl=APPROLE["token_max_ttl"],
            secret_id_bound_cidrs=APPROLE["cidrs"],
            token_bound_cidrs=APPROLE["cidrs"],
        )

    return program


def apply_keycloak(server: Any, realm: str) -> Any:
    """What the security stack's provider would create, made with the admin REST API."""
    from keycloak import KeycloakAdmin

    server.admin().create_realm(payload={"realm": realm, "enabled": True})
    admin = KeycloakAdmin(
        server_url=server.base_url, username=server.admin_user, password=server.admin_password, realm_name=realm, user_realm_name="master"
    )
    admin.create_client(
        payload={
            "clientId": CLIENT["client_id"],
            "publicClient": False,
            "standardFlowEnabled": True,
            "redirectUris": CLIENT["redirect"],
            "webOrigins": CLIENT["origins"],
            "attributes": {"pkce.code.challenge.method": "S256"},
        }
    )
    admin.create_realm_role(payload={"name": "psra-user"})
    group_id = admin.create_group(payload={"name": "PSRA Users"})
    admin.assign_group_realm_roles(group_id, [admin.get_realm_role("psra-user")])
    return admin


def apply_openbao(server: Any, base: str) -> None:
    server.client().sys.create_namespace(base)
    root = server.client(namespace=base)
    root.sys.create_namespace("psra")
    server.client(namespace=f"{base}/psra").sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    root.sys.create_or_update_acl_policy("psra-role", POLICY_TEXT)
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle(
        "psra-role",
        token_policies=APPROLE["token_policies"],
        secret_id_ttl=APPROLE["secret_id_ttl"],
        token_ttl=APPROLE["token_ttl"],
        token_max_ttl=APPROLE["token_max_ttl"],
        secret_id_bound_cidrs=APPROLE["cidrs"],
        token_bound_cidrs=APPROLE["cidrs"],
    )


def run_drift(declared: Path, keycloak_server: Any, openbao_dev: Any, base: str) -> tuple[int, dict[str, Any], str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(declared.parent),
        "KEYCLOAK_ADMIN": keycloak_server.admin_user,
        "KEYCLOAK_ADMIN_PASSWORD": keycloak_server.admin_password,
        "BAO_TOKEN": openbao_dev.root_token,
        "BAO_NAMESPACE": base,
    }
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "drift",
            "--from",
            str(declared),
            "--keycloak-url",
            keycloak_server.base_url,
            "--openbao-url",
            openbao_dev.addr,
            "--format",
            "json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        report = {}
    return completed.returncode, report, completed.stderr


def test_drift_finds_unmanaged_and_changed_objects(keycloak_server, openbao_dev, tmp_path: Path) -> None:  # noqa: ANN001
    suffix = secrets.token_hex(4)
    realm, base = f"drift-{suffix}", f"drift-{suffix}"
    declared = tmp_path / "declared.json"
    declared.write_text(json.dumps(plan_function(declared_program(realm), stack="drift").document))
    admin = apply_keycloak(keycloak_server, realm)
    apply_openbao(openbao_dev, base)

    # what `bootstrap openbao` sets up beside the plan, in the platform's namespace, is not drift
    platform = openbao_dev.client(namespace=base)
    platform.sys.enable_auth_method("approle", path=PROVISIONER_AUTH_PATH)
    platform.sys.create_or_update_acl_policy(PROVISIONER_POLICY, 'path "sys/mounts" { capabilities = ["read"] }')
    platform.auth.approle.create_or_update_approle("pulumi", token_policies=[PROVISIONER_POLICY], mount_point=PROVISIONER_AUTH_PATH)

    code, report, stderr = run_drift(declared, keycloak_server, openbao_dev, base)
    assert (code, report.get("items")) == (0, []), (stderr, [i["detail"] for i in report.get("items", [])])
    assert report["checked"]["keycloak clients"] == 1 and report["checked"]["openbao approles"] == 1

    admin.create_client(payload={"clientId": "rogue-client", "redirectUris": ["*"]})
    admin.create_realm_role(payload={"name": "rogue-role"})
    admin.create_group(payload={"name": "Rogue Group"})
    client_uuid = admin.get_client_id(CLIENT["client_id"])
    admin.update_client(client_uuid, {"redirectUris": ["https://psra.example.test/*"]})
    root = openbao_dev.client(namespace=base)
    root.sys.create_or_update_acl_policy("rogue-policy", 'path "*" { capabilities = ["sudo"] }')
    root.sys.create_or_update_acl_policy("psra-role", POLICY_TEXT + 'path "psra/kv/data/*" { capabilities = ["read"] }\n')
    root.auth.approle.create_or_update_approle("rogue-app", token_policies=["rogue-policy"])
    root.auth.approle.create_or_update_approle("psra-role", token_ttl=7200)
    openbao_dev.client(namespace=f"{base}/psra").sys.enable_secrets_engine("kv", path="rogue-kv", options={"version": "2"})
    root.sys.create_namespace("rogue-ns")

    code, report, stderr = run_drift(declared, keycloak_server, openbao_dev, base)
    assert code == 1, stderr
    found = {(i["system"], i["kind"], i["name"], i["status"]) for i in report["items"]}
    assert found == {
        ("keycloak", "client", "rogue-client", "unmanaged"),
        ("keycloak", "role", "rogue-role", "unmanaged"),
        ("keycloak", "group", "Rogue Group", "unmanaged"),
        ("keycloak", "client", "psra-client", "differs"),
        ("openbao", "policy", "rogue-policy", "unmanaged"),
        ("openbao", "policy", "psra-role", "differs"),
        ("openbao", "approle", "approle/rogue-app", "unmanaged"),
        ("openbao", "approle", "approle/psra-role", "differs"),
        ("openbao", "mount", "psra/rogue-kv", "unmanaged"),
        ("openbao", "namespace", "rogue-ns", "unmanaged"),
    }
    details = {i["name"]: i["detail"] for i in report["items"] if i["status"] == "differs"}
    assert "redirect URIs" in details["psra-client"] and "https://psra.example.test/*" in details["psra-client"]
    assert "token_ttl: declared 3600, live 7200" in details["approle/psra-role"]


def test_drift_needs_credentials(tmp_path: Path) -> None:
    declared = tmp_path / "declared.json"
    declared.write_text(json.dumps(plan_function(declared_program("nowhere"), stack="drift").document))
    completed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "drift", "--from", str(declared)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "Keycloak admin credentials missing: set KEYCLOAK_ADMIN and KEYCLOAK_ADMIN_PASSWORD" in completed.stderr
