"""The Keycloak realm as code: roles, groups, clients, protocol mappers, hardening, OTP, events.

Everything comes from `KeycloakRealmSpec`; the security invariants KC-01..KC-12 are built in
rather than configurable away: confidential clients with the authorization-code flow and
PKCE S256 only, exact https redirect URIs, no implicit flow or password grant, scope-limited
tokens (fullScopeAllowed off), brute-force detection, a password policy, short tokens with
refresh-token rotation, OTP for the groups that require it, and login/admin events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_keycloak as keycloak
import pulumi_random as random

from infra.spec.models import KeycloakClientSpec, KeycloakGroupSpec, KeycloakRealmSpec

CLIENT_SECRET_LENGTH = 48
OTP_AUTHENTICATOR = "auth-otp-form"
ROLE_CONDITION = "conditional-user-role"


class RealmSpecError(ValueError):
    """The realm spec cannot be expressed safely in Keycloak."""


@dataclass(frozen=True)
class KeycloakRealmArgs:
    realm: KeycloakRealmSpec
    client_secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secrets another stack already holds (e.g. oauth2-proxy's); the others are generated."""


def duration(seconds: int) -> str:
    """A Go duration string, the format of the provider's lifespan fields."""
    return f"{seconds}s"


def password_policy(realm: KeycloakRealmSpec) -> str:
    """KC-02: length, not the username or e-mail, no reuse of recent passwords."""
    hardening = realm.hardening
    return (
        f"length({hardening.password_min_length}) and notUsername and notEmail"
        f" and passwordHistory({hardening.password_history})"
    )


def redirect_uris(client: KeycloakClientSpec) -> list[str]:
    """KC-04: exact https URIs, one per host and callback path; never a wildcard."""
    uris = [f"https://{host}{path}" for host in client.redirect_hosts for path in client.redirect_paths]
    for uri in uris:
        if "*" in uri:
            raise RealmSpecError(f"client {client.client_id!r}: redirect URI {uri!r} contains a wildcard")
    return uris


def web_origins(client: KeycloakClientSpec) -> list[str]:
    return [f"https://{host}" for host in client.redirect_hosts]


def otp_condition_roles(realm: KeycloakRealmSpec) -> dict[str, str]:
    """OTP group -> the realm role whose holders must present OTP.

    Keycloak 26 conditions flows on roles, not groups: each OTP group needs a role that no
    group without OTP grants (else OTP would leak onto that group, or be skippable).
    """
    relaxed = {role for group in realm.groups if not group.otp_required for role in group.roles}
    chosen: dict[str, str] = {}
    for group in realm.groups:
        if not group.otp_required:
            continue
        exclusive = [role for role in group.roles if role not in relaxed]
        if not exclusive:
            raise RealmSpecError(
                f"group {group.name!r} requires OTP but all its roles are also granted by groups without OTP"
            )
        chosen[group.name] = exclusive[0]
    return chosen


def _slug(text: str) -> str:
    return text.lower().replace(" ", "-")


class KeycloakRealm(pulumi.ComponentResource):
    """Realm `spec.realm` with its roles, groups, clients (secrets generated), flow and events."""

    realm: keycloak.Realm
    roles: dict[str, keycloak.Role]
    groups: dict[str, keycloak.Group]
    clients: dict[str, keycloak.openid.Client]
    client_secrets: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: KeycloakRealmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:KeycloakRealm", name, None, opts)
        spec = args.realm
        child = pulumi.ResourceOptions(parent=self)
        self.realm = self._realm(name, spec, child)
        realm_id = self.realm.id
        self.roles = {
            role: keycloak.Role(f"{name}-role-{role}", realm_id=realm_id, name=role, opts=child) for role in spec.roles
        }
        self.groups = {group.name: self._group(name, realm_id, group, child) for group in spec.groups}
        self.client_secrets = {}
        self.clients = {
            client.client_id: self._client(name, realm_id, client, args.client_secrets.get(client.client_id), child)
            for client in spec.clients
        }
        self._browser_flow(name, spec, realm_id, child)
        keycloak.RealmEvents(
            f"{name}-events",
            realm_id=realm_id,
            events_enabled=True,
            events_expiration=spec.hardening.events_expiration_seconds,
            admin_events_enabled=True,
            # details would put request bodies (client secrets, credentials) into the event store
            admin_events_details_enabled=False,
            events_listeners=["jboss-logging"],
            opts=child,
        )
        self.register_outputs(
            {
                "realm": self.realm.realm,
                "clients": {client_id: client.client_id for client_id, client in self.clients.items()},
            }
        )

    def _realm(self, name: str, spec: KeycloakRealmSpec, child: pulumi.ResourceOptions) -> keycloak.Realm:
        hardening = spec.hardening
        return keycloak.Realm(
            f"{name}-realm",
            realm=spec.realm,
            display_name=spec.display_name,
            enabled=True,
            ssl_required=hardening.ssl_required,
            registration_allowed=False,
            edit_username_allowed=False,
            duplicate_emails_allowed=False,
            remember_me=False,
            password_policy=password_policy(spec),
            access_token_lifespan=duration(hardening.access_token_lifespan_seconds),
            sso_session_idle_timeout=duration(hardening.sso_session_idle_seconds),
            sso_session_max_lifespan=duration(hardening.sso_session_max_seconds),
            offline_session_max_lifespan_enabled=True,
            offline_session_max_lifespan=duration(hardening.sso_session_max_seconds),
            revoke_refresh_token=True,
            refresh_token_max_reuse=0,
            otp_policy=keycloak.RealmOtpPolicyArgs(type="totp", algorithm="HmacSHA1", digits=6, period=30, look_ahead_window=1),
            security_defenses=keycloak.RealmSecurityDefensesArgs(
                brute_force_detection=keycloak.RealmSecurityDefensesBruteForceDetectionArgs(
                    permanent_lockout=False,
                    max_login_failures=hardening.max_login_failures,
                    wait_increment_seconds=60,
                    max_failure_wait_seconds=900,
                    failure_reset_time_seconds=43_200,
                    quick_login_check_milli_seconds=1000,
                    minimum_quick_login_wait_seconds=60,
                ),
                headers=keycloak.RealmSecurityDefensesHeadersArgs(
                    x_frame_options="SAMEORIGIN",
                    content_security_policy="frame-src 'self'; frame-ancestors 'self'; object-src 'none';",
                    x_content_type_options="nosniff",
                    x_robots_tag="none",
                    referrer_policy="no-referrer",
                    strict_transport_security="max-age=31536000; includeSubDomains",
                ),
            ),
            opts=child,
        )

    def _group(
        self, name: str, realm_id: pulumi.Output[str], group: KeycloakGroupSpec, child: pulumi.ResourceOptions
    ) -> keycloak.Group:
        slug = _slug(group.name)
        created = keycloak.Group(f"{name}-group-{slug}", realm_id=realm_id, name=group.name, opts=child)
        keycloak.GroupRoles(
            f"{name}-group-{slug}-roles",
            realm_id=realm_id,
            group_id=created.id,
            role_ids=[self.roles[role].id for role in group.roles],
            exhaustive=True,
            opts=child,
        )
        return created

    def _client(
        self,
        name: str,
        realm_id: pulumi.Output[str],
        spec: KeycloakClientSpec,
        given_secret: pulumi.Input[str] | None,
        child: pulumi.ResourceOptions,
    ) -> keycloak.openid.Client:
        prefix = f"{name}-client-{spec.client_id}"
        if given_secret is None:
            given_secret = random.RandomPassword(f"{prefix}-secret", length=CLIENT_SECRET_LENGTH, special=False, opts=child).result
        secret = pulumi.Output.secret(given_secret)
        client = keycloak.openid.Client(
            prefix,
            realm_id=realm_id,
            client_id=spec.client_id,
            name=spec.client_id,
            description=spec.description,
            enabled=True,
            access_type="CONFIDENTIAL",
            client_secret=secret,
            standard_flow_enabled=True,
            pkce_code_challenge_method="S256",
            implicit_flow_enabled=False,
            direct_access_grants_enabled=False,
            service_accounts_enabled=False,
            oauth2_device_authorization_grant_enabled=False,
            full_scope_allowed=False,
            consent_required=False,
            valid_redirect_uris=redirect_uris(spec),
            valid_post_logout_redirect_uris=[f"https://{host}/" for host in spec.redirect_hosts],
            web_origins=web_origins(spec),
            opts=child,
        )
        self.client_secrets[spec.client_id] = secret
        for role in spec.roles:
            keycloak.GenericRoleMapper(
                f"{prefix}-scope-{role}", realm_id=realm_id, client_id=client.id, role_id=self.roles[role].id, opts=child
            )
        keycloak.openid.UserRealmRoleProtocolMapper(
            f"{prefix}-roles",
            realm_id=realm_id,
            client_id=client.id,
            name="realm roles",
            claim_name="roles",
            multivalued=True,
            add_to_access_token=True,
            add_to_id_token=True,
            add_to_userinfo=True,
            opts=child,
        )
        keycloak.openid.GroupMembershipProtocolMapper(
            f"{prefix}-groups",
            realm_id=realm_id,
            client_id=client.id,
            name="groups",
            claim_name="groups",
            full_path=False,
            add_to_access_token=True,
            add_to_id_token=True,
            add_to_userinfo=True,
            opts=child,
        )
        if spec.audience:
            keycloak.openid.AudienceProtocolMapper(
                f"{prefix}-audience",
                realm_id=realm_id,
                client_id=client.id,
                name=f"audience {spec.audience}",
                included_custom_audience=spec.audience,
                add_to_access_token=True,
                add_to_id_token=False,
                opts=child,
            )
        return client

    def _browser_flow(
        self, name: str, spec: KeycloakRealmSpec, realm_id: pulumi.Output[str], child: pulumi.ResourceOptions
    ) -> None:
        """Browser flow: SSO cookie, or username/password followed by OTP for holders of the
        roles that identify the OTP groups (KC-11). Users without OTP are made to enrol."""
        alias = f"{spec.realm}-browser"
        flow = keycloak.authentication.Flow(f"{name}-browser", realm_id=realm_id, alias=alias, opts=child)
        keycloak.authentication.Execution(
            f"{name}-browser-cookie",
            realm_id=realm_id,
            parent_flow_alias=flow.alias,
            authenticator="auth-cookie",
            requirement="ALTERNATIVE",
            priority=10,
            opts=child,
        )
        forms = keycloak.authentication.Subflow(
            f"{name}-browser-forms",
            realm_id=realm_id,
            parent_flow_alias=flow.alias,
            alias=f"{alias}-forms",
            provider_id="basic-flow",
            requirement="ALTERNATIVE",
            priority=20,
            opts=child,
        )
        password = keycloak.authentication.Execution(
            f"{name}-browser-password",
            realm_id=realm_id,
            parent_flow_alias=forms.alias,
            authenticator="auth-username-password-form",
            requirement="REQUIRED",
            priority=10,
            opts=child,
        )
        last: pulumi.Resource = password
        for index, (group, role) in enumerate(otp_condition_roles(spec).items()):
            slug = _slug(group)
            subflow = keycloak.authentication.Subflow(
                f"{name}-browser-otp-{slug}",
                realm_id=realm_id,
                parent_flow_alias=forms.alias,
                alias=f"{alias}-otp-{slug}",
                provider_id="basic-flow",
                requirement="CONDITIONAL",
                priority=20 + index,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[last])),
            )
            condition = keycloak.authentication.Execution(
                f"{name}-browser-otp-{slug}-condition",
                realm_id=realm_id,
                parent_flow_alias=subflow.alias,
                authenticator=ROLE_CONDITION,
                requirement="REQUIRED",
                priority=10,
                opts=child,
            )
            keycloak.authentication.ExecutionConfig(
                f"{name}-browser-otp-{slug}-condition-config",
                realm_id=realm_id,
                execution_id=condition.id,
                alias=f"{alias}-otp-{slug}-role",
                config={"condUserRole": role, "negate": "false"},
                opts=child,
            )
            keycloak.authentication.Execution(
                f"{name}-browser-otp-{slug}-form",
                realm_id=realm_id,
                parent_flow_alias=subflow.alias,
                authenticator=OTP_AUTHENTICATOR,
                requirement="REQUIRED",
                priority=20,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[condition])),
            )
            last = subflow
        keycloak.authentication.Bindings(
            f"{name}-browser-binding",
            realm_id=realm_id,
            browser_flow=flow.alias,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[last])),
        )
