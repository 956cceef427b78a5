"""PostgreSQL, MySQL and Redis instances, each alone on its internal database network.

Credentials are generated with `pulumi_random` (secret results) and reach the server
only as uploaded secret files through the images' `*_FILE` conventions (PostgreSQL
`POSTGRES_PASSWORD_FILE`, MySQL `MYSQL_*PASSWORD_FILE`) or a secret config file (Redis
`requirepass`). Each instance runs as its image's unprivileged user on a read-only root.

PostgreSQL keeps the superuser (`postgres`) for administration and backups; the
application role is created by an init script as a non-superuser that owns only its
database. MySQL's entrypoint does the same with `MYSQL_USER`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.container import ContainerArgs, HardenedContainer
from infra.spec.models import DatastoreSpec, HealthcheckSpec, ServiceSpec, VolumeMount
from templates import render

SECRETS_DIR = "/run/secrets"
PASSWORD_LENGTH = 32
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Engine:
    """What differs between engines: where data lives, who runs it, how to probe it."""

    port: int
    data_path: str
    user: str
    tmpfs: tuple[str, ...]
    admin_user: str


ENGINES: dict[str, Engine] = {
    # uids/gids of the official images' service accounts
    "postgres": Engine(5432, "/var/lib/postgresql/data", "70:70", ("/tmp", "/var/run/postgresql"), "postgres"),
    "mysql": Engine(3306, "/var/lib/mysql", "999:999", ("/tmp", "/var/run/mysqld"), "root"),
    "redis": Engine(6379, "/data", "999:1000", ("/tmp",), "default"),
}


@dataclass(frozen=True)
class DatastoreCredentials:
    """How a client reaches one data store; passwords are Pulumi secrets.

    `user`/`password` are the application's; `admin_user`/`admin_password` the
    superuser's (what backups use). For Redis both are the single `default` user.
    """

    name: str
    engine: str
    host: str
    port: int
    database: str | None
    user: str
    password: pulumi.Output[str]
    admin_user: str
    admin_password: pulumi.Output[str]

    @property
    def url(self) -> pulumi.Output[str]:
        """A client URL with the application password (secret)."""
        scheme = {"postgres": "postgresql", "mysql": "mysql", "redis": "redis"}[self.engine]
        path = f"/{self.database}" if self.database else "/0"
        user = "" if self.engine == "redis" else self.user
        return pulumi.Output.concat(f"{scheme}://{user}:", self.password, f"@{self.host}:{self.port}{path}")


@dataclass(frozen=True)
class DatastoreArgs:
    """Args:
    store: the spec of the instance (engine, pinned image, network, volume, database, user, memory).
    networks: the platform networks by name.
    """

    store: DatastoreSpec
    networks: Mapping[str, docker.Network]


class Datastore(pulumi.ComponentResource):
    """One data store: its passwords, its hardened container and its named volume."""

    container: HardenedContainer
    credentials: DatastoreCredentials

    def __init__(self, name: str, args: DatastoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:Datastore", name, None, opts)
        store = args.store
        engine = ENGINES[store.engine]
        _check_identifiers(store)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-password", length=PASSWORD_LENGTH, special=False, opts=child).result
        admin = (
            password
            if store.engine == "redis"
            else random.RandomPassword(f"{name}-admin-password", length=PASSWORD_LENGTH, special=False, opts=child).result
        )
        env, secret_files, config_files, command = _engine_files(store, engine, password, admin)
        self.container = HardenedContainer(
            name,
            ContainerArgs(
                service=datastore_service(store),
                networks=args.networks,
                env=env,
                secret_files=secret_files,
                config_files=config_files,
                command=command,
            ),
            child,
        )
        self.credentials = DatastoreCredentials(
            name=store.name,
            engine=store.engine,
            host=store.name,
            port=engine.port,
            database=store.database,
            user=store.user or engine.admin_user,
            password=pulumi.Output.secret(password),
            admin_user=engine.admin_user,
            admin_password=pulumi.Output.secret(admin),
        )
        self.register_outputs({"container": self.container.container.name, "host": store.name, "port": engine.port})


def datastore_service(store: DatastoreSpec) -> ServiceSpec:
    """The container spec of a data store: hardened like every service, engine specifics filled in."""
    engine = ENGINES[store.engine]
    return ServiceSpec(
        name=store.name,
        stack=store.stack,
        description=f"{store.engine} for the {store.stack} stack",
        image=store.image,
        networks=(store.network,),
        volumes=(VolumeMount(volume=store.volume, container_path=engine.data_path),),
        tmpfs=engine.tmpfs,
        user=engine.user,
        memory_mb=store.memory_mb,
        healthcheck=healthcheck(store),
    )


def healthcheck(store: DatastoreSpec) -> HealthcheckSpec:
    """Probes that pass only once the server accepts TCP connections (not during init)."""
    engine = ENGINES[store.engine]
    if store.engine == "postgres":
        test: tuple[str, ...] = ("CMD", "pg_isready", "-h", "127.0.0.1", "-p", str(engine.port), "-U", engine.admin_user, "-d", "postgres")
    elif store.engine == "mysql":
        test = ("CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--silent")
    else:
        test = ("CMD-SHELL", f"REDISCLI_AUTH=\"$(cat {SECRETS_DIR}/redis-password)\" redis-cli -h 127.0.0.1 ping | grep -q PONG")
    return HealthcheckSpec(test=test, interval_seconds=10, timeout_seconds=5, retries=5, start_period_seconds=30)


def _check_identifiers(store: DatastoreSpec) -> None:
    if store.engine == "redis":
        return
    for field in ("database", "user"):
        value = getattr(store, field)
        if value is None or not IDENTIFIER.match(value):
            raise ValueError(f"datastore {store.name!r}: {field} {value!r} must be a lower-case SQL identifier ([a-z_][a-z0-9_]*)")


def _engine_files(
    store: DatastoreSpec, engine: Engine, password: pulumi.Output[str], admin: pulumi.Output[str]
) -> tuple[dict[str, str], dict[str, pulumi.Input[str]], dict[str, str], list[str]]:
    """(env, secret files, config files, command) for one engine."""
    if store.engine == "postgres":
        app_file, admin_file = f"{SECRETS_DIR}/app-password", f"{SECRETS_DIR}/postgres-password"
        env = {"POSTGRES_USER": engine.admin_user, "POSTGRES_PASSWORD_FILE": admin_file}
        init = render("datastore/postgres-init.sh.j2", app_password_file=app_file, user=store.user, database=store.database)
        return env, {admin_file: admin, app_file: password}, {"/docker-entrypoint-initdb.d/10-app-role.sh": init}, []
    if store.engine == "mysql":
        root_file, app_file = f"{SECRETS_DIR}/mysql-root-password", f"{SECRETS_DIR}/mysql-password"
        env = {"MYSQL_DATABASE": str(store.database), "MYSQL_USER": str(store.user), "MYSQL_PASSWORD_FILE": app_file, "MYSQL_ROOT_PASSWORD_FILE": root_file}
        return env, {root_file: admin, app_file: password}, {}, []
    config_file = "/etc/redis/redis.conf"
    config = password.apply(
        lambda value: render("datastore/redis.conf.j2", store_name=store.name, port=engine.port, password=value, maxmemory_mb=store.memory_mb * 3 // 4)
    )
    return {}, {config_file: config, f"{SECRETS_DIR}/redis-password": password}, {}, ["redis-server", config_file]
