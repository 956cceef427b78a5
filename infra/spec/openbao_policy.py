"""OpenBao ACL policies generated from the spec's access matrix (pure functions).

Every policy is derived from `OpenBaoSpec`: an AppRole reads exactly the KV v2 `data/`
paths the seed grants it, uses exactly its transit keys and, where declared, requests
dynamic database credentials — nothing else. All policies live in the root namespace
(see the mapping comment in `infra/spec/catalog.yaml`), so tenant paths carry their namespace
as prefix (`psra/kv/data/...`). The same functions serve the program, the audit and the
drift check, so what is deployed and what is checked cannot diverge.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.spec.models import AppRoleSpec, OpenBaoSpec, SecretPathSpec

ADMIN_POLICY = "admin"
DATABASE_MOUNT = "database"
PKI_MOUNT = "pki"
# auth methods of the root namespace: the services', the operators' (Keycloak), break-glass, and Pulumi's
APPROLE_PATH = "approle"
OIDC_PATH = "oidc"
USERPASS_PATH = "userpass"
PROVISIONER_AUTH_PATH = "provisioner"
PROVISIONER_ROLE = "pulumi"
PROVISIONER_POLICY = "platform-provisioner"
READ_ONLY = ("read",)
TRANSIT_USE = ("update",)
MANAGE = ("create", "read", "update", "delete", "list")
FORBIDDEN_CAPABILITIES = frozenset({"sudo", "root"})
# the one sys/ path an application policy may reach, read-only: the backup's raft snapshot
RAFT_SNAPSHOT_PATH = "sys/storage/raft/snapshot"


class PolicyError(ValueError):
    """A generated application policy would break the least-privilege rules (BAO-03)."""


@dataclass(frozen=True)
class Grant:
    """One `path "…" { capabilities = […] }` stanza."""

    path: str
    capabilities: tuple[str, ...]


def database_role_name(namespace: str) -> str:
    """The dynamic-credentials role of a namespace's database engine: `psra` -> `psra-app`."""
    return f"{namespace}-app"


def namespaced(namespace: str, path: str) -> str:
    """A root-namespace ACL path for `path` inside `namespace` (empty = root)."""
    return f"{namespace}/{path}" if namespace else path


def transit_grants(key: SecretPathSpec) -> tuple[Grant, ...]:
    """Encrypt and decrypt with one named transit key; no key management, no export."""
    return tuple(
        Grant(namespaced(key.namespace, f"{key.mount}/{operation}/{key.key}"), TRANSIT_USE)
        for operation in ("encrypt", "decrypt")
    )


def approle_grants(role: AppRoleSpec, openbao: OpenBaoSpec) -> tuple[Grant, ...]:
    """What `role` may do: read its KV paths, use its transit keys, request its DB creds."""
    matrix = {path.seed_path: path for path in openbao.secret_paths}
    missing = [path for path in (*role.secret_paths, *role.transit_keys) if path not in matrix]
    if missing:
        raise PolicyError(f"AppRole {role.name!r} references paths outside the secrets matrix: {', '.join(missing)}")
    grants = [Grant(matrix[path].acl_path, READ_ONLY) for path in role.secret_paths]
    for path in role.transit_keys:
        grants.extend(transit_grants(matrix[path]))
    for namespace in role.database_credentials:
        if namespace not in openbao.database_engine_namespaces:
            raise PolicyError(f"AppRole {role.name!r} requests database credentials of {namespace!r}, which has no database engine")
        grants.append(Grant(namespaced(namespace, f"{DATABASE_MOUNT}/creds/{database_role_name(namespace)}"), READ_ONLY))
    if role.raft_snapshot:
        grants.append(Grant(RAFT_SNAPSHOT_PATH, READ_ONLY))
    checked = tuple(grants)
    check_least_privilege(role.name, checked)
    return checked


def check_least_privilege(policy: str, grants: tuple[Grant, ...]) -> None:
    """BAO-03 for application policies: no globs, no sys/ or auth/ paths (but reading the raft snapshot), no sudo."""
    for grant in grants:
        if "*" in grant.path or "+" in grant.path:
            raise PolicyError(f"policy {policy!r}: path {grant.path!r} has a glob; application policies name exact paths")
        if (grant.path, grant.capabilities) == (RAFT_SNAPSHOT_PATH, READ_ONLY):
            continue
        if grant.path.split("/", 1)[0] in {"sys", "auth"} or "/sys/" in grant.path:
            raise PolicyError(f"policy {policy!r}: path {grant.path!r} reaches sys/ or auth/")
        bad = FORBIDDEN_CAPABILITIES.intersection(grant.capabilities)
        if bad:
            raise PolicyError(f"policy {policy!r}: path {grant.path!r} grants {', '.join(sorted(bad))}")


def admin_grants(openbao: OpenBaoSpec) -> tuple[Grant, ...]:
    """Operators (Keycloak `Administrators` via OIDC, and break-glass): manage secrets and
    keys, issue internal certificates, read policies — but no sudo and no sys/ writes."""
    grants: list[Grant] = []
    kv_mounts = sorted({(p.namespace, p.mount) for p in openbao.secret_paths if p.engine == "kv-v2"})
    for namespace, mount in kv_mounts:
        grants.append(Grant(namespaced(namespace, f"{mount}/data/*"), MANAGE))
        grants.append(Grant(namespaced(namespace, f"{mount}/metadata/*"), MANAGE))
    for namespace, mount in sorted({(p.namespace, p.mount) for p in openbao.secret_paths if p.engine == "transit"}):
        grants.append(Grant(namespaced(namespace, f"{mount}/keys/*"), ("read", "list")))
        grants.append(Grant(namespaced(namespace, f"{mount}/keys/+/rotate"), ("update",)))
    for namespace in openbao.database_engine_namespaces:
        grants.append(Grant(namespaced(namespace, f"{DATABASE_MOUNT}/creds/{database_role_name(namespace)}"), READ_ONLY))
    grants.append(Grant(f"{PKI_MOUNT}/issue/*", ("update",)))
    grants.append(Grant(f"{PKI_MOUNT}/roles/*", ("read", "list")))
    grants.append(Grant("sys/policies/acl/*", ("read", "list")))
    return tuple(grants)


def secret_mounts(openbao: OpenBaoSpec) -> tuple[tuple[str, str], ...]:
    """(namespace, mount path) of every secrets engine the program mounts: KV v2 and transit per the
    matrix, the database engines, and the root namespace's PKI."""
    mounts = {(p.namespace, p.mount) for p in openbao.secret_paths}
    mounts |= {(namespace, DATABASE_MOUNT) for namespace in openbao.database_engine_namespaces}
    mounts.add(("", PKI_MOUNT))
    return tuple(sorted(mounts))


def provisioner_grants(openbao: OpenBaoSpec) -> tuple[Grant, ...]:
    """What Pulumi's provisioner identity may do: exactly the namespaces, secrets engines, auth methods
    and policies the program manages, and a short-lived child token for the provider.

    Not granted, so not possible with it: audit devices, raw storage, seal/unseal, rekey and
    generate-root, token roles, other mounts and auth methods, its own login method. It may still
    write policies and roles, so it can grant itself more through them, as any identity that
    provisions policies can; its own policy is denied to it, and every such step is audited."""
    grants = [Grant("sys/namespaces/*", MANAGE)]
    for namespace in ("", *openbao.namespaces):
        grants.append(Grant(namespaced(namespace, "sys/mounts"), READ_ONLY))
        grants.append(Grant(namespaced(namespace, "sys/internal/ui/mounts/*"), READ_ONLY))
    for namespace, mount in secret_mounts(openbao):
        grants.append(Grant(namespaced(namespace, f"sys/mounts/{mount}"), MANAGE))
        grants.append(Grant(namespaced(namespace, f"sys/mounts/{mount}/*"), MANAGE))
        grants.append(Grant(namespaced(namespace, f"{mount}/*"), MANAGE))
    grants.append(Grant("sys/auth", READ_ONLY))
    for method in (APPROLE_PATH, OIDC_PATH, USERPASS_PATH):
        grants.append(Grant(f"sys/auth/{method}", (*MANAGE, "sudo")))  # enabling an auth method needs sudo
        grants.append(Grant(f"sys/auth/{method}/*", (*MANAGE, "sudo")))
        grants.append(Grant(f"auth/{method}/*", MANAGE))
    for endpoint in ("sys/policies/acl", "sys/policy"):  # the ACL policy API and its older alias
        grants.append(Grant(f"{endpoint}/*", MANAGE))
        grants.append(Grant(f"{endpoint}/{PROVISIONER_POLICY}", ("deny",)))
    grants.append(Grant("auth/token/create", ("update",)))  # the provider's child token (subset of this policy)
    return tuple(grants)


def provisioner_policy(openbao: OpenBaoSpec) -> str:
    return render(PROVISIONER_POLICY, provisioner_grants(openbao))


def render(name: str, grants: tuple[Grant, ...]) -> str:
    """HCL text of a policy; deterministic so plans and drift checks compare byte for byte."""
    lines = [f"# {name}: generated from the platform spec (infra.spec.openbao_policy); do not edit by hand."]
    for grant in grants:
        capabilities = ", ".join(f'"{capability}"' for capability in grant.capabilities)
        lines += ["", f'path "{grant.path}" {{', f"  capabilities = [{capabilities}]", "}"]
    return "\n".join(lines) + "\n"


def approle_policies(openbao: OpenBaoSpec) -> dict[str, str]:
    """Policy name (= AppRole name) -> HCL, for every AppRole of the spec."""
    return {role.name: render(role.name, approle_grants(role, openbao)) for role in openbao.approles}


def admin_policy(openbao: OpenBaoSpec) -> str:
    return render(ADMIN_POLICY, admin_grants(openbao))
