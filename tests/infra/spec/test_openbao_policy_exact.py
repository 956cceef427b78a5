"""The OpenBao policy generator, value for value, on a small hand-made access matrix.

Every grant a policy holds is listed (a grant too many is as wrong as one missing), every refusal
of the least-privilege check has its exact message and a near miss that passes.
"""

from __future__ import annotations

import pytest

from infra.spec.models import AppRoleSpec, OpenBaoSpec, SecretPathSpec
from infra.spec.openbao_policy import (
    ADMIN_POLICY,
    PROVISIONER_POLICY,
    Grant,
    PolicyError,
    admin_grants,
    admin_policy,
    approle_grants,
    approle_policies,
    check_least_privilege,
    database_role_name,
    namespaced,
    provisioner_grants,
    provisioner_policy,
    render,
    secret_mounts,
    transit_grants,
)

MANAGE = ("create", "read", "update", "delete", "list")
MANAGE_SUDO = (*MANAGE, "sudo")


def secret(seed_path: str, namespace: str, mount: str, key: str, engine: str = "kv-v2") -> SecretPathSpec:
    return SecretPathSpec(seed_path=seed_path, namespace=namespace, mount=mount, key=key, description="test", engine=engine)


APP_ROLE = AppRoleSpec(
    name="app-role",
    services=("api",),
    secret_paths=("app/db", "shared/smtp"),
    transit_keys=("app/transit/app-key",),
    database_credentials=("app",),
)
BACKUP_ROLE = AppRoleSpec(name="backup-role", services=("backup",), secret_paths=("shared/backup",), raft_snapshot=True)
OPENBAO = OpenBaoSpec(
    namespaces=("app", "ops"),
    secret_paths=(
        secret("app/db", "app", "kv", "database/credentials"),
        secret("shared/smtp", "", "sevensa", "shared/smtp"),
        secret("shared/backup", "", "sevensa", "shared/backup"),
        secret("ops/token", "ops", "kv", "token"),
        secret("app/transit/app-key", "app", "transit", "app-key", engine="transit"),
        secret("root/transit/root-key", "", "transit", "root-key", engine="transit"),
    ),
    approles=(APP_ROLE, BACKUP_ROLE),
    transit_keys={"app": ("app-key",)},
    database_engine_namespaces=("app",),
)
HEADER = "generated from the platform spec (infra.spec.openbao_policy); do not edit by hand."


def test_names_of_the_generated_policies_and_roles() -> None:
    assert (ADMIN_POLICY, PROVISIONER_POLICY) == ("admin", "platform-provisioner")
    assert database_role_name("psra") == "psra-app"
    assert namespaced("psra", "kv/data/a") == "psra/kv/data/a"
    assert namespaced("", "kv/data/a") == "kv/data/a"


def test_transit_grants_encrypt_and_decrypt_with_one_key_only() -> None:
    assert transit_grants(OPENBAO.secret_paths[4]) == (
        Grant("app/transit/encrypt/app-key", ("update",)),
        Grant("app/transit/decrypt/app-key", ("update",)),
    )
    assert transit_grants(OPENBAO.secret_paths[5]) == (
        Grant("transit/encrypt/root-key", ("update",)),
        Grant("transit/decrypt/root-key", ("update",)),
    )


def test_an_approle_gets_exactly_its_reads_transit_and_database_credentials() -> None:
    assert approle_grants(APP_ROLE, OPENBAO) == (
        Grant("app/kv/data/database/credentials", ("read",)),
        Grant("sevensa/data/shared/smtp", ("read",)),
        Grant("app/transit/encrypt/app-key", ("update",)),
        Grant("app/transit/decrypt/app-key", ("update",)),
        Grant("app/database/creds/app-app", ("read",)),
    )


def test_the_raft_snapshot_is_read_only_and_only_when_declared() -> None:
    assert approle_grants(BACKUP_ROLE, OPENBAO) == (
        Grant("sevensa/data/shared/backup", ("read",)),
        Grant("sys/storage/raft/snapshot", ("read",)),
    )
    without = BACKUP_ROLE.model_copy(update={"raft_snapshot": False})
    assert approle_grants(without, OPENBAO) == (Grant("sevensa/data/shared/backup", ("read",)),)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (
            {"secret_paths": ("app/db", "app/backdoor"), "transit_keys": ("app/transit/other-key",)},
            "AppRole 'app-role' references paths outside the secrets matrix: app/backdoor, app/transit/other-key",
        ),
        ({"transit_keys": ("app/transit/other-key",)}, "AppRole 'app-role' references paths outside the secrets matrix: app/transit/other-key"),
        ({"database_credentials": ("app", "ops")}, "AppRole 'app-role' requests database credentials of 'ops', which has no database engine"),
    ],
)
def test_grants_outside_the_matrix_or_without_an_engine_are_refused(update: dict, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        approle_grants(APP_ROLE.model_copy(update=update), OPENBAO)
    assert str(error.value) == message


def test_generated_grants_pass_the_least_privilege_check() -> None:
    """A matrix entry whose key holds a glob would widen the read: refused, not rendered."""
    globbed = OPENBAO.model_copy(update={"secret_paths": (*OPENBAO.secret_paths[:3], secret("ops/token", "ops", "kv", "*"), *OPENBAO.secret_paths[4:])})
    role = AppRoleSpec(name="ops-role", services=("api",), secret_paths=("ops/token",))
    with pytest.raises(PolicyError) as error:
        approle_grants(role, globbed)
    assert str(error.value) == "policy 'ops-role': path 'ops/kv/data/*' has a glob; application policies name exact paths"


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        (Grant("app/kv/data/*", ("read",)), "policy 'p': path 'app/kv/data/*' has a glob; application policies name exact paths"),
        (Grant("app/kv/data/+/x", ("read",)), "policy 'p': path 'app/kv/data/+/x' has a glob; application policies name exact paths"),
        (Grant("sys/storage/raft/snapshot", ("read", "update")), "policy 'p': path 'sys/storage/raft/snapshot' reaches sys/ or auth/"),
        (Grant("sys/storage/raft/snapshot", ("update",)), "policy 'p': path 'sys/storage/raft/snapshot' reaches sys/ or auth/"),
        (Grant("sys/storage/raft/snapshot-force", ("read",)), "policy 'p': path 'sys/storage/raft/snapshot-force' reaches sys/ or auth/"),
        (Grant("sys/mounts", ("read",)), "policy 'p': path 'sys/mounts' reaches sys/ or auth/"),
        (Grant("sys", ("read",)), "policy 'p': path 'sys' reaches sys/ or auth/"),
        (Grant("auth/token/create", ("update",)), "policy 'p': path 'auth/token/create' reaches sys/ or auth/"),
        (Grant("app/sys/mounts", ("read",)), "policy 'p': path 'app/sys/mounts' reaches sys/ or auth/"),
        (Grant("app/kv/data/a", ("read", "sudo")), "policy 'p': path 'app/kv/data/a' grants sudo"),
        (Grant("app/kv/data/a", ("root",)), "policy 'p': path 'app/kv/data/a' grants root"),
        (Grant("app/kv/data/a", ("sudo", "read", "root")), "policy 'p': path 'app/kv/data/a' grants root, sudo"),
    ],
)
def test_the_least_privilege_check_refuses(grant: Grant, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        check_least_privilege("p", (Grant("app/kv/data/ok", ("read",)), grant))
    assert str(error.value) == message


def test_the_raft_snapshot_exemption_does_not_end_the_check() -> None:
    """The grants after the backup's raft snapshot are still checked."""
    with pytest.raises(PolicyError) as error:
        check_least_privilege("backup-role", (Grant("sys/storage/raft/snapshot", ("read",)), Grant("sys/mounts", ("read",))))
    assert str(error.value) == "policy 'backup-role': path 'sys/mounts' reaches sys/ or auth/"


@pytest.mark.parametrize(
    "grant",
    [
        Grant("sys/storage/raft/snapshot", ("read",)),
        Grant("system/kv/data/a", ("read",)),
        Grant("authors/kv/data/a", ("read",)),
        Grant("app/kv/data/sys", ("read",)),
        Grant("app/kv/data/auth/x", ("read",)),
        Grant("app/kv/data/subsys/x", ("read",)),
        Grant("app/kv/data/a", ("create", "read", "update", "delete", "list", "deny")),
    ],
)
def test_the_least_privilege_check_near_misses_pass(grant: Grant) -> None:
    assert check_least_privilege("p", (grant,)) is None


def test_the_admin_policy_manages_every_engine_without_sudo() -> None:
    assert admin_grants(OPENBAO) == (
        Grant("sevensa/data/*", MANAGE),
        Grant("sevensa/metadata/*", MANAGE),
        Grant("app/kv/data/*", MANAGE),
        Grant("app/kv/metadata/*", MANAGE),
        Grant("ops/kv/data/*", MANAGE),
        Grant("ops/kv/metadata/*", MANAGE),
        Grant("transit/keys/*", ("read", "list")),
        Grant("transit/keys/+/rotate", ("update",)),
        Grant("app/transit/keys/*", ("read", "list")),
        Grant("app/transit/keys/+/rotate", ("update",)),
        Grant("app/database/creds/app-app", ("read",)),
        Grant("pki/issue/*", ("update",)),
        Grant("pki/roles/*", ("read", "list")),
        Grant("sys/policies/acl/*", ("read", "list")),
    )


def test_secret_mounts_are_every_engine_once_sorted() -> None:
    assert secret_mounts(OPENBAO) == (
        ("", "pki"),
        ("", "sevensa"),
        ("", "transit"),
        ("app", "database"),
        ("app", "kv"),
        ("app", "transit"),
        ("ops", "kv"),
    )


def test_the_provisioner_manages_exactly_the_programs_mounts_auth_methods_and_policies() -> None:
    mounts = []
    for namespace, mount in secret_mounts(OPENBAO):
        prefix = f"{namespace}/" if namespace else ""
        mounts += [
            Grant(f"{prefix}sys/mounts/{mount}", MANAGE),
            Grant(f"{prefix}sys/mounts/{mount}/*", MANAGE),
            Grant(f"{prefix}{mount}/*", MANAGE),
        ]
    assert provisioner_grants(OPENBAO) == (
        Grant("sys/namespaces/*", MANAGE),
        Grant("sys/mounts", ("read",)),
        Grant("sys/internal/ui/mounts/*", ("read",)),
        Grant("app/sys/mounts", ("read",)),
        Grant("app/sys/internal/ui/mounts/*", ("read",)),
        Grant("ops/sys/mounts", ("read",)),
        Grant("ops/sys/internal/ui/mounts/*", ("read",)),
        *mounts,
        Grant("sys/auth", ("read",)),
        Grant("sys/auth/approle", MANAGE_SUDO),
        Grant("sys/auth/approle/*", MANAGE_SUDO),
        Grant("auth/approle/*", MANAGE),
        Grant("sys/auth/oidc", MANAGE_SUDO),
        Grant("sys/auth/oidc/*", MANAGE_SUDO),
        Grant("auth/oidc/*", MANAGE),
        Grant("sys/auth/userpass", MANAGE_SUDO),
        Grant("sys/auth/userpass/*", MANAGE_SUDO),
        Grant("auth/userpass/*", MANAGE),
        Grant("sys/policies/acl/*", MANAGE),
        Grant("sys/policies/acl/platform-provisioner", ("deny",)),
        Grant("sys/policy/*", MANAGE),
        Grant("sys/policy/platform-provisioner", ("deny",)),
        Grant("auth/token/create", ("update",)),
    )
    assert len(mounts) == 21
    assert mounts[:3] == [Grant("sys/mounts/pki", MANAGE), Grant("sys/mounts/pki/*", MANAGE), Grant("pki/*", MANAGE)]


def test_render_lists_every_capability_quoted_and_comma_separated() -> None:
    assert render("demo", (Grant("a/b", ("read", "list")),)) == (
        f"# demo: {HEADER}\n\npath \"a/b\" {{\n  capabilities = [\"read\", \"list\"]\n}}\n"
    )
    assert render("empty", ()) == f"# empty: {HEADER}\n"


def test_approle_policies_render_every_role_under_its_own_name() -> None:
    policies = approle_policies(OPENBAO)
    assert list(policies) == ["app-role", "backup-role"]
    assert policies["app-role"] == render("app-role", approle_grants(APP_ROLE, OPENBAO))
    assert policies["backup-role"] == (
        f"# backup-role: {HEADER}\n"
        '\npath "sevensa/data/shared/backup" {\n  capabilities = ["read"]\n}\n'
        '\npath "sys/storage/raft/snapshot" {\n  capabilities = ["read"]\n}\n'
    )


def test_admin_and_provisioner_policies_are_rendered_under_their_names() -> None:
    assert admin_policy(OPENBAO) == render("admin", admin_grants(OPENBAO))
    assert admin_policy(OPENBAO).startswith(f"# admin: {HEADER}\n\npath \"sevensa/data/*\" {{\n")
    assert provisioner_policy(OPENBAO) == render("platform-provisioner", provisioner_grants(OPENBAO))
    assert provisioner_policy(OPENBAO).endswith('path "auth/token/create" {\n  capabilities = ["update"]\n}\n')
