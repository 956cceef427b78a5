"""The backup container: restic snapshots of every data store, OpenBao and the named volumes.

The container (built from `backup/`) runs `platform_backup serve`: on the spec's schedules
it streams `pg_dump`/`mariadb-dump`/`redis-cli --rdb` and OpenBao's raft snapshot into
`restic backup --stdin-from-command` (and backs up the mounted volumes) into one restic
repository per environment under `<local_path>/repository`, applies retention per kind of
data (`restic forget --prune`), copies to the off-site repository (`restic copy`), checks
the repository (`restic check --read-data-subset`) and restores every database into a
throw-away one (the drill); `sevensa_backup_*` metrics feed the alert rules.

No backup secret is in the plan: the container logs in to OpenBao with the backup AppRole
(role/secret id are secret files) and fetches the repository password and the off-site
record as files at run time. Data store superuser passwords are secret files. Restore
runbook: README, "Backups".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.container import ContainerArgs, HardenedContainer
from components.datastore import DatastoreCredentials
from infra.spec.models import BackupSpec, HealthcheckSpec, ServiceSpec, VolumeMount
from templates import render

CONFIG_FILE = "/etc/backup/backup.json"
SECRETS_DIR = "/run/restic"
VOLUMES_ROOT = "/volumes"
METRICS_PORT = 9101


@dataclass(frozen=True)
class OpenBaoAccess:
    """How the job reaches OpenBao: its address, the AppRole login files, and the KV records it reads."""

    address: str
    role_id_file: str
    secret_id_file: str
    mount: str
    password_key: str
    offsite_key: str | None
    snapshot: bool


@dataclass(frozen=True)
class BackupArgs:
    """Args:
    service: the backup container's spec (image built from `backup/`, networks reaching every store).
    backup: schedules, retention per kind, local path, off-site copy on/off.
    environment: the stack name; the snapshots' host name (one repository per environment).
    networks: the platform networks by name.
    datastores: credentials of every store to dump (superuser passwords are used).
    volumes: named volumes to back up, mounted read-only under /volumes/<name>.
    openbao: where the job fetches its passwords (and whether it snapshots OpenBao).
    secret_files: the AppRole login files (container path -> secret content).
    timezone: the zone the schedules are read in (the seed's "2 AM" is local time).
    """

    service: ServiceSpec
    backup: BackupSpec
    environment: str
    networks: Mapping[str, docker.Network]
    datastores: Sequence[DatastoreCredentials]
    volumes: Mapping[str, docker.Volume]
    openbao: OpenBaoAccess
    secret_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    timezone: str = "Europe/Amsterdam"
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class Backup(pulumi.ComponentResource):
    container: HardenedContainer

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:Backup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret_files = dict(args.secret_files) | {password_file(store): store.admin_password for store in args.datastores}
        mounts = tuple(VolumeMount(volume=v, container_path=f"{VOLUMES_ROOT}/{v}", read_only=True) for v in sorted(args.volumes))
        service = args.service.model_copy(update={"volumes": (*args.service.volumes, *mounts)})
        self.container = HardenedContainer(
            name,
            ContainerArgs(
                service=service,
                networks=args.networks,
                env={"BACKUP_CONFIG": CONFIG_FILE, "TZ": args.timezone},
                secret_files=secret_files,
                config_files={CONFIG_FILE: backup_config(args)},
                command=["serve", "--config", CONFIG_FILE],
                healthcheck=args.service.healthcheck
                or HealthcheckSpec(test=("CMD", "python3", "-m", "platform_backup", "healthcheck", "--port", str(METRICS_PORT)), interval_seconds=30),
                shared_volumes=args.volumes,
                depends_on=list(args.depends_on),
            ),
            child,
        )
        self.register_outputs({"container": self.container.container.name})


def password_file(store: DatastoreCredentials) -> str:
    return f"/run/secrets/{store.name}-password"


def kinds(args: BackupArgs) -> set[str]:
    """The kinds of data set the job will back up (each needs a retention entry)."""
    return {store.engine for store in args.datastores} | ({"volume"} if args.volumes else set()) | ({"openbao"} if args.openbao.snapshot else set())


def backup_config(args: BackupArgs) -> str:
    """The JSON config `platform_backup` reads (no secrets: passwords are referenced by file)."""
    missing = sorted(kinds(args) - set(args.backup.retention))
    if missing:
        raise ValueError(f"backup.retention has no entry for {', '.join(missing)} (set local_days, and offsite_days to copy it off-site)")
    targets = [
        {
            "name": store.name,
            "engine": store.engine,
            "host": store.host,
            "port": store.port,
            "user": store.admin_user,
            "password_file": password_file(store),
            "databases": [store.database] if store.database else [],
        }
        for store in args.datastores
    ]
    access = args.openbao
    openbao = {
        "address": access.address, "role_id_file": access.role_id_file, "secret_id_file": access.secret_id_file, "mount": access.mount,
        "password_key": access.password_key, "offsite_key": access.offsite_key if args.backup.offsite else None, "snapshot": access.snapshot,
    }
    spec = args.backup
    return render(
        "backup/backup.json.j2",
        environment=args.environment,
        repository=f"{spec.local_path}/repository",
        state_dir=f"{spec.local_path}/state",
        secrets_dir=SECRETS_DIR,
        timezone=args.timezone,
        schedules={"backup": spec.schedule, "check": spec.check_schedule, "drill": spec.drill_schedule},
        check_read_data_subset=spec.check_read_data_subset,
        retention={kind: r.model_dump() for kind, r in sorted(spec.retention.items()) if kind in kinds(args)},
        openbao=openbao,
        targets=targets,
        volumes=[{"name": name, "path": f"{VOLUMES_ROOT}/{name}"} for name in sorted(args.volumes)],
        metrics_port=METRICS_PORT,
    )
