"""Business-day arithmetic for the review SLA (Monday–Friday; no holiday calendar)."""

from __future__ import annotations

import datetime as dt


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date `days` business days after `start` (weekends skipped)."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def business_days_between(start: dt.date, end: dt.date) -> int:
    """How many business days pass going from `start` to `end` (0 if end <= start)."""
    count = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            count += 1
    return count
