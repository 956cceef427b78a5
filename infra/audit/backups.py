"""Backup rules (BK-*): the backup job is encrypted, retained off-host, restore-tested, complete.

Checked on the declared backup container's configuration (env, command, plaintext files):
what the job is told to do is what an auditor can see without running it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.audit.model import Rule, Severity, is_secret, rules_on
from infra.audit.operations import config_text, role_or_missing, when_present
from infra.audit.resources import DATASTORE_ROLES, Container, Resources

# A setting that points the job at its encryption key file: RESTIC_PASSWORD_FILE=…, "key_file": "…", …
KEY_FILE_SETTING = re.compile(
    r"""["']?(\w*(?:key|passphrase|encrypt|restic_password|age_identity|gpg)\w*_file)["']?\s*[:=]\s*["']?([^"',\s}]+)""", re.I
)
RETENTION = re.compile(r"RETENTION|KEEP_|--keep-|\bforget\b", re.I)
OFF_HOST = re.compile(
    r"""(S3_ENDPOINT|S3_BUCKET|RESTIC_REPOSITORY|RCLONE_REMOTE|REMOTE_TARGET)=\S+|\bs3:|s3://|rclone:|"""
    r"""["']?(offsite|off_host|s3_endpoint|s3_bucket|bucket)["']?\s*[:=]\s*(?!null\b|none\b|""|''|~)[^\s,}]""",
    re.I,
)
RESTORE_TEST = re.compile(r"restore", re.I)
STATEFUL_ROLES = frozenset({*DATASTORE_ROLES, "openbao", "grafana", "traefik"})


def _stateful(r: Resources) -> list[Container]:
    return r.with_role(*STATEFUL_ROLES)


backup_subjects = role_or_missing("backup", "backup container (the platform has data stores)", lambda r: bool(_stateful(r)))


def _encrypted(subject: Container, r: Resources) -> Iterator[str]:
    key_files = {path.rsplit("/", 1)[-1] for _, path in KEY_FILE_SETTING.findall(config_text(r, subject))}
    sealed = {u.path.rsplit("/", 1)[-1] for u in r.service_files(subject.service) if is_secret(u.content)}
    if not key_files & sealed:
        yield f"backup {subject.name} is given no encryption key from a Pulumi secret file (e.g. RESTIC_PASSWORD_FILE, key_file)"


def _retained_off_host(subject: Container, r: Resources) -> Iterator[str]:
    config = config_text(r, subject)
    if not RETENTION.search(config):
        yield f"backup {subject.name} declares no retention"
    if not OFF_HOST.search(config):
        yield f"backup {subject.name} has no off-host target (S3 endpoint and bucket)"


def _restore_tested(subject: Container, r: Resources) -> Iterator[str]:
    if not RESTORE_TEST.search(config_text(r, subject)):
        yield f"backup {subject.name} schedules no restore test"


def _complete(subject: Container, r: Resources) -> Iterator[str]:
    config = config_text(r, subject)
    mounted = {m.source for m in subject.mounts if m.kind == "volume"}
    for target in _stateful(r):
        volumes = {m.source for m in target.mounts if m.kind == "volume"}
        named = target.name in config or any(volume in config for volume in volumes)
        if target.role in DATASTORE_ROLES | {"openbao"}:
            reachable = bool(set(target.networks) & set(subject.networks)) or bool(volumes & mounted)
            if not (named and reachable):
                yield f"backup {subject.name} does not dump {target.role} {target.name} (not named in its config or not reachable)"
        elif not (named or volumes & mounted):
            yield f"backup {subject.name} does not cover the volumes of {target.name}"


backup_rule = rules_on(backup_subjects)

RULES: tuple[Rule, ...] = (
    backup_rule(
        "BK-01",
        Severity.HIGH,
        "backups encrypted at rest; key not only on the VPS",
        "give the backup job an encryption key as a Pulumi secret file (…_FILE); the key then lives in the stack's state",
        "AWS Well-Architected REL09-BP02",
        when_present(_encrypted),
        export_only=True,  # tells a sealed key file from a plaintext one
    ),
    backup_rule(
        "BK-02",
        Severity.MEDIUM,
        "explicit retention and an off-host copy",
        "configure retention (days to keep) and an S3-compatible target (platform:backup s3_endpoint, s3_bucket)",
        "restic forget/prune docs",
        when_present(_retained_off_host),
    ),
    backup_rule(
        "BK-03",
        Severity.LOW,
        "restores tested on a schedule",
        "schedule a restore of the latest dump into a scratch database and query it",
        "REL09-BP04",
        when_present(_restore_tested),
    ),
    backup_rule(
        "BK-04",
        Severity.MEDIUM,
        "app-aware dumps cover every stateful service",
        "name every data store, OpenBao and the Grafana/ACME volumes in the backup job, and let it reach them",
        "—",
        when_present(_complete),
    ),
)
