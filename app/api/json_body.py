"""Request bodies parsed as JSON with every number a small, finite Decimal.

Money never passes through binary floats, and no literal can make the server build a huge number:
`1e999999` is a tiny Decimal, but anything that turns it into an int (or prints it) spends minutes of CPU,
and integer literals beyond 4,300 digits fail inside the parser. So a number literal is checked before
it is converted: at most MAX_NUMBER_CHARS characters and a magnitude within 10^±MAX_EXPONENT; NaN and
Infinity are refused. The refusal names the field (a second look at the parsed document finds it),
never the value. Nesting deeper than the parser's recursion limit, and strings holding a lone surrogate
(`"\\ud800"` parses, but no database or JSON encoder takes it: it was a 500), are refused the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import HTTPException

MAX_NUMBER_CHARS = 40
MAX_EXPONENT = 40
NUMBER_RULE = (
    f"JSON numbers must be finite, at most {MAX_NUMBER_CHARS} characters long and between "
    f"1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in magnitude (or 0); give money as a string such as \"100.00\""
)
SURROGATE_RULE = "text must be valid Unicode: a \\u escape of a lone surrogate (\\ud800-\\udfff) is no character"
# a \u escape of a surrogate; only bodies that contain one are searched for a lone (unpaired) one
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class BodyRejected(HTTPException):
    """The body is not JSON the API will look at: a 422 whose `loc` starts with "body" (an HTTPException, so
    the framework's body reading lets it through to the app's handler instead of making it a 400)."""

    def __init__(self, loc: tuple[str | int, ...], kind: str, message: str) -> None:
        super().__init__(422, message)
        self.loc = loc
        self.kind = kind
        self.message = message


class _Rejected:
    """Stands in the parsed document for a number literal that was refused (found again by `_path_of_rejected`)."""


_REJECTED = _Rejected()


def parse_json(body: bytes) -> Any:
    """The document, numbers as Decimal (with a fraction or exponent) or int; BodyRejected for numbers and
    nesting out of bounds and for text that is not UTF-8; json.JSONDecodeError for malformed JSON."""
    refused = False

    def number(literal: str) -> Decimal | _Rejected:
        nonlocal refused
        if len(literal) <= MAX_NUMBER_CHARS:
            value = Decimal(literal)
            if not value or -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
                return value
        refused = True
        return _REJECTED

    def integer(literal: str) -> int | _Rejected:
        nonlocal refused
        if len(literal) <= MAX_NUMBER_CHARS:
            return int(literal)
        refused = True
        return _REJECTED

    def constant(_: str) -> _Rejected:
        nonlocal refused
        refused = True
        return _REJECTED

    try:
        document = json.loads(body, parse_float=number, parse_int=integer, parse_constant=constant)
    except RecursionError:
        raise BodyRejected(("body",), "json_depth", "the JSON document is nested too deeply; request bodies nest a few levels only") from None
    except UnicodeDecodeError:
        raise BodyRejected(("body",), "json_encoding", "the body must be JSON text in UTF-8") from None
    if refused:
        raise BodyRejected(("body", *_first_path(document, lambda node: node is _REJECTED)), "number_out_of_range", NUMBER_RULE)
    if _SURROGATE_ESCAPE.search(body):
        path = _first_path(document, _lone_surrogate)
        if path is not None:
            raise BodyRejected(("body", *path), "unicode_surrogate", SURROGATE_RULE)
    return document


def _lone_surrogate(node: Any) -> bool:
    if not isinstance(node, str):
        return False
    try:
        node.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_path(document: Any, found: Callable[[Any], bool]) -> tuple[str | int, ...] | None:
    """The path of the first value (or object key) for which `found` holds, walking without recursion."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while pending:
        path, node = pending.pop()
        if found(node):
            return path
        if isinstance(node, dict):
            for key in node:
                if found(key):
                    return (*path, "(key)")
            pending.extend(((*path, key), value) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            pending.extend(((*path, index), value) for index, value in reversed(list(enumerate(node))))
    return None
