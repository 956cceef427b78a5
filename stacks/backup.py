"""Backup stack: the backup container over every data store and every stateful named volume.

Data stores are dumped logically (their volumes are not archived); monitoring data is
not backed up (seed: "Monitoring Data: Not backed up"); everything else that a container
keeps in a named volume (ACME certificates, OpenBao data and audit log, Grafana, N8N) is
archived. S3 credentials, when an off-site bucket is configured, are the config secrets
`backup:s3AccessKeyId` and `backup:s3SecretAccessKey`.
"""

from __future__ import annotations

import pulumi

from components.backup import Backup, BackupArgs, S3Credentials
from stacks.context import PlatformContext
from stacks.datastores import credentials
from stacks.services import CONTAINERS, register, service_spec, volumes

NOT_ARCHIVED = frozenset({"prometheus-data", "loki-data", "alertmanager-data", "promtail-positions"})


def archived_volumes(context: PlatformContext) -> dict:
    stores = {store.volume for store in context.spec.datastores}
    own = {m.volume for m in service_spec(context, "backup").volumes}
    return {name: v for name, v in volumes(context).items() if name not in stores | own | NOT_ARCHIVED}


def s3_credentials() -> S3Credentials | None:
    config = pulumi.Config("backup")
    key_id, secret = config.get_secret("s3AccessKeyId"), config.get_secret("s3SecretAccessKey")
    return S3Credentials(key_id, secret) if key_id is not None and secret is not None else None


def build(context: PlatformContext) -> None:
    stores = list(credentials(context).values())
    backup = Backup(
        "backup",
        BackupArgs(
            service=service_spec(context, "backup"),
            backup=context.spec.backup,
            networks=context.networks.networks,
            datastores=stores,
            volumes=archived_volumes(context),
            s3_credentials=s3_credentials(),
            depends_on=[context.shared[CONTAINERS][s.name] for s in stores if s.name in context.shared.get(CONTAINERS, {})],
        ),
        pulumi.ResourceOptions(providers=[context.docker_provider]),
    )
    register(context, backup.container)
    pulumi.export("backup_encryption_key", pulumi.Output.secret(backup.key.hex))
