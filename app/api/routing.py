"""The route class of every authenticated JSON API route: the bearer token is verified before a byte of the
body is read (an anonymous client can make the service read and parse nothing), and the body is parsed with
bounded numbers (app/api/json_body.py).

FastAPI reads and parses the body before it resolves any dependency, so the check cannot be a dependency;
the route's handler does it first and leaves the principal for the `require_user`/`require_admin`
dependencies. Where the app resolves the principal differently (a dependency override, as the local mode
does) that resolution stays in charge and nothing is checked first.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.api.auth import authenticate_first
from app.api.json_body import parse_json


class BoundedJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class ApiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated_handler(request: Request) -> Response:
            await authenticate_first(request)
            return await handler(BoundedJSONRequest(request.scope, request.receive))

        return authenticated_handler
