"""Rendering pages: one autoescaping Jinja2 environment, the security headers every page carries, and the
error page for WebError (HTML, never a traceback, never the input echoed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.web.csrf import csrf_token, set_csrf_cookie

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"

# No script at all, styles and images only from this origin, forms only to this origin, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def compile_templates() -> None:
    """Compile every template now (~0.2 s in all) so that no user's first page pays for it."""
    for name in templates.list_templates(extensions=["html"]):
        templates.get_template(name)


class WebError(Exception):
    """A page that cannot be shown; title and message are fixed texts, safe to show."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` with the layout's context (user, local mode, CSRF token) and the security headers."""
    services = request.app.state.services
    caller = getattr(request.state, "caller", None)
    token = csrf_token(request)
    body = templates.get_template(template).render(
        caller=caller,
        settings=services.settings,
        local_mode=services.settings.local_mode,
        csrf_token=token,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
    set_csrf_cookie(request, response, token)
    return response


def download(content: bytes, media_type: str, filename: str) -> Response:
    """A file to save (PDF, JSON, SVG), with the same headers as the pages."""
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content=content, media_type=media_type, headers=headers)


def install_web_errors(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def _web_error(request: Request, error: WebError) -> HTMLResponse:
        return render(request, "error.html", status_code=error.status_code, title=error.title, message=error.message)
