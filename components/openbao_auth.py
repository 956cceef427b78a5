"""OpenBao auth methods (root namespace): AppRole per tenant, OIDC/JWT against Keycloak,
userpass for break-glass.

AppRole tokens and secret ids are bound to the fixed /32 addresses the role's services have
on the networks they share with OpenBao (BAO-05). Operators log in through Keycloak's
`bao-oidc` client; only members of the admin group get a token, with the `admin` policy
(BAO-06). Break-glass is one userpass account with a generated password, for when Keycloak
itself is down.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_random as random
import pulumi_vault as vault

from components.openbao_namespaces import ROOT, OpenBaoNamespaces
from components.openbao_policies import OpenBaoPolicies
from infra.spec.models import AppRoleSpec, ServiceSpec
from infra.spec.openbao_policy import (
    ADMIN_POLICY,
    APPROLE_PATH,
    OIDC_PATH,
    USERPASS_PATH,
)

OIDC_ROLE = "admin"
JWT_ROLE = "admin-jwt"
BREAK_GLASS_USER = "breakglass"
ADMIN_TOKEN_TTL_SECONDS = 3600
ADMIN_TOKEN_MAX_TTL_SECONDS = 14_400


@dataclass(frozen=True)
class KeycloakIssuer:
    """The realm OpenBao trusts: its issuer URL and the `bao-oidc` client.

    OpenBao fetches the issuer's discovery document when its OIDC method is written, so that
    write must wait for the realm (`realm`: its resources) and for the issuer to answer
    publicly (`discovery_url`: a readiness-gated Output of `issuer_url`)."""

    issuer_url: str
    discovery_url: pulumi.Input[str]
    client_id: str
    client_secret: pulumi.Input[str]
    redirect_uris: tuple[str, ...]
    admin_group: str
    realm: pulumi.Resource
    ca_pem: str | None = None
    """The root the issuer's certificate is under, when no public trust store holds it (`acmeIssuerCertificate`)."""


@dataclass(frozen=True)
class OpenBaoAuthArgs:
    approles: tuple[AppRoleSpec, ...]
    services: tuple[ServiceSpec, ...]
    openbao_networks: tuple[str, ...]
    issuer: KeycloakIssuer
    namespaces: OpenBaoNamespaces
    policies: OpenBaoPolicies


def approle_cidrs(role: AppRoleSpec, services: tuple[ServiceSpec, ...], openbao_networks: tuple[str, ...]) -> list[str]:
    """The /32 of every address the role's services have on a network OpenBao is on."""
    by_name = {service.name: service for service in services}
    cidrs: list[str] = []
    for name in role.services:
        addresses = [
            address for network, address in by_name[name].ipv4_addresses.items() if network in openbao_networks
        ]
        if not addresses:
            raise ValueError(
                f"AppRole {role.name!r}: service {name!r} has no fixed address on {', '.join(openbao_networks)}; "
                "set ipv4_addresses so its tokens can be bound to it"
            )
        cidrs.extend(str(ipaddress.IPv4Network(address)) for address in addresses)
    return cidrs


class OpenBaoAuth(pulumi.ComponentResource):
    """`approle_credentials[role]` = `{"role_id", "secret_id"}` (secret) for the role's services."""

    approle_roles: dict[str, vault.approle.AuthBackendRole]
    approle_credentials: dict[str, dict[str, pulumi.Output[str]]]
    break_glass_password: pulumi.Output[str]

    def __init__(self, name: str, args: OpenBaoAuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:OpenBaoAuth", name, None, opts)
        ns = args.namespaces
        approle = vault.AuthBackend(
            f"{name}-approle", type="approle", path=APPROLE_PATH, description="services (one role per tenant)", opts=ns.opts(ROOT, self)
        )
        self.approle_roles = {}
        self.approle_credentials = {}
        for role in args.approles:
            cidrs = approle_cidrs(role, args.services, args.openbao_networks)
            created = self.approle_roles[role.name] = vault.approle.AuthBackendRole(
                f"{name}-approle-{role.name}",
                backend=approle.path,
                role_name=role.name,
                token_policies=[args.policies.policies[role.name].name],
                token_ttl=role.token_ttl_seconds,
                token_max_ttl=role.token_max_ttl_seconds,
                token_type="service",
                token_bound_cidrs=cidrs,
                secret_id_bound_cidrs=cidrs,
                secret_id_ttl=role.secret_id_ttl_seconds,
                secret_id_num_uses=role.secret_id_num_uses,
                bind_secret_id=True,
                opts=ns.opts(ROOT, self),
            )
            # the first secret id, bound like the role; rotation issues the next ones (seed: 90 days)
            secret_id = vault.approle.AuthBackendRoleSecretId(
                f"{name}-approle-{role.name}-secret-id",
                backend=approle.path,
                role_name=created.role_name,
                cidr_lists=cidrs,
                token_bound_cidrs=cidrs,
                opts=ns.opts(ROOT, self),
            )
            self.approle_credentials[role.name] = {
                "role_id": created.role_id,
                "secret_id": pulumi.Output.secret(secret_id.secret_id),
            }
        self._oidc(name, args)
        self.break_glass_password = self._userpass(name, args)
        self.register_outputs({"approles": sorted(self.approle_roles)})

    def _oidc(self, name: str, args: OpenBaoAuthArgs) -> None:
        issuer, ns = args.issuer, args.namespaces
        backend = vault.jwt.AuthBackend(
            f"{name}-oidc",
            type="oidc",
            path=OIDC_PATH,
            description="operators, through Keycloak",
            oidc_discovery_url=issuer.discovery_url,
            bound_issuer=issuer.issuer_url,
            oidc_client_id=issuer.client_id,
            oidc_client_secret=pulumi.Output.secret(issuer.client_secret),
            default_role=OIDC_ROLE,
            oidc_discovery_ca_pem=issuer.ca_pem,
            opts=ns.opts(ROOT, self, depends_on=[issuer.realm]),
        )
        admin = args.policies.policies[ADMIN_POLICY].name
        common = dict(
            backend=backend.path,
            user_claim="sub",
            groups_claim="groups",
            bound_audiences=[issuer.client_id],
            bound_claims={"groups": issuer.admin_group},
            token_policies=[admin],
            token_no_default_policy=False,
            token_ttl=ADMIN_TOKEN_TTL_SECONDS,
            token_max_ttl=ADMIN_TOKEN_MAX_TTL_SECONDS,
            token_type="service",
        )
        vault.jwt.AuthBackendRole(
            f"{name}-oidc-{OIDC_ROLE}",
            role_name=OIDC_ROLE,
            role_type="oidc",
            allowed_redirect_uris=list(issuer.redirect_uris),
            oidc_scopes=["openid"],
            opts=ns.opts(ROOT, self),
            **common,
        )
        vault.jwt.AuthBackendRole(
            f"{name}-oidc-{JWT_ROLE}", role_name=JWT_ROLE, role_type="jwt", opts=ns.opts(ROOT, self), **common
        )

    def _userpass(self, name: str, args: OpenBaoAuthArgs) -> pulumi.Output[str]:
        ns = args.namespaces
        backend = vault.AuthBackend(
            f"{name}-userpass", type="userpass", path=USERPASS_PATH, description="break-glass only", opts=ns.opts(ROOT, self)
        )
        password = random.RandomPassword(f"{name}-{BREAK_GLASS_USER}-password", length=40, special=False, opts=pulumi.ResourceOptions(parent=self))
        vault.UserpassAuthBackendUser(
            f"{name}-{BREAK_GLASS_USER}",
            mount=backend.path,
            username=BREAK_GLASS_USER,
            password_wo=password.result,
            password_wo_version=1,
            token_policies=[args.policies.policies[ADMIN_POLICY].name],
            token_ttl=ADMIN_TOKEN_TTL_SECONDS,
            token_max_ttl=ADMIN_TOKEN_MAX_TTL_SECONDS,
            opts=ns.opts(ROOT, self),
        )
        return pulumi.Output.secret(password.result)
