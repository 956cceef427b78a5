"""When the jobs run: each job's cron expression (croniter) in the configured time zone.

Jobs never overlap (restic would refuse a second writer anyway): a job that comes due
while another runs starts right after it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from .config import Schedules


def next_due(schedules: Schedules, zone: ZoneInfo, after: datetime) -> tuple[datetime, str]:
    """The earliest (time, job) strictly after `after`; ties go to backup, then drill, then check."""
    moment = after.astimezone(zone)
    order = ("backup", "drill", "check")
    due, _, job = min((croniter(getattr(schedules, job), moment).get_next(datetime), rank, job) for rank, job in enumerate(order))
    return due, job
