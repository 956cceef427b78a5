"""Backup rules (BK-*): the backup job is encrypted with a password kept off the VPS, retained
per kind of data with an off-site copy, verified on a schedule (repository check and restore
drill), and complete.

Checked on the declared backup container's configuration (env, command, plaintext files):
what the job is told to do is what an auditor can see without running it. The platform's
job is restic (`backup/`); a generic restic job (RESTIC_* env, a crontab) is judged alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from infra.audit.model import Rule, Severity, is_secret, rules_on
from infra.audit.operations import config_text, role_or_missing, when_present
from infra.audit.resources import DATASTORE_ROLES, Container, Resources

# A setting that points the job at its encryption key file: RESTIC_PASSWORD_FILE=…, "key_file": "…", …
KEY_FILE_SETTING = re.compile(
    r"""["']?(\w*(?:key|passphrase|encrypt|restic_password|age_identity|gpg)\w*_file)["']?\s*[:=]\s*["']?([^"',\s}]+)""", re.I
)
PLAINTEXT_PASSWORD = re.compile(r"^RESTIC_PASSWORD=", re.M)
RETENTION = re.compile(r"RETENTION|KEEP_|--keep-|\bforget\b|\blocal_days\b", re.I)
OFF_HOST = re.compile(
    r"""(S3_ENDPOINT|S3_BUCKET|RESTIC_REPOSITORY|RESTIC_REPOSITORY2|RCLONE_REMOTE|REMOTE_TARGET)=\S+|\bs3:|s3://|rclone:|\brest:|\bsftp:|"""
    r"""\brestic\s+copy\b|["']?(offsite|offsite_key|off_host|s3_endpoint|s3_bucket|bucket)["']?\s*[:=]\s*(?!null\b|none\b|false\b|""|''|~)[^\s,}]""",
    re.I,
)
RESTORE_TEST = re.compile(r"restore", re.I)
REPOSITORY_CHECK = re.compile(r"\brestic\s+check\b|\bcheck\b.*--read-data|[\"']check[\"']\s*:\s*[\"'][^\"']+[\"']", re.I)
STATEFUL_ROLES = frozenset({*DATASTORE_ROLES, "openbao", "grafana", "traefik"})


def _stateful(r: Resources) -> list[Container]:
    return r.with_role(*STATEFUL_ROLES)


backup_subjects = role_or_missing("backup", "backup container (the platform has data stores)", lambda r: bool(_stateful(r)))


def _job_settings(subject: Container, r: Resources) -> dict[str, Any]:
    """The platform job's JSON configuration (a file with `openbao` and `retention`), if it has one."""
    for upload in r.service_files(subject.service):
        content = upload.readable
        if content is None or not upload.path.endswith(".json"):
            continue
        try:
            parsed = json.loads(content)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "openbao" in parsed and "retention" in parsed:
            return parsed
    return {}


def _sealed_files(subject: Container, r: Resources) -> set[str]:
    return {u.path for u in r.service_files(subject.service) if is_secret(u.content)}


def _encrypted(subject: Container, r: Resources) -> Iterator[str]:
    config = config_text(r, subject)
    sealed = _sealed_files(subject, r)
    if PLAINTEXT_PASSWORD.search(config):
        yield f"backup {subject.name} gets its repository password from an environment variable (use a file: --password-file)"
        return
    key_files = {path for _, path in KEY_FILE_SETTING.findall(config)}
    if key_files & sealed:
        return
    openbao = _job_settings(subject, r).get("openbao") or {}
    login = {openbao.get("role_id_file"), openbao.get("secret_id_file")}
    if openbao.get("password_key") and None not in login and login <= sealed:
        return
    yield (
        f"backup {subject.name} is given no repository password from OpenBao (AppRole login files) "
        "or from a Pulumi secret file (e.g. RESTIC_PASSWORD_FILE)"
    )


def _retained_off_host(subject: Container, r: Resources) -> Iterator[str]:
    config = config_text(r, subject)
    settings = _job_settings(subject, r)
    if not RETENTION.search(config):
        yield f"backup {subject.name} declares no retention"
    retention = settings.get("retention") or {}
    copied = {kind: days for kind, item in retention.items() if isinstance(item, dict) and (days := item.get("offsite_days"))}
    for kind, days in sorted(copied.items()):
        local = (retention.get(kind) or {}).get("local_days") or 0
        if days < local:
            yield f"backup {subject.name} keeps {kind} {days} days off-site but {local} days locally (the off-site copy must outlive the local one)"
    if settings:
        if not (settings.get("openbao") or {}).get("offsite_key") or not copied:
            yield f"backup {subject.name} copies nothing off-site (platform:backup offsite: true and an offsite_days retention)"
    elif not OFF_HOST.search(config):
        yield f"backup {subject.name} has no off-site repository (RESTIC_REPOSITORY on another host, restic copy, S3, REST or SFTP)"


def _verified(subject: Container, r: Resources) -> Iterator[str]:
    config = config_text(r, subject)
    settings = _job_settings(subject, r)
    schedules = settings.get("schedules") or {}
    if not (schedules.get("drill") if settings else RESTORE_TEST.search(config)):
        yield f"backup {subject.name} schedules no restore test (a restore of the latest snapshot into a scratch database)"
    if not (schedules.get("check") if settings else REPOSITORY_CHECK.search(config)):
        yield f"backup {subject.name} schedules no repository check (restic check --read-data-subset)"


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
        "backups encrypted at rest; the password not only on the VPS",
        "let the job read its repository password from OpenBao (backup AppRole, login files as Pulumi secret files) "
        "or give it a Pulumi secret file (RESTIC_PASSWORD_FILE); never an environment variable",
        "AWS Well-Architected REL09-BP02; restic --password-file",
        when_present(_encrypted),
        export_only=True,  # tells a sealed key file from a plaintext one
    ),
    backup_rule(
        "BK-02",
        Severity.MEDIUM,
        "explicit retention and an off-site copy that outlives the local one",
        "set platform:backup retention (local_days, offsite_days per kind) and offsite: true; store the off-site "
        "repository record in OpenBao (sevensa/shared/backup/offsite)",
        "restic forget/prune and copy docs",
        when_present(_retained_off_host),
    ),
    backup_rule(
        "BK-03",
        Severity.LOW,
        "backups verified on a schedule: repository check and restore drill",
        "schedule `restic check --read-data-subset` and a restore of the latest snapshot into a scratch database "
        "(platform:backup check_schedule, drill_schedule)",
        "REL09-BP04",
        when_present(_verified),
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
