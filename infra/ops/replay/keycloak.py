"""Replay the plan's Keycloak resources through the Admin REST API.

Each pulumi-keycloak resource type is translated to the representation its provider sends
(python-keycloak for the calls). References between resources (realm, role, group, client,
execution ids) are resolved from the plan's ids to the ids Keycloak assigns. Every planned
input must be consumed by a translation. The only substitution: client secrets, which a
plan holds sealed; the caller gives them (the conformance tests choose them, the lab takes
its plan's own) and gets them back in `client_secrets`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keycloak import KeycloakAdmin

from infra.ops.replay.resources import (
    PlannedResource,
    UnhandledInput,
    planned,
    seconds,
)
from infra.plan.document import ExportedResource

ACCESS_TYPES = {"CONFIDENTIAL": {"publicClient": False, "bearerOnly": False}}


@dataclass
class AppliedKeycloak:
    realm: str = ""
    client_secrets: dict[str, str] = field(default_factory=dict)
    client_uuids: dict[str, str] = field(default_factory=dict)
    group_ids: dict[str, str] = field(default_factory=dict)
    realm_payload: dict[str, Any] = field(default_factory=dict)


class KeycloakApplier:
    def __init__(self, admin: KeycloakAdmin, client_secret: Callable[[str], str]) -> None:
        self.master = admin
        self.client_secret = client_secret
        self.ids: dict[str, str] = {}
        self.roles_by_id: dict[str, dict[str, Any]] = {}
        self.result = AppliedKeycloak()
        self.admin: KeycloakAdmin | None = None

    def apply(self, document: dict[str, Any], resources: list[ExportedResource]) -> AppliedKeycloak:
        for item in planned(document, resources, "keycloak:"):
            handler = HANDLERS.get(item.type)
            if handler is None:
                raise UnhandledInput(f"{item.resource.urn}: no applier for type {item.type}")
            handler(self, item)
            item.check_consumed()
        return self.result

    def ref(self, item: PlannedResource, key: str) -> str:
        planned_id = item.require(key)
        if planned_id not in self.ids:
            raise UnhandledInput(f"{item.resource.urn}: {key} refers to {planned_id!r}, which was not applied yet")
        return self.ids[planned_id]

    def realm_admin(self, item: PlannedResource) -> KeycloakAdmin:
        realm = self.ref(item, "realmId")
        assert self.admin is not None and realm == self.result.realm
        return self.admin

    # -- handlers ---------------------------------------------------------------------
    def realm(self, item: PlannedResource) -> None:
        defenses = item.require("securityDefenses")
        brute, headers = defenses.pop("bruteForceDetection"), defenses.pop("headers")
        if defenses:
            raise UnhandledInput(f"securityDefenses keys not applied: {sorted(defenses)}")
        otp = item.require("otpPolicy")
        payload = {
            "realm": item.require("realm"),
            "displayName": item.require("displayName"),
            "enabled": item.require("enabled"),
            "sslRequired": item.require("sslRequired"),
            "registrationAllowed": item.require("registrationAllowed"),
            "editUsernameAllowed": item.require("editUsernameAllowed"),
            "duplicateEmailsAllowed": item.require("duplicateEmailsAllowed"),
            "rememberMe": item.require("rememberMe"),
            "passwordPolicy": item.require("passwordPolicy"),
            "accessTokenLifespan": seconds(item.require("accessTokenLifespan")),
            "ssoSessionIdleTimeout": seconds(item.require("ssoSessionIdleTimeout")),
            "ssoSessionMaxLifespan": seconds(item.require("ssoSessionMaxLifespan")),
            "offlineSessionMaxLifespanEnabled": item.require("offlineSessionMaxLifespanEnabled"),
            "offlineSessionMaxLifespan": seconds(item.require("offlineSessionMaxLifespan")),
            "revokeRefreshToken": item.require("revokeRefreshToken"),
            "refreshTokenMaxReuse": item.require("refreshTokenMaxReuse"),
            "otpPolicyType": otp.pop("type"),
            "otpPolicyAlgorithm": otp.pop("algorithm"),
            "otpPolicyDigits": otp.pop("digits"),
            "otpPolicyPeriod": otp.pop("period"),
            "otpPolicyLookAheadWindow": otp.pop("lookAheadWindow"),
            "bruteForceProtected": True,
            "permanentLockout": brute.pop("permanentLockout"),
            "failureFactor": brute.pop("maxLoginFailures"),
            "waitIncrementSeconds": brute.pop("waitIncrementSeconds"),
            "maxFailureWaitSeconds": brute.pop("maxFailureWaitSeconds"),
            "maxDeltaTimeSeconds": brute.pop("failureResetTimeSeconds"),
            "quickLoginCheckMilliSeconds": brute.pop("quickLoginCheckMilliSeconds"),
            "minimumQuickLoginWaitSeconds": brute.pop("minimumQuickLoginWaitSeconds"),
            "browserSecurityHeaders": {
                "xFrameOptions": headers.pop("xFrameOptions"),
                "contentSecurityPolicy": headers.pop("contentSecurityPolicy"),
                "xContentTypeOptions": headers.pop("xContentTypeOptions"),
                "xRobotsTag": headers.pop("xRobotsTag"),
                "referrerPolicy": headers.pop("referrerPolicy"),
                "strictTransportSecurity": headers.pop("strictTransportSecurity"),
            },
        }
        left = {**otp, **brute, **headers}
        if left:
            raise UnhandledInput(f"realm settings not applied: {sorted(left)}")
        self.master.create_realm(payload)
        self.result.realm = payload["realm"]
        self.result.realm_payload = payload
        self.ids[item.planned_id] = payload["realm"]
        self.master.change_current_realm(payload["realm"])  # logged in to master, managing the new realm
        self.admin = self.master

    def role(self, item: PlannedResource) -> None:
        admin, name = self.realm_admin(item), item.require("name")
        admin.create_realm_role({"name": name})
        role = admin.get_realm_role(name)
        self.ids[item.planned_id] = role["id"]
        self.roles_by_id[role["id"]] = role

    def group(self, item: PlannedResource) -> None:
        admin, name = self.realm_admin(item), item.require("name")
        group_id = admin.create_group({"name": name})
        self.ids[item.planned_id] = group_id
        self.result.group_ids[name] = group_id

    def group_roles(self, item: PlannedResource) -> None:
        admin = self.realm_admin(item)
        if item.require("exhaustive") is not True:
            raise UnhandledInput("only exhaustive group role mappings are applied")
        roles = [self.roles_by_id[self.ids[role_id]] for role_id in item.require("roleIds")]
        admin.assign_group_realm_roles(self.ref(item, "groupId"), roles)

    def client(self, item: PlannedResource) -> None:
        admin, client_id = self.realm_admin(item), item.require("clientId")
        secret = item.secret("clientSecret", lambda *_: self.client_secret(client_id))
        access = ACCESS_TYPES.get(item.require("accessType"))
        if access is None:
            raise UnhandledInput(f"access type {item.get('accessType')!r} not applied")
        payload = {
            "clientId": client_id,
            "name": item.require("name"),
            "description": item.require("description"),
            "enabled": item.require("enabled"),
            "protocol": "openid-connect",
            "clientAuthenticatorType": "client-secret",
            "secret": secret,
            **access,
            "standardFlowEnabled": item.require("standardFlowEnabled"),
            "implicitFlowEnabled": item.require("implicitFlowEnabled"),
            "directAccessGrantsEnabled": item.require("directAccessGrantsEnabled"),
            "serviceAccountsEnabled": item.require("serviceAccountsEnabled"),
            "fullScopeAllowed": item.require("fullScopeAllowed"),
            "consentRequired": item.require("consentRequired"),
            "redirectUris": item.require("validRedirectUris"),
            "webOrigins": item.require("webOrigins"),
            "attributes": {
                "pkce.code.challenge.method": item.require("pkceCodeChallengeMethod"),
                "oauth2.device.authorization.grant.enabled": str(item.require("oauth2DeviceAuthorizationGrantEnabled")).lower(),
                "post.logout.redirect.uris": "##".join(item.require("validPostLogoutRedirectUris")),
            },
        }
        uuid = admin.create_client(payload)
        self.ids[item.planned_id] = uuid
        self.result.client_secrets[client_id] = secret
        self.result.client_uuids[client_id] = uuid

    def scope_mapping(self, item: PlannedResource) -> None:
        admin = self.realm_admin(item)
        role = self.roles_by_id[self.ref(item, "roleId")]
        admin.assign_realm_roles_to_client_scope(self.ref(item, "clientId"), [role])

    def _mapper(self, item: PlannedResource, mapper: str, config: dict[str, str]) -> None:
        admin = self.realm_admin(item)
        admin.add_mapper_to_client(
            self.ref(item, "clientId"),
            {"name": item.require("name"), "protocol": "openid-connect", "protocolMapper": mapper, "config": config},
        )

    def _token_claims(self, item: PlannedResource) -> dict[str, str]:
        claims = {"access.token.claim": item.require("addToAccessToken"), "id.token.claim": item.require("addToIdToken")}
        if "addToUserinfo" in item.resource.inputs:
            claims["userinfo.token.claim"] = item.require("addToUserinfo")
        return {key: str(value).lower() for key, value in claims.items()}

    def realm_role_mapper(self, item: PlannedResource) -> None:
        config = {
            "claim.name": item.require("claimName"),
            "multivalued": str(item.require("multivalued")).lower(),
            "jsonType.label": "String",
        }
        self._mapper(item, "oidc-usermodel-realm-role-mapper", config | self._token_claims(item))

    def group_mapper(self, item: PlannedResource) -> None:
        config = {"claim.name": item.require("claimName"), "full.path": str(item.require("fullPath")).lower()}
        self._mapper(item, "oidc-group-membership-mapper", config | self._token_claims(item))

    def audience_mapper(self, item: PlannedResource) -> None:
        config = {"included.custom.audience": item.require("includedCustomAudience")}
        self._mapper(item, "oidc-audience-mapper", config | self._token_claims(item))

    def events(self, item: PlannedResource) -> None:
        self.realm_admin(item).set_events(
            {
                "eventsEnabled": item.require("eventsEnabled"),
                "eventsExpiration": item.require("eventsExpiration"),
                "adminEventsEnabled": item.require("adminEventsEnabled"),
                "adminEventsDetailsEnabled": item.require("adminEventsDetailsEnabled"),
                "eventsListeners": item.require("eventsListeners"),
            }
        )

    def flow(self, item: PlannedResource) -> None:
        admin, alias = self.realm_admin(item), item.require("alias")
        admin.create_authentication_flow({"alias": alias, "providerId": "basic-flow", "topLevel": True, "builtIn": False})
        self.ids[item.planned_id] = alias

    def _set_requirement(self, admin: KeycloakAdmin, parent: str, match: Callable[[dict[str, Any]], bool], item: PlannedResource) -> str:
        executions = [e for e in admin.get_authentication_flow_executions(parent) if match(e)]
        if len(executions) != 1:
            raise UnhandledInput(f"{item.resource.urn}: expected one new execution in {parent!r}, found {len(executions)}")
        execution = executions[0]
        execution["requirement"] = item.require("requirement")
        execution["priority"] = item.require("priority")
        admin.update_authentication_flow_executions(execution, parent)
        return execution["id"]

    def execution(self, item: PlannedResource) -> None:
        admin, parent, authenticator = self.realm_admin(item), item.require("parentFlowAlias"), item.require("authenticator")
        known = {e["id"] for e in admin.get_authentication_flow_executions(parent)}
        admin.create_authentication_flow_execution({"provider": authenticator}, parent)
        self.ids[item.planned_id] = self._set_requirement(
            admin, parent, lambda e: e["id"] not in known and e.get("providerId") == authenticator, item
        )

    def subflow(self, item: PlannedResource) -> None:
        admin, parent, alias = self.realm_admin(item), item.require("parentFlowAlias"), item.require("alias")
        admin.create_authentication_flow_subflow(
            {"alias": alias, "type": item.require("providerId"), "provider": "registration-page-form", "description": alias}, parent
        )
        self._set_requirement(admin, parent, lambda e: e.get("displayName") == alias, item)
        self.ids[item.planned_id] = alias

    def execution_config(self, item: PlannedResource) -> None:
        admin = self.realm_admin(item)
        admin.create_execution_config(self.ref(item, "executionId"), {"alias": item.require("alias"), "config": item.require("config")})

    def bindings(self, item: PlannedResource) -> None:
        admin = self.realm_admin(item)
        admin.update_realm(self.result.realm, {"browserFlow": item.require("browserFlow")})


HANDLERS: dict[str, Callable[[KeycloakApplier, PlannedResource], None]] = {
    "keycloak:index/realm:Realm": KeycloakApplier.realm,
    "keycloak:index/role:Role": KeycloakApplier.role,
    "keycloak:index/group:Group": KeycloakApplier.group,
    "keycloak:index/groupRoles:GroupRoles": KeycloakApplier.group_roles,
    "keycloak:openid/client:Client": KeycloakApplier.client,
    "keycloak:index/genericRoleMapper:GenericRoleMapper": KeycloakApplier.scope_mapping,
    "keycloak:openid/userRealmRoleProtocolMapper:UserRealmRoleProtocolMapper": KeycloakApplier.realm_role_mapper,
    "keycloak:openid/groupMembershipProtocolMapper:GroupMembershipProtocolMapper": KeycloakApplier.group_mapper,
    "keycloak:openid/audienceProtocolMapper:AudienceProtocolMapper": KeycloakApplier.audience_mapper,
    "keycloak:index/realmEvents:RealmEvents": KeycloakApplier.events,
    "keycloak:authentication/flow:Flow": KeycloakApplier.flow,
    "keycloak:authentication/execution:Execution": KeycloakApplier.execution,
    "keycloak:authentication/subflow:Subflow": KeycloakApplier.subflow,
    "keycloak:authentication/executionConfig:ExecutionConfig": KeycloakApplier.execution_config,
    "keycloak:authentication/bindings:Bindings": KeycloakApplier.bindings,
}
