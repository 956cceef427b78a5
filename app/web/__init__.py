"""The web front end of the origin app: server-rendered pages (Jinja2) on the same FastAPI app as the JSON API.

Plain HTML forms that work without JavaScript (the pages carry none: the Content-Security-Policy forbids
scripts outright); the user is the one of the bearer token oauth2-proxy passes on, verified like an API
token, or the built-in user of the local mode (`make web`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.settings import Settings
from app.web import admin_pages, calculation_pages, declaration_pages, session_pages
from app.web.local import install_local_mode
from app.web.rendering import STATIC_DIR, compile_templates, install_web_errors


def install_web(app: FastAPI, settings: Settings) -> None:
    """Mount the pages, their static files and error pages on `app` (and the local mode when configured)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (calculation_pages, declaration_pages, admin_pages, session_pages):
        app.include_router(module.router)
    install_web_errors(app)
    compile_templates()
    if settings.local_mode:
        install_local_mode(app, settings)
