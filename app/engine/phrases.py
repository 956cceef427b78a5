"""The annexes' wording for processes, described goods and row subdivisions (app/data/phrases.yaml).

The parser turns each phrase into part of a grammar terminal and, when it reads one, looks up what the
phrase means here. Phrases are compared in a normal form (lower case, single spaces, no leading article),
so a rule reads whatever its capitalisation and line breaks.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "phrases.yaml"

Phrase = Annotated[str, StringConstraints(min_length=3, max_length=400)]
OperationCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
CodeSpan = Annotated[str, StringConstraints(pattern=r"^(\d{2}|\d{4}|\d{6})(-(\d{2}|\d{4}|\d{6}))?$")]

_ARTICLE = re.compile(r"^(an?|the)\s+", re.IGNORECASE)


def normal_form(text: str) -> str:
    return _ARTICLE.sub("", " ".join(text.split()).lower())


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProcessPhrase(_Data):
    phrase: Phrase
    operations: tuple[OperationCode, ...] = Field(min_length=1)


class GoodsPhrase(_Data):
    phrase: Phrase
    codes: tuple[CodeSpan, ...] = Field(min_length=1)
    qualifier: Phrase | None = None


class Phrases(_Data):
    processes: tuple[ProcessPhrase, ...]
    goods: tuple[GoodsPhrase, ...]
    subdivisions: tuple[Phrase, ...]

    def process(self, text: str) -> ProcessPhrase:
        return next(entry for entry in self.processes if normal_form(entry.phrase) == normal_form(text))

    def goods_named(self, text: str) -> GoodsPhrase:
        return next(entry for entry in self.goods if normal_form(entry.phrase) == normal_form(text))

    def terminal(self, phrases: list[str]) -> str:
        """A lark regular expression matching any of `phrases`, longest first (so a phrase wins over its
        own beginning), with any whitespace between words and an optional leading article."""
        words = [r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in sorted(set(phrases), key=len, reverse=True)]
        pattern = rf"((an?|the)\s+)?({'|'.join(words)})(?![A-Za-z])"
        return "/" + pattern.replace("/", "\\/") + "/i"


@cache
def default_phrases() -> Phrases:
    with DATA_FILE.open(encoding="utf-8") as handle:
        return Phrases.model_validate(yaml.safe_load(handle))
