"""Auditor reports: who can read which secret, what is exposed where, who holds which role.

Each report is derived from the declared resources only, and set beside what the seed
says (its secret access matrix, its egress reasons, its realm), so a reader sees both the
platform as declared and every place it departs from the seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from infra.audit.model import UnknownValueError, text
from infra.audit.openbao import RAFT_SNAPSHOT_PATH
from infra.audit.resources import Container, Resources
from infra.audit.traefik_config import TraefikConfig
from infra.audit.vault_config import VaultConfig

GROUP = "keycloak:index/group:Group"
ROLE = "keycloak:index/role:Role"
GROUP_ROLES = "keycloak:index/groupRoles:GroupRoles"
CLIENT = "keycloak:openid/client:Client"
ROLE_MAPPERS = ("keycloak:index/genericRoleMapper:GenericRoleMapper", "keycloak:index/genericClientRoleMapper:GenericClientRoleMapper")
READ_CAPABILITIES = frozenset({"read", "update"})


@dataclass(frozen=True)
class SecretAccess:
    approle: str
    declared: tuple[str, ...]  # seed paths the AppRole's policies grant
    unmapped: tuple[str, ...]  # granted ACL paths that are no secret of the seed matrix
    seed: tuple[str, ...]  # what the seed's matrix grants it

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.seed) - set(self.declared)))

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.declared) - set(self.seed)))

    @property
    def matches_seed(self) -> bool:
        return not (self.missing or self.extra or self.unmapped)


@dataclass(frozen=True)
class Exposure:
    container: str
    networks: tuple[str, ...]  # "name (internal)" / "name (EXTERNAL)"
    published: tuple[str, ...]
    hosts: tuple[str, ...]
    egress: bool
    egress_reason: str | None  # the seed's reason, None when the seed declares none


@dataclass(frozen=True)
class GroupRoles:
    group: str
    roles: tuple[str, ...]
    clients: tuple[str, ...]  # clients that require one of those roles
    seed_roles: tuple[str, ...]


@dataclass(frozen=True)
class Reports:
    secret_access: list[SecretAccess] = field(default_factory=list)
    exposure: list[Exposure] = field(default_factory=list)
    identity: list[GroupRoles] = field(default_factory=list)
    clients_by_role: dict[str, list[str]] = field(default_factory=dict)
    seed_clients_by_role: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "secret_access_matrix": [
                {**asdict(row), "missing": list(row.missing), "extra": list(row.extra), "matches_seed": row.matches_seed}
                for row in self.secret_access
            ],
            "network_exposure": [asdict(row) for row in self.exposure],
            "identity_matrix": {
                "groups": [asdict(row) for row in self.identity],
                "clients_by_role": self.clients_by_role,
                "seed_clients_by_role": self.seed_clients_by_role,
            },
        }


def secret_access_matrix(r: Resources) -> list[SecretAccess]:
    """AppRole -> the seed secret paths its policies let it read (HCL of the declared policies)."""
    vault = r.view(VaultConfig)
    seed = r.seed
    matrix = seed.seed_matrix()
    rows: list[SecretAccess] = []
    declared_names: set[str] = set()
    for role in vault.approle_roles:
        name = vault.role_name(role)
        declared_names.add(name)
        declared: set[str] = set()
        unmapped: set[str] = set()
        for path, caps in vault.readable_paths(role).items():
            if not READ_CAPABILITIES & set(caps):
                continue
            seed_path = seed.seed_path_of(path)
            if seed_path:
                declared.add(seed_path)
            elif "/creds/" not in path and path != RAFT_SNAPSHOT_PATH:
                unmapped.add(path)
        rows.append(SecretAccess(name, tuple(sorted(declared)), tuple(sorted(unmapped)), tuple(sorted(matrix.get(name, ())))))
    if vault.approle_roles:
        rows += [SecretAccess(name, (), (), tuple(sorted(paths))) for name, paths in matrix.items() if name not in declared_names]
    return sorted(rows, key=lambda row: row.approle)


def _hosts(r: Resources, container: Container) -> tuple[str, ...]:
    return tuple(sorted({host for router in r.view(TraefikConfig).routers if router.urn == container.urn for host in router.hosts}))


def network_exposure(r: Resources) -> list[Exposure]:
    rows: list[Exposure] = []
    for container in r.running():
        try:
            internal = {net: r.network_internal(net) for net in container.networks}
            published = tuple(
                f"{text(p.get('ip')) or '0.0.0.0'}:{int(float(p.get('external') or p.get('internal') or 0))}->{int(float(p.get('internal') or 0))}"
                for p in container.ports
            )
            rows.append(
                Exposure(
                    container=container.name,
                    networks=tuple(f"{net} ({'internal' if flag else 'EXTERNAL'})" for net, flag in internal.items())
                    or (f"{container.network_mode or 'bridge'} (default)",),
                    published=published,
                    hosts=_hosts(r, container),
                    egress=any(not flag for flag in internal.values()),
                    egress_reason=r.seed.egress_reason(container.service),
                )
            )
        except UnknownValueError:
            continue
    return sorted(rows, key=lambda row: row.container)


def _names(resources: list) -> list[str]:
    return sorted({text(res.inputs.get("name")) or res.name for res in resources})


def identity_matrix(r: Resources) -> tuple[list[GroupRoles], dict[str, list[str]]]:
    """Groups -> realm roles (GroupRoles), roles -> the clients that map them (role mappers)."""
    clients_by_role: dict[str, set[str]] = {}
    for mapper in r.of_type(*ROLE_MAPPERS):
        roles = _names(r.dependencies_of(mapper, ROLE))
        clients = [text(c.inputs.get("clientId")) or c.name for c in r.dependencies_of(mapper, CLIENT)]
        for role in roles:
            clients_by_role.setdefault(role, set()).update(clients)
    seed_groups = {g.name: g.roles for g in r.seed.keycloak.groups}
    rows: list[GroupRoles] = []
    for group in r.of_type(GROUP):
        name = text(group.inputs.get("name")) or group.name
        roles: set[str] = set()
        for binding in r.of_type(GROUP_ROLES):
            if group.urn in binding.dependencies:
                roles.update(_names(r.dependencies_of(binding, ROLE)))
        clients = sorted({c for role in roles for c in clients_by_role.get(role, ())})
        rows.append(GroupRoles(name, tuple(sorted(roles)), tuple(clients), tuple(sorted(seed_groups.get(name, ())))))
    return sorted(rows, key=lambda row: row.group), {role: sorted(clients) for role, clients in sorted(clients_by_role.items())}


def seed_clients_by_role(r: Resources) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for client in r.seed.keycloak.clients:
        if client.required_role:
            result.setdefault(client.required_role, []).append(client.client_id)
    return result


def build_reports(r: Resources) -> Reports:
    identity, clients_by_role = identity_matrix(r)
    return Reports(
        secret_access=secret_access_matrix(r),
        exposure=network_exposure(r),
        identity=identity,
        clients_by_role=clients_by_role,
        seed_clients_by_role=seed_clients_by_role(r),
    )
