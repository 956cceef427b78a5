"""Admin (role psra-admin): the audit log, newest first, filtered by action, user and start date."""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.web.identity import WebAdmin
from app.web.rendering import render
from app.web.queries import audit_entries

router = APIRouter(include_in_schema=False)
ACTION = re.compile(r"^[a-z_]{1,30}\.[a-z_]{1,30}$")
MAX_PAGE = 10_000


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_log(request: Request, caller: WebAdmin) -> HTMLResponse:
    query = request.query_params
    errors: dict[str, str] = {}
    action = query.get("action", "").strip()
    if action and not ACTION.match(action):
        errors["action"] = "an action such as calculation.create or declaration.withdraw"
    username = query.get("user", "").strip()[:255]
    since_text = query.get("since", "").strip()
    since = None
    if since_text:
        try:
            since = date.fromisoformat(since_text)
        except ValueError:
            errors["since"] = "a date as YYYY-MM-DD"
    page_text = query.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE else 1
    entries, more = await run_in_threadpool(
        audit_entries, request.app.state.services, action if "action" not in errors and action else None, username or None, since, page
    )
    filters = {"action": action[:61] if "action" not in errors else "", "user": username, "since": since.isoformat() if since else ""}
    return render(request, "audit.html", entries=entries, more=more, page=page, filters=filters, errors=errors)
