"""Backup stack: the backup container over every data store, OpenBao and every stateful named volume.

Data stores are dumped logically (their volumes are not copied); OpenBao is backed up as
its raft snapshot when the backup AppRole may take it (its data volume is then not
copied); monitoring data is not backed up (seed: "Monitoring Data: Not backed up");
everything else that a container keeps in a named volume (ACME certificates, OpenBao's
audit log, Grafana, N8N) is. The job logs in to OpenBao with the backup AppRole, which
reads the repository password and the off-site record.
"""

from __future__ import annotations

import pulumi

from components.backup import Backup, BackupArgs, OpenBaoAccess
from components.openbao_server import STORAGE_VOLUME
from stacks.apps import SECRETS_DIR, openbao_fields
from stacks.context import PlatformContext
from stacks.datastores import credentials
from stacks.services import CONTAINERS, register, service_spec, volumes

NOT_ARCHIVED = frozenset({"prometheus-data", "loki-data", "alertmanager-data", "promtail-positions"})
PASSWORD_PATH = "sevensa/shared/backup/repository-password"
OFFSITE_PATH = "sevensa/shared/backup/offsite"


def openbao_access(context: PlatformContext, env: dict) -> OpenBaoAccess:
    """The backup AppRole's address, login files and the KV records of the secrets matrix it reads."""
    spec = context.spec.openbao
    role = next((r for r in spec.approles if "backup" in r.services), None)
    if role is None or PASSWORD_PATH not in role.secret_paths:
        raise ValueError(f"no OpenBao AppRole lets the backup service read {PASSWORD_PATH} (openbao.approles)")
    paths = {p.seed_path: p for p in spec.secret_paths}
    offsite = paths[OFFSITE_PATH].key if OFFSITE_PATH in role.secret_paths else None
    return OpenBaoAccess(
        address=str(env["OPENBAO_ADDR"]),
        role_id_file=str(env.get("OPENBAO_ROLE_ID_FILE", f"{SECRETS_DIR}/openbao-role-id")),
        secret_id_file=str(env.get("OPENBAO_SECRET_ID_FILE", f"{SECRETS_DIR}/openbao-secret-id")),
        mount=paths[PASSWORD_PATH].mount,
        password_key=paths[PASSWORD_PATH].key,
        offsite_key=offsite,
        snapshot=role.raft_snapshot,
    )


def archived_volumes(context: PlatformContext, raft_snapshot: bool) -> dict:
    stores = {store.volume for store in context.spec.datastores}
    own = {m.volume for m in service_spec(context, "backup").volumes}
    snapshotted = {STORAGE_VOLUME} if raft_snapshot else set()
    return {name: v for name, v in volumes(context).items() if name not in stores | own | NOT_ARCHIVED | snapshotted}


def build(context: PlatformContext) -> None:
    service = service_spec(context, "backup")
    stores = list(credentials(context).values())
    login = openbao_fields(context, service)
    access = openbao_access(context, login.env)
    backup = Backup(
        "backup",
        BackupArgs(
            service=service,
            backup=context.spec.backup,
            environment=context.spec.stack_name,
            networks=context.networks.networks,
            datastores=stores,
            volumes=archived_volumes(context, access.snapshot),
            openbao=access,
            secret_files=login.secret_files,
            depends_on=[context.shared[CONTAINERS][s.name] for s in stores if s.name in context.shared.get(CONTAINERS, {})],
        ),
        pulumi.ResourceOptions(providers=[context.docker_provider]),
    )
    register(context, backup.container)
