"""A five-field cron expression (minute hour day-of-month month day-of-week) and its next time.

Supports `*`, numbers, lists (`1,15`), ranges (`1-5`) and steps (`*/15`, `0-30/10`);
enough for the spec's schedule without a dependency. Day-of-month and day-of-week
combine as in cron: if both are restricted, either may match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))


class CronError(ValueError):
    """The expression is not a valid five-field cron expression (names the field)."""


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else (1 if not step_text else -1)
        if step < 1:
            raise CronError(f"{name}: bad step in {part!r}")
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            first, _, last = spec.partition("-")
            if not (first.isdigit() and last.isdigit()):
                raise CronError(f"{name}: bad range {spec!r}")
            start, end = int(first), int(last)
        elif spec.isdigit():
            start = end = int(spec)
            if step_text:
                end = high
        else:
            raise CronError(f"{name}: {part!r} is not a number, range, list or step")
        if not low <= start <= end <= high:
            raise CronError(f"{name}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != 5:
            raise CronError(f"{expression!r}: expected 5 fields (minute hour day month weekday), got {len(parts)}")
        sets = [_parse_field(text, *field) for text, field in zip(parts, FIELDS, strict=True)]
        return cls(*sets, days_restricted=parts[2] != "*", weekdays_restricted=parts[4] != "*")

    def _day_matches(self, moment: datetime) -> bool:
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day or weekday
        return day and weekday

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after `moment` (same tzinfo)."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = candidate + timedelta(days=366 * 5)
        while candidate < limit:
            if candidate.month not in self.months or not self._day_matches(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
                continue
            if candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
                continue
            return candidate
        raise CronError("the expression never matches")
