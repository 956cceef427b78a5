"""The backup container: nightly encrypted dumps of every data store, OpenBao's data and the named volumes.

The container (built from `backup/`) runs `platform_backup serve`: on the spec's schedule
it streams `pg_dump`/`mysqldump`/`redis-cli --rdb` and tar archives of the mounted
volumes through AES-256-GCM (see `backup/platform_backup/crypto.py`) into
`<local_path>/<run>/`, prunes runs older than `retention_days`, optionally copies the
run to S3, and serves `sevensa_backup_*` metrics for the staleness alert. The master key
is 32 random bytes from `pulumi_random` (a Pulumi secret, exported as a secret stack
output so it also lives off the VPS); the dump tools get superuser passwords from secret
files. Restore procedure: `backup/RESTORE.md`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.container import ContainerArgs, HardenedContainer
from components.datastore import DatastoreCredentials
from infra.spec.models import BackupSpec, HealthcheckSpec, ServiceSpec, VolumeMount
from templates import render

CONFIG_FILE = "/etc/backup/backup.json"
KEY_FILE = "/run/secrets/backup-key"
AWS_CREDENTIALS_FILE = "/run/secrets/aws-credentials"
VOLUMES_ROOT = "/volumes"
METRICS_PORT = 9101
KEY_BYTES = 32


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: pulumi.Input[str]
    secret_access_key: pulumi.Input[str]


@dataclass(frozen=True)
class BackupArgs:
    """Args:
    service: the backup container's spec (image built from `backup/`, networks reaching every store).
    backup: schedule, retention, local path and optional S3 target.
    networks: the platform networks by name.
    datastores: credentials of every store to dump (superuser passwords are used).
    volumes: named volumes to archive, mounted read-only under /volumes/<name>.
    s3_credentials: for the off-site copy (required when `backup.s3_bucket` is set).
    timezone: the zone the schedule is read in (the seed's "2 AM" is local time).
    """

    service: ServiceSpec
    backup: BackupSpec
    networks: Mapping[str, docker.Network]
    datastores: Sequence[DatastoreCredentials]
    volumes: Mapping[str, docker.Volume]
    s3_credentials: S3Credentials | None = None
    timezone: str = "Europe/Amsterdam"
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class Backup(pulumi.ComponentResource):
    container: HardenedContainer
    key: random.RandomBytes

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:Backup", name, None, opts)
        if args.backup.s3_bucket and args.s3_credentials is None:
            raise ValueError("backup.s3_bucket is set but no S3 credentials were given (config secrets backup:s3AccessKeyId/s3SecretAccessKey)")
        child = pulumi.ResourceOptions(parent=self)
        self.key = random.RandomBytes(f"{name}-key", length=KEY_BYTES, opts=child)
        secret_files: dict[str, pulumi.Input[str]] = {KEY_FILE: self.key.hex}
        secret_files |= {password_file(store): store.admin_password for store in args.datastores}
        env = {"BACKUP_CONFIG": CONFIG_FILE, "TZ": args.timezone}
        if args.s3_credentials is not None:
            secret_files[AWS_CREDENTIALS_FILE] = pulumi.Output.concat(
                "[default]\naws_access_key_id = ", args.s3_credentials.access_key_id,
                "\naws_secret_access_key = ", args.s3_credentials.secret_access_key, "\n",
            )
            env["AWS_SHARED_CREDENTIALS_FILE"] = AWS_CREDENTIALS_FILE
        service = args.service.model_copy(
            update={"volumes": (*args.service.volumes, *(VolumeMount(volume=v, container_path=f"{VOLUMES_ROOT}/{v}", read_only=True) for v in sorted(args.volumes)))}
        )
        self.container = HardenedContainer(
            name,
            ContainerArgs(
                service=service,
                networks=args.networks,
                env=env,
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


def backup_config(args: BackupArgs) -> str:
    """The JSON config `platform_backup` reads (no secrets: passwords are referenced by file)."""
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
    volumes = [{"name": name, "path": f"{VOLUMES_ROOT}/{name}"} for name in sorted(args.volumes)]
    offsite = {"bucket": args.backup.s3_bucket, "endpoint": args.backup.s3_endpoint, "prefix": "platform"} if args.backup.s3_bucket else None
    local = next((m.container_path for m in args.service.volumes if m.container_path == args.backup.local_path), args.backup.local_path)
    return render(
        "backup/backup.json.j2",
        local_path=local,
        key_file=KEY_FILE,
        retention_days=args.backup.retention_days,
        schedule=args.backup.schedule,
        timezone=args.timezone,
        metrics_port=METRICS_PORT,
        # every night each fresh PostgreSQL dump is restored into a scratch database and queried (BK-03)
        restore_check=True,
        targets=targets,
        volumes=volumes,
        offsite=offsite,
    )
