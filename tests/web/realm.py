"""A Keycloak realm of its own for the browser tests (so they never collide with tests/app's `sevensa`
realm in one pytest session): realm roles psra-user/psra-admin, a TEST-ONLY direct-grant client whose
access tokens carry audience psra-api, and three users. Tokens are issued and signed by Keycloak."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.app.platform import create_test_user

REALM = "psra-web-tests"
AUDIENCE = "psra-api"
CLIENT = "psra-web-tests"
USERS = {"web-alice": ["psra-user"], "web-bob": ["psra-user"], "web-carol": ["psra-admin"]}


@dataclass(frozen=True)
class WebRealm:
    base_url: str
    password: str
    client_secret: str

    def token(self, username: str) -> str:
        response = httpx.post(
            f"{self.base_url}/realms/{REALM}/protocol/openid-connect/token",
            data={"grant_type": "password", "client_id": CLIENT, "client_secret": self.client_secret, "username": username, "password": self.password, "scope": "openid"},
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def provision_web_realm(keycloak_server: Any) -> WebRealm:
    admin = keycloak_server.admin()
    admin.create_realm(payload={"realm": REALM, "enabled": True}, skip_exists=True)
    admin.change_current_realm(REALM)
    for role in ("psra-user", "psra-admin"):
        admin.create_realm_role({"name": role}, skip_exists=True)
    password, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    audience = {
        "name": "audience-psra-api",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {"included.custom.audience": AUDIENCE, "access.token.claim": "true", "id.token.claim": "false"},
    }
    admin.create_client(
        {
            "clientId": CLIENT,
            "enabled": True,
            "publicClient": False,
            "secret": secret,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
            "protocolMappers": [audience],
            "attributes": {"access.token.lifespan": "900"},
        },
        skip_exists=False,
    )
    for username, roles in USERS.items():
        create_test_user(admin, username, roles, password)
    return WebRealm(keycloak_server.base_url, password, secret)
