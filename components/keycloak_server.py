"""The Keycloak server container (a `HardenedContainer`): Keycloak 26 behind Traefik.

Reverse-proxy settings per Keycloak's guide (KC-09): hostname `https://auth.<domain>`,
`xforwarded` proxy headers trusted only from the network Traefik reaches Keycloak through,
plain HTTP inside that internal network, health and metrics on the management port 9000
(never routed; Traefik's router only exposes the realm paths, KC-08). The database password
and the bootstrap admin password are Pulumi secrets written into `keycloak.conf` (a secret
file): Keycloak reads `db-password` only from env or config, and env would be plaintext.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_random as random

from infra.spec.models import DatastoreSpec, HealthcheckSpec, ServiceSpec
from templates import render

CONFIG_FILE = "/opt/keycloak/conf/keycloak.conf"
HTTP_PORT = 8080
MANAGEMENT_PORT = 9000
ADMIN_USERNAME = "platform-admin"
POSTGRES_PORT = 5432
ADMIN_PASSWORD_LENGTH = 40
# The image has no curl or wget; bash's /dev/tcp asks the management port for readiness (bash by name:
# /bin/sh is not bash on every base, e.g. Debian's dash).
READY_PROBE = (
    f"exec 3<>/dev/tcp/127.0.0.1/{MANAGEMENT_PORT} && "
    "printf 'GET /health/ready HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && "
    "grep -q '\"UP\"' <&3"
)
HEALTHCHECK = HealthcheckSpec(
    test=("CMD", "bash", "-c", READY_PROBE), interval_seconds=15, timeout_seconds=5, retries=10, start_period_seconds=90
)


@dataclass(frozen=True)
class KeycloakSettings:
    """What Keycloak's configuration is made of (typed; secrets as Outputs)."""

    service: ServiceSpec
    database: DatastoreSpec
    domain: str
    trusted_proxies: str
    """CIDR Keycloak accepts X-Forwarded-* from: Traefik's fixed address on the proxy network."""
    admin_password: pulumi.Input[str]
    db_password: pulumi.Input[str]


def environment(settings: KeycloakSettings) -> dict[str, str]:
    """The non-secret settings, as `KC_*` environment variables."""
    database = settings.database
    if database.engine != "postgres" or not database.database or not database.user:
        raise ValueError(f"Keycloak needs a PostgreSQL data store with database and user; {database.name!r} is not one")
    return {
        "KC_DB": "postgres",
        "KC_DB_URL": f"jdbc:postgresql://{database.name}:{POSTGRES_PORT}/{database.database}",
        "KC_DB_USERNAME": database.user,
        "KC_HOSTNAME": f"https://auth.{settings.domain}",
        "KC_HOSTNAME_BACKCHANNEL_DYNAMIC": "false",
        "KC_HTTP_ENABLED": "true",
        "KC_HTTP_PORT": str(HTTP_PORT),
        "KC_PROXY_HEADERS": "xforwarded",
        "KC_PROXY_TRUSTED_ADDRESSES": settings.trusted_proxies,
        "KC_HEALTH_ENABLED": "true",
        "KC_METRICS_ENABLED": "true",
        "KC_HTTP_MANAGEMENT_PORT": str(MANAGEMENT_PORT),
        "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USERNAME,
        "KC_LOG": "console",
        "KC_LOG_CONSOLE_OUTPUT": "json",
    }


def _conf_value(value: str) -> str:
    """keycloak.conf is a properties file: a backslash would start an escape."""
    if "\n" in value or "\r" in value:
        raise ValueError("a keycloak.conf value cannot contain a line break")
    return value.replace("\\", "\\\\")


def config_text(db_password: str, admin_password: str) -> str:
    """The text of `keycloak.conf`."""
    return render("keycloak/keycloak.conf.j2", db_password=_conf_value(db_password), admin_password=_conf_value(admin_password))


def secret_config(settings: KeycloakSettings) -> pulumi.Output[str]:
    """`keycloak.conf` with the database and bootstrap admin passwords (a secret Output)."""
    return pulumi.Output.secret(
        pulumi.Output.all(settings.db_password, settings.admin_password).apply(lambda values: config_text(*values))
    )


def admin_password(name: str, opts: pulumi.ResourceOptions | None = None) -> pulumi.Output[str]:
    """The bootstrap admin's generated password (the Keycloak provider logs in with it)."""
    generated = random.RandomPassword(f"{name}-admin-password", length=ADMIN_PASSWORD_LENGTH, special=False, opts=opts)
    return pulumi.Output.secret(generated.result)


def container_fields(settings: KeycloakSettings) -> dict[str, Any]:
    """The Keycloak-specific `ContainerArgs` fields."""
    return {
        "env": environment(settings),
        "secret_files": {CONFIG_FILE: secret_config(settings)},
        # `start` re-augments for the postgres/health/metrics build options on first boot
        "command": ["start"],
        "healthcheck": HEALTHCHECK,
    }
