"""Parse PSR expressions (grammar in grammar.lark, documented in app/RULES.md) into expression nodes.

The LALR parser is built once at import; parsed rules are memoised by text, so the service never
parses the same rule twice per process. Every error carries the 0-based offset and 1-based column
of the offending character, so that API and CLI can point at it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, v_args
from lark.exceptions import VisitError

from app.engine.expression import (
    AllOf,
    AnyOf,
    CodeRange,
    CodeSet,
    MaxNom,
    Node,
    Operation,
    RuleTooComplexError,
    Rvc,
    TariffShift,
    alternatives,
)

_TERMINAL_NAMES = {
    "SHIFT": "CC/CTH/CTSH",
    "_MAXNOM": "MaxNOM",
    "_RVC": "RVC",
    "_OP": "OP",
    "LPAR": "'('",
    "RPAR": "')'",
    "_OR": "'or' or ';'",
    "_AND": "'and'",
    "_EXCEPT": "'except'",
    "_FROM": "'from'",
    "_OF": "'of'",
    "_EXW": "EXW",
    "_FOB": "FOB",
    "PERCENT": "a percentage",
    "_PERCENT_SIGN": "'%'",
    "CODE": "an HS code (2, 4 or 6 digits)",
    "OPCODE": "a snake_case operation code",
    "COMMA": "','",
    "MINUS": "'-'",
    "$END": "end of rule",
}

_PARSER = Lark(
    (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8"),
    parser="lalr",
    lexer="contextual",
    propagate_positions=True,
    maybe_placeholders=False,
)


class RuleSyntaxError(ValueError):
    """A rule that does not parse, with the position of the offending character."""

    def __init__(self, rule: str, position: int, message: str, expected: tuple[str, ...] = ()) -> None:
        self.rule = rule
        self.position = position
        self.column = position + 1
        self.message = message
        self.expected = expected
        super().__init__(self.describe())

    def describe(self) -> str:
        expected = f"; expected {', '.join(self.expected)}" if self.expected else ""
        return f"{self.message} at column {self.column}{expected}: {self.rule[:self.position]}\u2192{self.rule[self.position:]}"


class _SemanticError(Exception):
    def __init__(self, position: int, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


def _code(token: Token) -> str:
    if len(token) not in (2, 4, 6):
        raise _SemanticError(token.start_pos or 0, f"HS code {token!s} must have 2, 4 or 6 digits")
    return str(token)


def _percent(token: Token) -> Decimal:
    value = Decimal(str(token))
    if not Decimal(0) < value <= Decimal(100):
        raise _SemanticError(token.start_pos or 0, f"percentage {token!s} must be above 0 and at most 100")
    return value


@v_args(inline=True)
class _ToNodes(Transformer[Token, Node]):
    def start(self, expr: Node) -> Node:
        return expr

    def any_of(self, *parts: Node) -> AnyOf:
        return AnyOf(tuple(parts))

    def all_of(self, *parts: Node) -> AllOf:
        return AllOf(tuple(parts))

    def shift(self, level: Token, codes: CodeSet | None = None) -> TariffShift:
        return TariffShift(level=str(level).upper(), except_from=codes)  # type: ignore[arg-type]

    def maxnom(self, percent: Token, codes: CodeSet | None = None) -> MaxNom:
        return MaxNom(percent=_percent(percent), of=codes)

    def rvc(self, percent: Token) -> Rvc:
        return Rvc(percent=_percent(percent))

    def operation(self, code: Token) -> Operation:
        return Operation(code=str(code))

    def code_list(self, *items: CodeRange) -> CodeSet:
        return CodeSet(tuple(items))

    def code_item(self, code: Token) -> CodeRange:
        value = _code(code)
        return CodeRange(value, value)

    def code_range(self, first: Token, last: Token) -> CodeRange:
        start, end = _code(first), _code(last)
        if len(start) != len(end):
            raise _SemanticError(last.start_pos or 0, f"range {start}-{end} mixes codes of different lengths")
        if start > end:
            raise _SemanticError(first.start_pos or 0, f"range {start}-{end} runs backwards")
        return CodeRange(start, end)


def _expected(names: set[str]) -> tuple[str, ...]:
    return tuple(sorted({_TERMINAL_NAMES.get(name, name) for name in names}))


def _syntax_error(rule: str, error: UnexpectedInput) -> RuleSyntaxError:
    if isinstance(error, UnexpectedEOF):
        return RuleSyntaxError(rule, len(rule), "the rule ends too early", _expected(set(error.expected)))
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return RuleSyntaxError(rule, len(rule), "the rule ends too early", _expected(set(error.expected)))
        return RuleSyntaxError(rule, error.token.start_pos or 0, f"unexpected {str(error.token)!r}", _expected(set(error.expected)))
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        return RuleSyntaxError(rule, position, f"unexpected {rule[position]!r}", _expected(set(error.allowed)))
    return RuleSyntaxError(rule, 0, str(error))


@lru_cache(maxsize=4096)
def parse_rule(rule: str) -> Node:
    """Parse one rule text; raises RuleSyntaxError with the position of the problem."""
    if not rule.strip():
        raise RuleSyntaxError(rule, 0, "the rule is empty")
    try:
        node = _ToNodes().transform(_PARSER.parse(rule))
    except UnexpectedInput as error:
        raise _syntax_error(rule, error) from None
    except VisitError as error:
        inner = error.orig_exc
        if isinstance(inner, _SemanticError):
            raise RuleSyntaxError(rule, inner.position, inner.message) from None
        raise
    try:
        alternatives(node)
    except RuleTooComplexError as error:
        raise RuleSyntaxError(rule, 0, str(error)) from None
    return node
