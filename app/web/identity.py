"""Who is asking for a page: the user of the access token that oauth2-proxy passes on (Authorization:
Bearer, X-Forwarded-Access-Token or X-Auth-Request-Access-Token), verified exactly like an API token
(signature, issuer, audience, expiry, realm roles) — a header without a valid token is no identity. In the
local mode, the built-in local user.

`posted_form` reads a form post after its CSRF check and within a size bound.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.api.auth import Caller, resolve_caller
from app.api.services import Services
from app.security import IdentityProviderUnavailable, InvalidToken, Principal
from app.web.csrf import FIELD, csrf_problem
from app.web.local import local_principal
from app.web.rendering import WebError

TOKEN_HEADERS = ("x-forwarded-access-token", "x-auth-request-access-token")
MAX_FORM_BYTES = 256 * 1024
MAX_FORM_FIELDS = 4000


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for header in TOKEN_HEADERS:
        value = request.headers.get(header, "").strip()
        if value:
            return value
    return None


async def _principal(request: Request, services: Services) -> Principal:
    if services.settings.local_mode:
        return local_principal(services.settings)
    token = _token(request)
    if token is None:
        raise WebError(401, "Sign-in required", "Open this page through the platform's sign-in; no access token came with the request.")
    verifier = services.verifier
    try:
        if verifier.needs_key_fetch(token):
            return await run_in_threadpool(verifier.verify, token)
        return verifier.verify(token)
    except InvalidToken:
        raise WebError(401, "Sign-in required", "Your sign-in is not valid any more (expired or not for this application); sign in again.") from None
    except IdentityProviderUnavailable:
        raise WebError(503, "Sign-in unavailable", "The identity provider cannot be reached; try again in a minute.") from None


async def _caller(request: Request, admin_only: bool) -> Caller:
    services: Services = request.app.state.services
    principal = await _principal(request, services)
    try:
        caller = await resolve_caller(services, principal, admin_only)
    except HTTPException as error:
        role = services.settings.admin_role if admin_only else f"{services.settings.user_role} or {services.settings.admin_role}"
        raise WebError(error.status_code, "Not allowed", f"This page needs the role {role}.") from None
    request.state.caller = caller
    return caller


async def web_user(request: Request) -> Caller:
    return await _caller(request, admin_only=False)


async def web_admin(request: Request) -> Caller:
    return await _caller(request, admin_only=True)


WebUser = Annotated[Caller, Depends(web_user)]
WebAdmin = Annotated[Caller, Depends(web_admin)]


async def posted_form(request: Request) -> FormData:
    """The urlencoded form, refused when too large or without this browser's CSRF token."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise WebError(411, "Form refused", "A form must be sent with its length (Content-Length).")
    if int(length) > MAX_FORM_BYTES:
        raise WebError(413, "Form too large", f"A form may carry at most {MAX_FORM_BYTES // 1024} KiB.")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise WebError(415, "Unsupported form", "Send the page's form as it is (application/x-www-form-urlencoded).")
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    problem = csrf_problem(request, form.get(FIELD))
    if problem is not None:
        raise WebError(403, "Form refused", f"The form was refused: {problem}.")
    return form
