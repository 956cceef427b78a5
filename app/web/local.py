"""The local mode (`make web`): the web pages and the JSON API for one person on this computer, with no
Keycloak, on SQLite and an in-process cache. Every page says so in a banner; every request is answered as
the built-in local user, so the mode is refused on any address but 127.0.0.1 (at start, and for any
request from elsewhere should the server be bound wider by other means).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from app.api import auth
from app.security import Principal
from app.settings import Settings

LOOPBACK = "127.0.0.1"
LOCAL_SUBJECT = "local-mode-user"
LOCAL_USERNAME = "local user (local mode, no sign-in)"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LocalModeRefused(ValueError):
    """The local mode was asked for where it must not run."""


def local_principal(settings: Settings) -> Principal:
    """The built-in user: may calculate and also read the audit log (the one person using this copy)."""
    return Principal(subject=LOCAL_SUBJECT, username=LOCAL_USERNAME, email=None, roles=frozenset({settings.user_role, settings.admin_role}))


def check_local_settings(settings: Settings) -> None:
    configured = [name for name, value in (("PSRA_DATABASE_URL", settings.database_url), ("PSRA_REDIS_URL", settings.redis_url), ("PSRA_OPENBAO_ADDR", settings.openbao_addr)) if value]
    if configured:
        raise LocalModeRefused(f"the local mode runs on SQLite and an in-process cache only; unset {', '.join(configured)} or leave the local mode")


def check_bind_address(host: str) -> None:
    if host != LOOPBACK:
        raise LocalModeRefused(f"the local mode serves {LOOPBACK} only (it signs nobody in); refusing to bind to another address")


class LoopbackOnly:
    """ASGI middleware: answers 403 to any client that is not on 127.0.0.1."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and (client is None or client[0] != LOOPBACK):
            body = b"the local mode answers only on 127.0.0.1\n"
            await send({"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def install_local_mode(app: FastAPI, settings: Settings) -> None:
    """The API answers as the local user too (its token check replaced), and only to loopback clients."""
    check_local_settings(settings)
    principal = local_principal(settings)

    async def _local() -> Principal:
        return principal

    app.dependency_overrides[auth._principal] = _local
    app.add_middleware(LoopbackOnly)
