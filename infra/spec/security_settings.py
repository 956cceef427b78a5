"""Operator settings of the security stack that are not part of the platform description.

They live in the Pulumi config namespace `security` (not `platform`, whose keys describe the
platform): where the Pulumi providers reach the Keycloak admin API and OpenBao, and the
provisioner's AppRole login that `cli.py bootstrap openbao` stores as config secrets.

The admin API and OpenBao are never routed publicly for the providers; by default they are
reached on their fixed container addresses, which works where Pulumi runs on the Docker host;
from elsewhere, open an SSH tunnel and point `security:keycloakAdminUrl` /
`security:openbaoAddress` at its local ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.spec.models import PlatformSpec, ServiceSpec

CONFIG_NAMESPACE = "security"
KEYCLOAK_ADMIN_URL_KEY = "keycloakAdminUrl"
OPENBAO_ADDRESS_KEY = "openbaoAddress"
PROVISIONER_ROLE_ID_KEY = "openbaoProvisionerRoleId"
PROVISIONER_SECRET_ID_KEY = "openbaoProvisionerSecretId"
KEYCLOAK_SERVICE = "keycloak"
OPENBAO_SERVICE = "openbao"
KEYCLOAK_HTTP_PORT = 8080
OPENBAO_PORT = 8200


@dataclass(frozen=True)
class SecurityEndpoints:
    keycloak_admin_url: str
    openbao_address: str


def _service(spec: PlatformSpec, name: str) -> ServiceSpec:
    for service in spec.services:
        if service.name == name:
            return service
    raise KeyError(f"the spec has no {name!r} service")


def _fixed_address(service: ServiceSpec) -> str:
    if not service.ipv4_addresses:
        raise ValueError(f"service {service.name!r} has no fixed address (ipv4_addresses) to reach it on")
    return str(next(iter(service.ipv4_addresses.values())))


def default_endpoints(spec: PlatformSpec) -> SecurityEndpoints:
    """The fixed container addresses of Keycloak and OpenBao (reachable from the Docker host)."""
    return SecurityEndpoints(
        keycloak_admin_url=f"http://{_fixed_address(_service(spec, KEYCLOAK_SERVICE))}:{KEYCLOAK_HTTP_PORT}",
        openbao_address=f"http://{_fixed_address(_service(spec, OPENBAO_SERVICE))}:{OPENBAO_PORT}",
    )


def endpoints(spec: PlatformSpec, config: pulumi.Config | None = None) -> SecurityEndpoints:
    """The defaults, overridden by `security:keycloakAdminUrl` / `security:openbaoAddress`."""
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    defaults = default_endpoints(spec)
    return SecurityEndpoints(
        keycloak_admin_url=config.get(KEYCLOAK_ADMIN_URL_KEY) or defaults.keycloak_admin_url,
        openbao_address=config.get(OPENBAO_ADDRESS_KEY) or defaults.openbao_address,
    )


@dataclass(frozen=True)
class ProvisionerCredentials:
    """The AppRole login `bootstrap openbao` stored, as secret Outputs."""

    role_id: pulumi.Output[str]
    secret_id: pulumi.Output[str]


def provisioner_credentials(config: pulumi.Config | None = None) -> ProvisionerCredentials | None:
    """None before bootstrap (or when only one of the two is set)."""
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    role_id, secret_id = config.get_secret(PROVISIONER_ROLE_ID_KEY), config.get_secret(PROVISIONER_SECRET_ID_KEY)
    if role_id is None or secret_id is None:
        return None
    return ProvisionerCredentials(role_id=role_id, secret_id=secret_id)
