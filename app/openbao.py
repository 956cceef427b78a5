"""Connection credentials at start-up: from OpenBao through AppRole, or from plain settings.

Platform convention: AppRole auth mounted at `approle` in the root namespace (role `psra-role`),
secrets in namespace `psra`, KV v2 mount `kv`, paths `database/credentials` (username, password,
host, port, database) and `database/redis-password` (password). Secret values are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import hvac
from sqlalchemy.engine import URL, make_url

from app.settings import Settings

log = logging.getLogger(__name__)


class SecretsError(RuntimeError):
    """OpenBao could not provide the service's credentials; the message names path, not values."""


@dataclass(frozen=True)
class Connections:
    database_url: URL
    redis_url: str | None

    def __repr__(self) -> str:
        return f"Connections(database={self.database_url!r}, redis={'set' if self.redis_url else 'in-process'})"


def resolve_connections(settings: Settings) -> Connections:
    if settings.openbao_addr:
        return _from_openbao(settings)
    if settings.database_url:
        database = make_url(settings.database_url.get_secret_value())
    else:
        database = URL.create("sqlite+pysqlite", database=str(settings.sqlite_path))
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    return Connections(database, redis_url)


def _from_openbao(settings: Settings) -> Connections:
    verify: bool | str = str(settings.openbao_ca_cert) if settings.openbao_ca_cert else True
    try:
        role_id = settings.openbao_role_id_file.read_text(encoding="utf-8").strip()
        secret_id = settings.openbao_secret_id_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SecretsError(f"cannot read the AppRole credentials file {error.filename}: {error.strerror}") from None
    try:
        login = hvac.Client(url=settings.openbao_addr, verify=verify).auth.approle.login(
            role_id=role_id, secret_id=secret_id, mount_point=settings.openbao_approle_mount
        )
        client = hvac.Client(url=settings.openbao_addr, token=login["auth"]["client_token"], namespace=settings.openbao_namespace, verify=verify)
        database = _read(client, settings, settings.openbao_database_secret)
        redis = _read(client, settings, settings.openbao_redis_secret)
    except hvac.exceptions.VaultError as error:
        raise SecretsError(f"OpenBao refused the AppRole login or a secret read ({type(error).__name__})") from None
    missing = {"username", "password", "host", "port", "database"} - database.keys()
    if missing or "password" not in redis:
        raise SecretsError(f"OpenBao secrets lack keys: {sorted(missing) or ['password (redis)']}")
    url = URL.create(
        settings.database_driver,
        username=database["username"],
        password=database["password"],
        host=database["host"],
        port=int(database["port"]),
        database=database["database"],
    )
    redis_url = f"redis://:{quote(redis['password'], safe='')}@{settings.redis_host}:{settings.redis_port}/{settings.redis_db}"
    log.info(
        "credentials read from OpenBao namespace %s, mount %s, paths %s and %s",
        settings.openbao_namespace,
        settings.openbao_kv_mount,
        settings.openbao_database_secret,
        settings.openbao_redis_secret,
    )
    return Connections(url, redis_url)


def _read(client: hvac.Client, settings: Settings, path: str) -> dict[str, str]:
    response = client.secrets.kv.v2.read_secret_version(path=path, mount_point=settings.openbao_kv_mount, raise_on_deleted_version=True)
    return {key: str(value) for key, value in response["data"]["data"].items()}
