"""Parse PSR expressions (grammar in grammar.lark, documented in app/RULES.md) into expression nodes.

The LALR parser is built once at import; parsed rules are memoised by text, so the service never
parses the same rule twice per process. Every error carries the 0-based offset and 1-based column
of the offending character, so that API and CLI can point at it.
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from app.engine.expression import (
    AllOf,
    AnyOf,
    CodeRange,
    CodeSet,
    Leaf,
    MaxNom,
    Node,
    Operation,
    RuleTooComplexError,
    Rvc,
    ShiftLevel,
    TariffShift,
    WeightLimit,
    alternatives,
)
from app.engine.memory import forgotten_in_forked_children
from app.engine.phrases import default_phrases

# The annexes' limits on the value of unprinted, unembroidered or uncoated fabric are read as limits on
# non-originating materials of chapters 50-60 (fibres, yarns and fabrics), see app/RULES.md.
TEXTILE_MATERIALS = CodeSet((CodeRange("50", "60"),))

_TERMINAL_NAMES = {
    "SHIFT": "CC/CTH/CTSH",
    "VERBAL_SHIFT": "'A change from any other heading'",
    "ANY_LEVEL": "'Manufacture from materials of any heading'",
    "EXCEPT_PRODUCT": "', except that of the product'",
    "_EXCEPT": "'except'",
    "_FROM": "'from'",
    "_AND_FROM": "'and from'",
    "_HOWEVER": "'however'",
    "_NOT_USED": "'may not be used'",
    "_NON_ORIGINATING": "'non-originating'",
    "_MATERIALS_OF": "'materials of'",
    "CODE_KIND": "'heading'/'subheading'/'chapter'",
    "_RANGE": "'through' or '-'",
    "_AND_CODE": "'and'",
    "_OR_CODE": "'or'",
    "_OR_FROM": "'or from'",
    "_MUST_BE_ORIGINATING": "'must be originating'",
    "_MAXNOM": "MaxNOM",
    "_RVC": "RVC",
    "_OP": "OP",
    "LPAR": "'('",
    "RPAR": "')'",
    "_OR": "'or' or ';'",
    "_AND": "'and'",
    "_OF": "'of'",
    "_EXW": "EXW",
    "_FOB": "FOB",
    "PERCENT": "a percentage",
    "_PERCENT_SIGN": "'%' or 'per cent'",
    "VALUE_OF_MATERIALS": "'the value of non-originating materials'",
    "WEIGHT_OF_MATERIALS": "'the net weight of non-originating materials'",
    "FABRIC_VALUE": "'the value of the unprinted fabric used does not exceed'",
    "_NOT_EXCEED": "'does not exceed'",
    "_OF_PRICE": "'of the ex-works price'",
    "_OF_WEIGHT": "'of the net weight of the product'",
    "_UNDERGONE": "'is undergone'",
    "WITHIN_CHANGE": "'A change from within heading'",
    "_WHETHER_OR_NOT": "', whether or not there is also a change from any other heading'",
    "NO_CHANGE": "'No change in tariff classification is required'",
    "SAME_CHANGE": "'the same change'",
    "CODE": "an HS code (chapter 85, heading 85.03 or 8503, subheading 8503.00 or 850300)",
    "OPCODE": "a snake_case operation code",
    "PROCESS": "a specific process as the annexes name it (e.g. 'chemical reaction')",
    "GOODS": "goods as the annexes describe them",
    "GOODS_QUALIFIER": "the goods' description",
    "SUBDIVISION": "a product description ending in ':'",
    "_COMMA": "','",
    "_COLON": "':'",
    "_DOT": "'.'",
    "$END": "end of rule",
}

# The forms the grammar reads, for "the nearest form it does read" in error messages.
FORMS = (
    "CC",
    "CTH",
    "CTSH",
    "CTH except from heading 85.03",
    "CTH except from non-originating materials of heading 85.03",
    "CTH except from subheading 8503.00",
    "CTH except from headings 85.01 through 85.04",
    "MaxNOM 50 % (EXW)",
    "MaxNOM 50 per cent (EXW)",
    "RVC 55 % (FOB)",
    "RVC 55 per cent (FOB)",
    "OP(chemical_reaction)",
    "A change from any other chapter",
    "A change from any other heading",
    "A change from any other subheading",
    "A change from any other heading, except from heading 85.03",
    "Manufacture from materials of any heading, except that of the product",
    "Manufacture in which the value of all the materials used does not exceed 50 % of the ex-works price of the product",
    "provided that the value of non-originating materials does not exceed 50 per cent of the transaction value or ex-works price of the product",
    "A change from within heading 85.01, whether or not there is also a change from any other heading",
    "No change in tariff classification is required",
    "CTH; or MaxNOM 50 % (EXW)",
)

_PHRASES = default_phrases()
_GRAMMAR = "\n".join(
    [
        (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8"),
        f"PROCESS: {_PHRASES.terminal([entry.phrase for entry in _PHRASES.processes])}",
        f"GOODS: {_PHRASES.terminal([entry.phrase for entry in _PHRASES.goods])}",
        f"GOODS_QUALIFIER: {_PHRASES.terminal([entry.qualifier for entry in _PHRASES.goods if entry.qualifier])}",
        f"SUBDIVISION: {_PHRASES.terminal(list(_PHRASES.subdivisions))}",
    ]
)

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=False, maybe_placeholders=False)


class RuleSyntaxError(ValueError):
    """A rule that does not parse, with the position of the offending character."""

    def __init__(self, rule: str, position: int, message: str, expected: tuple[str, ...] = (), nearest: str | None = None) -> None:
        self.rule = rule
        self.position = position
        self.column = position + 1
        self.message = message
        self.expected = expected
        self.nearest = nearest
        super().__init__(self.describe())

    def describe(self) -> str:
        expected = f"; expected {', '.join(self.expected)}" if self.expected else ""
        nearest = f"; the nearest form it reads is '{self.nearest}'" if self.nearest else ""
        return f"{self.message} at column {self.column}{expected}{nearest}: {self.rule[:self.position]}\u2192{self.rule[self.position:]}"


class _SemanticError(Exception):
    def __init__(self, position: int, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


_LEVELS = {"chapter": "CC", "heading": "CTH", "subheading": "CTSH"}
_KIND_DIGITS = {"chapter": 2, "heading": 4, "subheading": 6}


class _Unchanged:
    """Wording that requires no change of classification ("a change from within heading 39.01, whether
    or not ..."): it only narrows nothing, so it must stand beside a condition and is dropped there."""

    def __init__(self, position: int) -> None:
        self.position = position


# the ways the annexes write a code: chapter 85, heading 8503 or 85.03, subheading 850300 or 8503.00
_CODE_FORMS = re.compile(r"\d{2}|\d{4}|\d{6}|\d{2}\.\d{2}|\d{4}\.\d{2}")


def _code(token: Token) -> str:
    digits = str(token).replace(".", "")
    if len(digits) not in (2, 4, 6):
        raise _SemanticError(token.start_pos or 0, f"HS code {token!s} must have 2, 4 or 6 digits")
    if not _CODE_FORMS.fullmatch(str(token)):  # "85.0.3" is no heading the law writes; it is not read as 8503
        raise _SemanticError(token.start_pos or 0, f"HS code {token!s} is written 8503 or 85.03 (heading), 850300 or 8503.00 (subheading)")
    return digits


def _kind(token: Token | None) -> str | None:
    return None if token is None else str(token).lower().rstrip("s")


def _percent(token: Token) -> Decimal:
    value = Decimal(str(token))
    if not Decimal(0) < value <= Decimal(100):
        raise _SemanticError(token.start_pos or 0, f"percentage {token!s} must be above 0 and at most 100")
    return value


def _level(token: Token) -> ShiftLevel:
    return _LEVELS[str(token).split()[-1].lower()]  # type: ignore[return-value]


def _conditions(parts: tuple[Node | _Unchanged, ...]) -> tuple[Node, ...]:
    kept = tuple(part for part in parts if not isinstance(part, _Unchanged))
    if not kept:
        raise _SemanticError(parts[0].position, "a change within the heading must be combined with a condition ('provided that ...')")  # type: ignore[union-attr]
    return kept


def _alone(part: Node | _Unchanged) -> Node:
    if isinstance(part, _Unchanged):
        raise _SemanticError(part.position, "a change within the heading must be combined with a condition ('provided that ...')")
    return part


class _ToNodes(Transformer[Token, Node]):
    """Parse tree -> expression nodes. Not inline: code lists carry an optional leading CODE_KIND."""

    def start(self, children: list[Node | _Unchanged]) -> Node:
        return _alone(children[0])

    def subdivided(self, children: list[Node]) -> Node:
        return children[0] if len(children) == 1 else _any_of(children)

    def subdivision(self, children: list[Token | Node | _Unchanged]) -> Node:
        return _alone(children[1])  # type: ignore[arg-type]

    def any_of(self, children: list[Node | _Unchanged]) -> Node:
        return _any_of([_alone(part) for part in children])

    def all_of(self, children: list[Node | _Unchanged]) -> Node:
        kept = _conditions(tuple(children))
        if len(kept) == 1:
            return kept[0]
        return AllOf(tuple(leaf for part in kept for leaf in (part.parts if isinstance(part, AllOf) else (part,))))

    def shift(self, children: list[Token | CodeSet]) -> TariffShift:
        head = children[0]
        assert isinstance(head, Token)
        codes = next((child for child in children if isinstance(child, CodeSet)), None)
        if head.type == "SHIFT":
            level: ShiftLevel = str(head).upper()  # type: ignore[assignment]
        elif head.type == "VERBAL_SHIFT":
            level = _level(head)
        else:
            level = _level(head) if any(isinstance(c, Token) and c.type == "EXCEPT_PRODUCT" for c in children) else "ANY"
        return TariffShift(level=level, except_from=codes)

    def originating_goods(self, children: list[Token | CodeSet]) -> TariffShift:
        return TariffShift(level="ANY", except_from=self.described_goods(children[:2]))

    def exception(self, children: list[CodeSet]) -> CodeSet:
        return CodeSet(tuple(item for codes in children for item in codes.items))

    def excepted(self, children: list[CodeSet]) -> CodeSet:
        return children[-1]

    def described_goods(self, children: list[Token | CodeSet]) -> CodeSet:
        goods, written = children[-2], children[-1]
        assert isinstance(goods, Token) and isinstance(written, CodeSet)
        named = CodeSet(tuple(_range(span) for span in _PHRASES.goods_named(str(goods)).codes))
        for item in named.items:
            if not (written.contains(item.start) and written.contains(item.end)):
                raise _SemanticError(goods.start_pos or 0, f"the goods described lie outside {written.text()}")
        return named

    def code_spec(self, children: list[Token | CodeRange]) -> CodeSet:
        kind = _kind(children[0]) if isinstance(children[0], Token) else None
        items = [child for child in children if isinstance(child, CodeRange)]
        if kind is not None and any(len(item.start) != _KIND_DIGITS[kind] for item in items):
            position = children[0].start_pos or 0  # type: ignore[union-attr]
            raise _SemanticError(position, f"{kind} codes have {_KIND_DIGITS[kind]} digits: {', '.join(item.text() for item in items)}")
        return CodeSet(tuple(items))

    def code_item(self, children: list[Token]) -> CodeRange:
        value = _code(children[0])
        return CodeRange(value, value)

    def code_range(self, children: list[Token]) -> CodeRange:
        first, last = children
        start, end = _code(first), _code(last)
        if len(start) != len(end):
            raise _SemanticError(last.start_pos or 0, f"range {start}-{end} mixes codes of different lengths")
        if start > end:
            raise _SemanticError(first.start_pos or 0, f"range {start}-{end} runs backwards")
        return CodeRange(start, end)

    def maxnom(self, children: list[Token | CodeSet]) -> MaxNom:
        percent = next(c for c in children if isinstance(c, Token) and c.type == "PERCENT")
        codes = next((c for c in children if isinstance(c, CodeSet)), None)
        return MaxNom(percent=_percent(percent), of=codes)  # type: ignore[arg-type]

    def fabric_limit(self, children: list[Token]) -> MaxNom:
        percent = next(c for c in children if c.type == "PERCENT")
        return MaxNom(percent=_percent(percent), of=TEXTILE_MATERIALS)

    def weight(self, children: list[Token | CodeSet]) -> WeightLimit:
        percent = next(c for c in children if isinstance(c, Token) and c.type == "PERCENT")
        codes = next((c for c in children if isinstance(c, CodeSet)), None)
        return WeightLimit(percent=_percent(percent), of=codes)  # type: ignore[arg-type]

    def rvc(self, children: list[Token]) -> Rvc:
        return Rvc(percent=_percent(children[0]))

    def operation(self, children: list[Token]) -> Operation:
        return Operation(code=str(children[0]))

    def processes(self, children: list[Token | MaxNom]) -> Node:
        codes = [code for token in children if isinstance(token, Token) for code in _PHRASES.process(str(token)).operations]
        named = _any_of([Operation(code) for code in dict.fromkeys(codes)])
        limit = next((child for child in children if isinstance(child, MaxNom)), None)
        return named if limit is None else AllOf((named, limit))

    def unchanged(self, children: list[Token | CodeSet]) -> _Unchanged:
        head = children[0]
        return _Unchanged(head.start_pos or 0 if isinstance(head, Token) else 0)


def _any_of(parts: list[Node]) -> Node:
    """Alternatives flattened, so that a rule and its canonical text parse to the same nodes."""
    flat = tuple(leaf for part in parts for leaf in (part.parts if isinstance(part, AnyOf) else (part,)))
    return flat[0] if len(flat) == 1 else AnyOf(flat)


def _range(span: str) -> CodeRange:
    first, _, last = span.partition("-")
    return CodeRange(first, last or first)


def _expected(names: set[str]) -> tuple[str, ...]:
    return tuple(sorted({_TERMINAL_NAMES.get(name, name) for name in names}))


def nearest_form(rule: str, position: int) -> str | None:
    """The form the grammar reads that looks most like the clause around `position`."""
    marks = (";", " or ", " and ")
    starts = [rule.rfind(mark, 0, position) + len(mark) for mark in marks if rule.rfind(mark, 0, position) >= 0]
    ends = [e for e in (rule.find(mark, position) for mark in marks) if e >= 0]
    clause = rule[max(starts, default=0) : min(ends, default=len(rule))].strip(" ;,.").lower()[:200]
    if not clause:
        return None
    numbers = re.compile(r"\d+(\.\d+)?")
    shape = numbers.sub("9", clause)
    found = difflib.get_close_matches(shape, [numbers.sub("9", form.lower()) for form in FORMS], n=1, cutoff=0.5)
    if not found:
        return None
    return next(form for form in FORMS if numbers.sub("9", form.lower()) == found[0])


def _error(rule: str, position: int, message: str, expected: tuple[str, ...]) -> RuleSyntaxError:
    return RuleSyntaxError(rule, position, message, expected, nearest_form(rule, position))


def _syntax_error(rule: str, error: UnexpectedInput) -> RuleSyntaxError:
    if isinstance(error, UnexpectedEOF):
        return _error(rule, len(rule), "the rule ends too early", _expected(set(error.expected)))
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return _error(rule, len(rule), "the rule ends too early", _expected(set(error.expected)))
        return _error(rule, error.token.start_pos or 0, f"unexpected {str(error.token)[:40]!r}", _expected(set(error.expected)))
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        return _error(rule, position, f"unexpected {rule[position]!r}", _expected(set(error.allowed)))
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


Alternatives = tuple[tuple[tuple[tuple[Leaf, str], ...], str], ...]


@lru_cache(maxsize=4096)
def rule_alternatives(rule: str) -> Alternatives:
    """The rule's alternatives (disjunctive normal form), each as its criteria with their texts and its own
    text: computed once per rule text, since every assessment's report quotes them."""
    out = []
    for leaves in alternatives(parse_rule(rule)):
        criteria = tuple((leaf, leaf.text()) for leaf in leaves)
        out.append((criteria, " and ".join(text for _, text in criteria)))
    return tuple(out)


@lru_cache(maxsize=4096)
def rule_reading(rule: str) -> str:
    """How the engine reads the rule: its compact canonical text."""
    return parse_rule(rule).text()


forgotten_in_forked_children(parse_rule.cache_clear, rule_alternatives.cache_clear, rule_reading.cache_clear)
