"""Policies generated from the access matrix: exact paths, read only, nothing else."""

from __future__ import annotations

import pytest

from infra.spec.models import AppRoleSpec
from infra.spec.openbao_policy import (
    Grant,
    RAFT_SNAPSHOT_PATH,
    PolicyError,
    admin_grants,
    admin_policy,
    approle_grants,
    approle_policies,
    check_least_privilege,
    render,
)
from tests.harness import spec_for

SPEC = spec_for()
OPENBAO = SPEC.openbao


def role(name: str) -> AppRoleSpec:
    return next(r for r in OPENBAO.approles if r.name == name)


def test_psra_role_reads_exactly_its_seed_paths_and_uses_only_its_key() -> None:
    assert approle_grants(role("psra-role"), OPENBAO) == (
        Grant("psra/kv/data/database/credentials", ("read",)),
        Grant("psra/kv/data/api/keys", ("read",)),
        Grant("psra/kv/data/config/jwt-secret", ("read",)),
        Grant("psra/kv/data/database/redis-password", ("read",)),
        Grant("sevensa/data/shared/smtp/credentials", ("read",)),
        Grant("psra/transit/encrypt/psra-key", ("update",)),
        Grant("psra/transit/decrypt/psra-key", ("update",)),
        Grant("psra/database/creds/psra-app", ("read",)),
    )


@pytest.mark.parametrize(
    "name, paths",
    [
        ("rentguy-role", {"rentguy/kv/data/database/credentials", "rentguy/kv/data/config/client-secret", "rentguy/kv/data/database/redis-password", "sevensa/data/shared/smtp/credentials"}),
        ("ai-role", {"ai/kv/data/api-keys/openai", "ai/kv/data/api-keys/anthropic", "ai/kv/data/database/credentials", "sevensa/data/shared/api/slack-webhook"}),
        ("wpcs-role", {"wpcs/kv/data/database/credentials", "sevensa/data/shared/smtp/credentials"}),
        ("monitoring-role", {"sevensa/data/shared/api/slack-webhook"}),
        ("backup-role", {"sevensa/data/shared/backup/repository-password", "sevensa/data/shared/backup/offsite", "sys/storage/raft/snapshot"}),
    ],
)
def test_each_role_reads_the_seed_matrix(name: str, paths: set[str]) -> None:
    reads = {g.path for g in approle_grants(role(name), OPENBAO) if g.capabilities == ("read",)}
    assert reads == paths


def test_application_policies_are_least_privilege() -> None:
    for name, text in approle_policies(OPENBAO).items():
        assert "*" not in text and "+" not in text, name
        # the backup's raft snapshot (read) is the one sys/ path an application policy may name
        others = text.replace('path "sys/storage/raft/snapshot"', "") if role(name).raft_snapshot else text
        assert "sys/" not in others and "auth/" not in text and "sudo" not in text, name
        capabilities = {g.capabilities for g in approle_grants(role(name), OPENBAO)}
        assert capabilities <= {("read",), ("update",)}, name


def test_only_reading_the_raft_snapshot_is_allowed_under_sys() -> None:
    check_least_privilege("backup-role", (Grant(RAFT_SNAPSHOT_PATH, ("read",)),))
    with pytest.raises(PolicyError, match=r"policy 'backup-role': path 'sys/storage/raft/snapshot' reaches sys/ or auth/"):
        check_least_privilege("backup-role", (Grant(RAFT_SNAPSHOT_PATH, ("read", "update")),))
    with pytest.raises(PolicyError, match=r"path 'sys/storage/raft/snapshot-force' reaches sys/"):
        check_least_privilege("backup-role", (Grant("sys/storage/raft/snapshot-force", ("read",)),))


def test_rendered_policy_is_deterministic_hcl() -> None:
    text = render("demo", (Grant("psra/kv/data/a", ("read",)), Grant("psra/transit/encrypt/k", ("update",))))
    assert text == (
        "# demo: generated from the platform spec (infra.spec.openbao_policy); do not edit by hand.\n"
        "\n"
        'path "psra/kv/data/a" {\n'
        '  capabilities = ["read"]\n'
        "}\n"
        "\n"
        'path "psra/transit/encrypt/k" {\n'
        '  capabilities = ["update"]\n'
        "}\n"
    )


@pytest.mark.parametrize(
    "grant, message",
    [
        (Grant("psra/kv/data/*", ("read",)), "glob"),
        (Grant("psra/kv/data/+/x", ("read",)), "glob"),
        (Grant("sys/mounts", ("read",)), "sys/ or auth/"),
        (Grant("auth/token/create", ("update",)), "sys/ or auth/"),
        (Grant("psra/sys/mounts", ("read",)), "sys/ or auth/"),
        (Grant("psra/kv/data/a", ("read", "sudo")), "sudo"),
    ],
)
def test_least_privilege_check_refuses(grant: Grant, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        check_least_privilege("bad", (grant,))


def test_a_path_outside_the_matrix_is_refused() -> None:
    rogue = role("wpcs-role").model_copy(update={"secret_paths": ("wpcs/database/credentials", "psra/secret/backdoor")})
    with pytest.raises(PolicyError, match="psra/secret/backdoor"):
        approle_grants(rogue, OPENBAO)


def test_database_credentials_need_a_database_engine() -> None:
    rogue = role("ai-role").model_copy(update={"database_credentials": ("ai",)})
    with pytest.raises(PolicyError, match="'ai', which has no database engine"):
        approle_grants(rogue, OPENBAO)


def test_secret_grants_in_stack_config_change_the_policy() -> None:
    narrowed = spec_for({"secretGrants": {"wpcs-role": ["wpcs/database/credentials"]}}).openbao
    wpcs = next(r for r in narrowed.approles if r.name == "wpcs-role")
    assert [g.path for g in approle_grants(wpcs, narrowed)] == ["wpcs/kv/data/database/credentials"]


def test_admin_policy_manages_secrets_without_sudo_or_sys_writes() -> None:
    grants = admin_grants(OPENBAO)
    assert all("sudo" not in g.capabilities for g in grants)
    assert [g for g in grants if g.path.startswith("sys/")] == [Grant("sys/policies/acl/*", ("read", "list"))]
    assert Grant("psra/kv/data/*", ("create", "read", "update", "delete", "list")) in grants
    assert Grant("sevensa/data/*", ("create", "read", "update", "delete", "list")) in grants
    assert Grant("pki/issue/*", ("update",)) in grants
    assert not any("export" in g.path for g in grants)
    assert admin_policy(OPENBAO).startswith("# admin: generated")
