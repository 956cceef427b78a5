"""Logout: ends the oauth2-proxy session and then the Keycloak session (its end-session endpoint), and
comes back to the web pages' address. In the local mode there is nobody to sign out."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.web.rendering import render

router = APIRouter(include_in_schema=False)


def logout_location(request: Request) -> str:
    settings = request.app.state.services.settings
    back = settings.public_url.rstrip("/") + "/"
    end_session = f"{settings.oidc_end_session_url}?{urlencode({'client_id': settings.forward_auth_client_id, 'post_logout_redirect_uri': back})}"
    return f"{settings.forward_auth_prefix}/sign_out?{urlencode({'rd': end_session})}"


@router.get("/logout", response_model=None)
async def logout(request: Request) -> Response:
    if request.app.state.services.settings.local_mode:
        return render(request, "error.html", title="Local mode", message="The local mode has no sign-in, so there is nothing to sign out of.")
    return RedirectResponse(logout_location(request), status_code=303)
