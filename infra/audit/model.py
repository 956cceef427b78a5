"""The audit's vocabulary: severities, findings, rules, and values unknown at preview.

A rule is data: an id from `security-invariants.md`, a severity, a one-line title and fix,
a `subjects` selector over the declared resources and a `violations` function that says,
for one subject, what is wrong. The engine runs `violations` per subject; a subject whose
check touches a value that is unknown at preview (invariants fact 4) is skipped, not
reported — the export after `up` is where it gets checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from infra.plan.document import SECRET_SIG, SECRET_VALUE

DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}

# Pulumi's wire sentinels for values not known until the resource exists.
UNKNOWN_VALUES = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}; use high, medium or low") from None


class UnknownValueError(Exception):
    """A checked value is unknown at preview; the subject is skipped (fact 4)."""


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_VALUES


def is_secret(value: Any) -> bool:
    """An encrypted value in an export is exactly Pulumi's secret envelope."""
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def known(value: Any) -> Any:
    """`value`, or `UnknownValueError` raised when the engine cannot know it yet."""
    if is_unknown(value):
        raise UnknownValueError(value)
    return value


def text(value: Any) -> str | None:
    """A readable string (None for secrets, absent values and non-strings)."""
    value = known(value)
    return value if isinstance(value, str) else None


def number(value: Any) -> float | None:
    value = known(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def strings(value: Any) -> list[str]:
    """A list input as its readable strings (secrets and non-strings dropped)."""
    value = known(value)
    if not isinstance(value, list):
        return []
    return [item for item in (known(v) for v in value) if isinstance(item, str)]


def duration_seconds(value: str | None) -> float | None:
    """`"5m"` -> 300.0, `"1h30m"` -> 5400.0, `"300"` -> 300.0; None when absent or unreadable."""
    if not value:
        return None
    if value.replace(".", "", 1).isdigit():
        return float(value)
    parts = DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * UNIT_SECONDS[u] for n, u in parts)


def seconds(value: Any) -> float | None:
    """A TTL given as a number of seconds or as a duration string."""
    value = known(value)
    as_number = number(value)
    return as_number if as_number is not None else duration_seconds(value if isinstance(value, str) else None)


def truthy(value: Any) -> bool:
    value = known(value)
    return value is True or (isinstance(value, str) and value.lower() == "true")


@dataclass(frozen=True, order=True)
class Finding:
    """One violation: which rule, how bad, which resource, what exactly, how to fix."""

    rule: str
    severity: Severity
    urn: str
    message: str
    title: str = field(compare=False)
    fix: str = field(compare=False)

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "urn": self.urn,
            "title": self.title,
            "message": self.message,
            "fix": self.fix,
        }


class Subject(Protocol):
    urn: str


Selector = Callable[[Any], Iterable[Subject]]
Check = Callable[[Any, Any], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    """One checkable invariant.

    `subjects(resources)` yields what the rule looks at (each has a `urn`);
    `violations(subject, resources)` yields one message per problem found.
    `export_only` rules need to tell encrypted from plaintext values, which a policy pack
    cannot (fact 3): they run on exports and plans only.
    """

    id: str
    severity: Severity
    title: str
    fix: str
    source: str
    subjects: Selector
    violations: Check
    export_only: bool = False

    @property
    def family(self) -> str:
        return self.id.rsplit("-", 1)[0]

    def check(self, resources: Any) -> list[Finding]:
        findings: list[Finding] = []
        for subject in self.subjects(resources):
            try:
                messages = list(self.violations(subject, resources))
            except UnknownValueError:
                continue
            except (TypeError, AttributeError, ValueError, KeyError, RecursionError) as error:
                # a hostile or hand-edited export: a property of a shape no rule expects is a finding, not a crash
                messages = [f"cannot be checked: a property has a shape Pulumi never writes ({type(error).__name__})"]
            findings.extend(Finding(self.id, self.severity, subject.urn, message, self.title, self.fix) for message in messages)
        return findings


def rules_on(subjects: Selector) -> Callable[..., Rule]:
    """A rule factory for one kind of subject: `realm_rule = rules_on(realms)`."""

    def make(rule_id: str, severity: Severity, title: str, fix: str, source: str, check: Check, *, export_only: bool = False) -> Rule:
        return Rule(rule_id, severity, title, fix, source, subjects=subjects, violations=check, export_only=export_only)

    return make
