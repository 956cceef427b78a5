"""The backup container's configuration file (JSON, rendered by the Pulumi program).

No secret is in it: data store passwords are named by file, and the restic repository
password and the off-site repository come from OpenBao (AppRole) at run time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Kind = Literal["postgres", "mysql", "redis", "openbao", "volume"]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
MAX_CONFIG_BYTES = 1 << 20


class ConfigError(ValueError):
    """The configuration file is invalid (names the field)."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(Model):
    """A data store to dump, with the file holding its superuser's password."""

    name: Name
    engine: Literal["postgres", "mysql", "redis"]
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)]
    user: Annotated[str, Field(min_length=1, max_length=63)]
    password_file: Path
    databases: Annotated[tuple[Name, ...], Field(max_length=64)] = ()

    @model_validator(mode="after")
    def _databases(self) -> Target:
        if self.engine != "redis" and not self.databases:
            raise ValueError(f"a {self.engine} target needs at least one database")
        return self


class Volume(Model):
    """A named volume mounted read-only into the container."""

    name: Name
    path: Path


class Retention(Model):
    """Days to keep, per kind of data set: locally, and off-site (None: not copied off-site)."""

    local_days: Annotated[int, Field(ge=1, le=3650)]
    offsite_days: Annotated[int | None, Field(ge=1, le=3650)] = None


class OpenBao(Model):
    """Where the backup AppRole logs in, and the KV v2 records it reads (mount, key)."""

    address: Annotated[str, Field(pattern=r"^https?://[^\s/]+(:\d+)?/?$")]
    role_id_file: Path
    secret_id_file: Path
    mount: Name
    password_key: Annotated[str, Field(min_length=1, max_length=200)]
    offsite_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    snapshot: bool = True
    """Also back up OpenBao itself (its raft storage snapshot)."""


class Schedules(Model):
    """Five-field cron expressions, read in the configuration's time zone."""

    backup: str = "0 2 * * *"
    check: str = "0 5 * * 0"
    drill: str = "30 3 * * *"

    @field_validator("backup", "check", "drill")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value) > 100 or len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("must be a five-field cron expression (minute hour day month weekday)")
        return value


class BackupConfig(Model):
    environment: Name
    repository: Path
    state_dir: Path
    secrets_dir: Path
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    schedules: Schedules = Schedules()
    check_read_data_subset: Annotated[str, Field(pattern=r"^(\d{1,2}(\.\d+)?%|\d+/\d+)$")] = "10%"
    retention: dict[Kind, Retention]
    openbao: OpenBao
    targets: Annotated[tuple[Target, ...], Field(max_length=64)] = ()
    volumes: Annotated[tuple[Volume, ...], Field(max_length=64)] = ()
    metrics_port: Annotated[int, Field(ge=1, le=65535)] = 9101

    @model_validator(mode="after")
    def _retention_for_every_kind(self) -> BackupConfig:
        used = {t.engine for t in self.targets} | ({"volume"} if self.volumes else set()) | ({"openbao"} if self.openbao.snapshot else set())
        missing = sorted(used - set(self.retention))
        if missing:
            raise ValueError(f"retention has no entry for {', '.join(missing)}")
        names = [t.name for t in self.targets] + [v.name for v in self.volumes]
        if len(names) != len(set(names)):
            raise ValueError("target and volume names must be unique")
        return self


def parse(raw: object) -> BackupConfig:
    try:
        return BackupConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors(include_input=False))
        raise ConfigError(f"invalid backup configuration: {problems}") from None


def load(path: Path) -> BackupConfig:
    try:
        text = path.read_bytes()[: MAX_CONFIG_BYTES + 1]
        if len(text) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
        raw = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the backup configuration ({type(exc).__name__})") from None
    return parse(raw)
