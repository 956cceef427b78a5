"""Error responses. Every 422 has FastAPI's shape: {"detail": [{"type", "loc", "msg", "ctx"?}]}, with
`loc` starting at "body", "path" or "query" so clients can point at the field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.engine.assess import EngineInputError


class InputError(Exception):
    """A request field that is well-formed but not acceptable (unknown declaration, unknown HS code...)."""

    def __init__(self, loc: tuple[str | int, ...], message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.kind = kind


def unprocessable(loc: tuple[str | int, ...], message: str, kind: str) -> JSONResponse:
    detail: list[dict[str, Any]] = [{"type": kind, "loc": list(loc), "msg": message}]
    return JSONResponse(status_code=422, content={"detail": detail})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EngineInputError)
    async def _engine_input(_: Request, error: EngineInputError) -> JSONResponse:
        return unprocessable(("body", *error.loc), error.message, "assessment_input")

    @app.exception_handler(InputError)
    async def _input(_: Request, error: InputError) -> JSONResponse:
        return unprocessable(error.loc, error.message, error.kind)
