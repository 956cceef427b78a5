"""Error responses. Every 422 has FastAPI's shape: {"detail": [{"type", "loc", "msg", "ctx"?}]}, with
`loc` starting at "body", "path" or "query" so clients can point at the field.

A 422 never echoes the input: it names the field and the rule (with its limits) and nothing of the value
beyond what a rule's own message quotes in a short excerpt. (FastAPI's default handler returns each
rejected value whole and converts it for JSON first: for `1e999999` that conversion alone cost a minute.)
The number of errors, the length of a path and of each text in it are bounded too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api.json_body import BodyRejected
from app.engine.assess import EngineInputError

MAX_ERRORS = 20
MAX_LOC_PARTS = 12
MAX_TEXT = 300
MAX_NAME = 64


class InputError(Exception):
    """A request field that is well-formed but not acceptable (unknown declaration, unknown HS code...)."""

    def __init__(self, loc: tuple[str | int, ...], message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.kind = kind


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, encodable as UTF-8 (a lone surrogate shows as its escape)."""
    short = text if len(text) <= limit else f"{text[: limit - 1]}…"
    return short.encode("utf-8", "backslashreplace").decode("utf-8")


def _loc(loc: tuple[Any, ...] | list[Any]) -> list[str | int]:
    parts = [part if isinstance(part, int) else excerpt(str(part), MAX_NAME) for part in loc]
    return parts if len(parts) <= MAX_LOC_PARTS else [*parts[: MAX_LOC_PARTS - 1], "…"]


def _context_value(value: Any) -> Any:
    """A rule's parameter (a limit, a pattern, the expected tokens) as plain JSON, bounded."""
    if isinstance(value, bool | int) and abs(value) < 10**18:
        return value
    if isinstance(value, list | tuple):
        return [_context_value(item) for item in value[:MAX_ERRORS]]
    if isinstance(value, float | Decimal | str):
        return excerpt(str(value), MAX_TEXT)
    return excerpt(type(value).__name__, MAX_NAME)


def unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    detail: list[dict[str, Any]] = []
    for error in errors[:MAX_ERRORS]:
        item: dict[str, Any] = {"type": excerpt(str(error["type"]), MAX_NAME), "loc": _loc(error["loc"]), "msg": excerpt(str(error["msg"]), MAX_TEXT)}
        if error.get("ctx"):
            item["ctx"] = {excerpt(str(key), MAX_NAME): _context_value(value) for key, value in list(error["ctx"].items())[:MAX_ERRORS]}
        detail.append(item)
    more = len(errors) - MAX_ERRORS
    if more > 0:
        detail.append({"type": "too_many_errors", "loc": ["body"], "msg": f"{more} more errors not shown"})
    return JSONResponse(status_code=422, content={"detail": detail})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return unprocessable(list(error.errors()))

    @app.exception_handler(BodyRejected)
    async def _rejected(_: Request, error: BodyRejected) -> JSONResponse:
        return unprocessable([{"type": error.kind, "loc": error.loc, "msg": error.message}])

    @app.exception_handler(EngineInputError)
    async def _engine_input(_: Request, error: EngineInputError) -> JSONResponse:
        return unprocessable([{"type": "assessment_input", "loc": ("body", *error.loc), "msg": error.message}])

    @app.exception_handler(InputError)
    async def _input(_: Request, error: InputError) -> JSONResponse:
        return unprocessable([{"type": error.kind, "loc": error.loc, "msg": error.message}])
