"""Request dependencies: the services, the caller's verified identity and the role checks.

`psra-user` may calculate and manage its own data; `psra-admin` may do everything a user may, and also
manage rules and read audit logs. Missing or bad tokens give 401, a valid token without the role 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.services import Services
from app.security import IdentityProviderUnavailable, InvalidToken, Principal

_bearer = HTTPBearer(auto_error=False, description="Keycloak access token of realm sevensa, audience psra-api")


async def get_services(request: Request) -> Services:
    # async so FastAPI calls it on the event loop: a plain `def` dependency costs a thread-pool round trip per request
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True)
class Caller:
    principal: Principal
    user_id: uuid.UUID
    is_admin: bool


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def verified_principal(services: Services, authorization: str | None) -> Principal:
    """The principal of an `Authorization: Bearer` header value: 401 without a valid token, 503 when the
    identity provider's keys cannot be fetched."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    verifier = services.verifier
    try:
        if verifier.needs_key_fetch(token):
            return await run_in_threadpool(verifier.verify, token)
        return verifier.verify(token)
    except InvalidToken as error:
        raise _unauthorized(str(error)) from None
    except IdentityProviderUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(error)) from None


async def authenticate_first(request: Request) -> None:
    """Verify the token before the body is read (app/api/routing.py) and keep the principal for `_principal`,
    unless the app resolves principals through an override of `_principal` (the local mode)."""
    if _principal not in request.app.dependency_overrides:
        request.state.principal = await verified_principal(request.app.state.services, request.headers.get("authorization"))


# The dependencies below take the services from the request rather than from `ServicesDep`: each dependency
# FastAPI resolves costs a pass of its resolver on every request, even when the value is already cached.


async def _principal(request: Request, _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The caller's principal; `_scheme` only declares the bearer scheme in the OpenAPI document."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    return await verified_principal(request.app.state.services, request.headers.get("authorization"))


async def principal_of(request: Request) -> Principal:
    """What the `_principal` dependency gives, its override included (the local mode's, which takes no
    parameters), for routes that resolve their caller without FastAPI's dependency resolution."""
    override = request.app.dependency_overrides.get(_principal)
    if override is not None:
        return await override()  # type: ignore[no-any-return]
    return await _principal(request, None)


async def resolve_caller(services: Services, principal: Principal, admin_only: bool) -> Caller:
    """The caller of `principal`: 403 without the role, and its users row (created on a first request)."""
    settings = services.settings
    is_admin = settings.admin_role in principal.roles
    if not (is_admin or (not admin_only and settings.user_role in principal.roles)):
        needed = settings.admin_role if admin_only else f"{settings.user_role} or {settings.admin_role}"
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"the realm role {needed} is required")
    user_id = services.users.known(principal.subject)
    if user_id is None:
        user_id = await run_in_threadpool(services.users.ensure, principal)
    return Caller(principal, user_id, is_admin)


async def require_user(request: Request, principal: Annotated[Principal, Depends(_principal)]) -> Caller:
    return await resolve_caller(request.app.state.services, principal, admin_only=False)


async def require_admin(request: Request, principal: Annotated[Principal, Depends(_principal)]) -> Caller:
    return await resolve_caller(request.app.state.services, principal, admin_only=True)


UserCaller = Annotated[Caller, Depends(require_user)]
AdminCaller = Annotated[Caller, Depends(require_admin)]
