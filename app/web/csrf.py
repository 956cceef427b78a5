"""CSRF protection for every form post: a random token in a SameSite=Strict, HttpOnly cookie that the
form must send back in a hidden field (double submit), and a cross-site Origin refused outright.

The cookie is Secure (and `__Host-` prefixed: this host only, path /) except in the local mode, which
serves plain http on 127.0.0.1.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

FIELD = "csrf_token"
TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def _secure(request: Request) -> bool:
    return not request.app.state.services.settings.local_mode


def cookie_name(request: Request) -> str:
    return "__Host-psra_csrf" if _secure(request) else "psra_csrf"


def csrf_token(request: Request) -> str:
    """The request's token: the cookie's when it has a well-formed one, otherwise a new one (set on the response)."""
    existing = request.cookies.get(cookie_name(request), "")
    if len(existing) == TOKEN_LENGTH and existing.replace("-", "").replace("_", "").isalnum():
        return existing
    token = getattr(request.state, "new_csrf_token", None)
    if token is None:
        token = request.state.new_csrf_token = secrets.token_urlsafe(32)
    return token


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(cookie_name(request)) != token:
        response.set_cookie(cookie_name(request), token, httponly=True, secure=_secure(request), samesite="strict", path="/")


def csrf_problem(request: Request, submitted: object) -> str | None:
    """Why the form post must be refused; None when it carries this browser's token from this site."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        return "the form was sent from another site"
    cookie = request.cookies.get(cookie_name(request))
    if not cookie or not isinstance(submitted, str) or not hmac.compare_digest(cookie.encode(), submitted.encode()):
        return "the form has expired or did not come from this site; reload the page and send it again"
    return None
