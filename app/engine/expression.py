"""The parsed form of a product-specific rule: immutable nodes plus their disjunctive normal form.

A rule is kept as a tree for faithful display and turned into alternatives (each a conjunction
of leaf criteria) for evaluation, because the legal texts are read that way: the product
originates if one alternative is met, and an alternative is met when all its criteria are
(EU-JP Annex 3-A Note 2.3; TCA Annex ORIG-1 Note 2.3-2.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import product
from typing import Literal

ShiftLevel = Literal["CC", "CTH", "CTSH", "ANY"]

# "ANY" is the annexes' "manufacture from materials of any heading": no change of classification is
# required, only the exceptions apply (EU-KR Annex I Note 3.3).
SHIFT_DIGITS: dict[ShiftLevel, int] = {"CC": 2, "CTH": 4, "CTSH": 6, "ANY": 0}

MAX_ALTERNATIVES = 64


class RuleTooComplexError(ValueError):
    """The rule expands into more alternatives than an assessment report can sensibly show."""


@dataclass(frozen=True)
class CodeRange:
    """One item of a code list: a chapter, heading or subheading, or a range of equal-length codes."""

    start: str
    end: str

    def contains(self, hs_code: str) -> bool:
        prefix = hs_code[: len(self.start)]
        return self.start <= prefix <= self.end

    def text(self) -> str:
        return self.start if self.start == self.end else f"{self.start}-{self.end}"


@dataclass(frozen=True)
class CodeSet:
    items: tuple[CodeRange, ...]
    # the text, joined once: reasons quote it for every material an exception catches
    _text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_text", ", ".join(item.text() for item in self.items))

    def contains(self, hs_code: str) -> bool:
        for item in self.items:  # a plain loop: this runs for every material under every exception
            if item.start <= hs_code[: len(item.start)] <= item.end:
                return True
        return False

    def text(self) -> str:
        return self._text


@dataclass(frozen=True)
class TariffShift:
    level: ShiftLevel
    except_from: CodeSet | None = None
    # the level's digits, looked up once: every assessment reads them twice per shift
    digits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digits", SHIFT_DIGITS[self.level])

    def text(self) -> str:
        head = "manufacture from materials of any heading" if self.level == "ANY" else self.level
        return head if self.except_from is None else f"{head} except from {self.except_from.text()}"


@dataclass(frozen=True)
class MaxNom:
    percent: Decimal
    of: CodeSet | None = None

    def text(self) -> str:
        base = f"MaxNOM {self.percent}% (EXW)"
        return base if self.of is None else f"{base} of {self.of.text()}"


@dataclass(frozen=True)
class Rvc:
    percent: Decimal

    def text(self) -> str:
        return f"RVC {self.percent}% (FOB)"


@dataclass(frozen=True)
class WeightLimit:
    """A limit on the net weight of non-originating materials (CETA, chapter 39); requests carry no weights."""

    percent: Decimal
    of: CodeSet | None = None

    def text(self) -> str:
        scope = "" if self.of is None else f" of {self.of.text()}"
        return f"the net weight of non-originating materials{scope} does not exceed {self.percent} % of the net weight of the product"


@dataclass(frozen=True)
class Operation:
    code: str

    def text(self) -> str:
        return f"OP({self.code})"


Leaf = TariffShift | MaxNom | Rvc | WeightLimit | Operation


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]

    def text(self) -> str:
        return " and ".join(_wrapped(part, AnyOf) for part in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]

    def text(self) -> str:
        return " or ".join(_wrapped(part, AllOf) for part in self.parts)


Node = Leaf | AllOf | AnyOf


def _wrapped(node: Node, needs_parentheses: type) -> str:
    return f"({node.text()})" if isinstance(node, needs_parentheses) else node.text()


def alternatives(node: Node) -> list[tuple[Leaf, ...]]:
    """The rule in disjunctive normal form; raises RuleTooComplexError past MAX_ALTERNATIVES."""
    if isinstance(node, AnyOf):
        result = [alt for part in node.parts for alt in alternatives(part)]
    elif isinstance(node, AllOf):
        factors = [alternatives(part) for part in node.parts]
        count = 1
        for factor in factors:
            count *= len(factor)
        _check_size(count)
        result = [tuple(leaf for alt in combo for leaf in alt) for combo in product(*factors)]
    else:
        result = [(node,)]
    _check_size(len(result))
    return result


def _check_size(count: int) -> None:
    if count > MAX_ALTERNATIVES:
        raise RuleTooComplexError(f"the rule expands into more than {MAX_ALTERNATIVES} alternatives")
