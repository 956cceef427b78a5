"""POST /v1/origin/calculations served below Starlette's routing and FastAPI's request handling.

The busiest route spent more of a worker's CPU in the framework's layers (exception and exit-stack
middleware, matching ~60 routes, the request handler's body and dependency machinery) than in the
engine. `HotCalculations` sits inside the metrics and body-limit middleware and answers exactly
`POST /v1/origin/calculations` with `Content-Type: application/json` itself, in the order the route
does: token (401/503), role and users row (403) before a byte of the body, the bounded body (413 from
BodyLimit), parse_json's refusals and the route's own body field's validation (422, same errors), then
the calculation. Its exceptions go through Starlette's ExceptionMiddleware with the app's handlers, so
every error response is the one the route gives. Anything else (another content type, an empty body,
an app whose principal is overridden, as the local mode's is) goes the framework's way; the route stays
registered there, so the OpenAPI document and every other path are unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, HTTPException, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect

from app.api.auth import resolve_caller, verified_principal
from app.api.body_limit import ASGIApp, Message, Receive, Scope, Send
from app.api.json_body import parse_json
from app.api.routes.calculations import PATH, create_calculation, created, router

JSON = b"application/json"


class HotCalculations:
    """Pure ASGI middleware; add it before (inside) BodyLimit and MetricsMiddleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._served: tuple[APIRoute, ASGIApp] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        app: FastAPI = scope["app"]
        if app.dependency_overrides or _header(scope, b"content-type") != JSON:
            await self.app(scope, receive, send)
            return
        if self._served is None:
            route = next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is create_calculation)
            self._served = route, ExceptionMiddleware(self._calculate, handlers=app.exception_handlers)
        route, handled = self._served
        scope["route"] = route  # what the router would set: the metrics label requests by its path
        await handled(scope, receive, send)

    async def _calculate(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = scope["app"].state.services
        authorization = _header(scope, b"authorization")
        principal = await verified_principal(services, None if authorization is None else authorization.decode("latin-1"))
        caller = await resolve_caller(services, principal, admin_only=False)
        body = await _body(receive)
        if not body:  # FastAPI's "field required" for a missing body: let the route say it
            await self.app(scope, _replay(body, receive), send)
            return
        document = _parsed(body)
        assert self._served is not None and self._served[0].body_field is not None
        request, errors = self._served[0].body_field.validate(document, {}, loc=("body",))
        if errors:
            raise RequestValidationError(errors, body=document)
        response = await created(services, request, caller)
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case), as Starlette's `Headers.get` picks it."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


async def _body(receive: Receive) -> bytes:
    """The whole body, as `Request.body()` reads it; the framework answers a read that fails (a client gone,
    anything but BodyLimit's 413) with 400."""
    chunks = []
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
    except HTTPException:
        raise
    except Exception as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="There was an error parsing the body") from error


def _parsed(body: bytes) -> Any:
    """parse_json's document; malformed JSON as FastAPI reports it (422 json_invalid at the error's offset)."""
    try:
        return parse_json(body)
    except json.JSONDecodeError as error:
        invalid = {"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error", "input": {}, "ctx": {"error": error.msg}}
        raise RequestValidationError([invalid], body=error.doc) from error
    except HTTPException:
        raise
    except Exception as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="There was an error parsing the body") from error


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` with the body already read given again first."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
