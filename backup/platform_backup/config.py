"""The backup container's configuration file (JSON, rendered by the Pulumi program).

Passwords are never in it: each target names the secret file that holds its password.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ENGINES = ("postgres", "mysql", "redis")


@dataclass(frozen=True)
class Target:
    """One data store to dump, with the superuser credentials the dump needs."""

    name: str
    engine: str
    host: str
    port: int
    user: str
    password_file: Path
    databases: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumeSource:
    """A named volume mounted read-only into the backup container, archived as tar.gz."""

    name: str
    path: Path


@dataclass(frozen=True)
class Offsite:
    """An S3-compatible bucket the night's run is copied to."""

    bucket: str
    endpoint: str | None = None
    prefix: str = ""


@dataclass(frozen=True)
class BackupConfig:
    local_path: Path
    key_file: Path
    retention_days: int
    schedule: str
    timezone: str = "UTC"
    targets: tuple[Target, ...] = ()
    volumes: tuple[VolumeSource, ...] = ()
    offsite: Offsite | None = None
    metrics_port: int = 9101
    restore_check: bool = False


class ConfigError(ValueError):
    """The configuration file is invalid (names the field)."""


def load(path: Path) -> BackupConfig:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the backup configuration: {exc}") from exc
    return parse(raw)


def parse(raw: dict) -> BackupConfig:
    try:
        targets = tuple(
            Target(
                name=t["name"],
                engine=t["engine"],
                host=t["host"],
                port=int(t["port"]),
                user=t["user"],
                password_file=Path(t["password_file"]),
                databases=tuple(t.get("databases", ())),
            )
            for t in raw.get("targets", ())
        )
        volumes = tuple(VolumeSource(name=v["name"], path=Path(v["path"])) for v in raw.get("volumes", ()))
        offsite = Offsite(**raw["offsite"]) if raw.get("offsite") else None
        config = BackupConfig(
            local_path=Path(raw["local_path"]),
            key_file=Path(raw["key_file"]),
            retention_days=int(raw["retention_days"]),
            schedule=raw["schedule"],
            timezone=raw.get("timezone", "UTC"),
            targets=targets,
            volumes=volumes,
            offsite=offsite,
            metrics_port=int(raw.get("metrics_port", 9101)),
            restore_check=bool(raw.get("restore_check", False)),
        )
    except KeyError as exc:
        raise ConfigError(f"backup configuration is missing {exc.args[0]!r}") from None
    for target in config.targets:
        if target.engine not in ENGINES:
            raise ConfigError(f"target {target.name!r}: engine {target.engine!r} is not one of {', '.join(ENGINES)}")
        if target.engine != "redis" and not target.databases:
            raise ConfigError(f"target {target.name!r}: a {target.engine} target needs at least one database")
    if config.retention_days < 1:
        raise ConfigError("retention_days must be at least 1")
    return config
