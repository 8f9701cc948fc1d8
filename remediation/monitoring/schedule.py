"""When things happen: the next scheduled check, leases, and when the next
billable refresh may go out."""

from __future__ import annotations

import calendar
import datetime as dt

from django.conf import settings

from remediation.choices import (
    CheckFrequency,
)
from remediation.models import (
    Enterprise,
    ReputationRefresh,
)


def next_check_at(
    frequency: str, *, after: dt.datetime, tz: dt.tzinfo
) -> dt.datetime | None:
    """The next scheduled check after `after`, at REPUTATION_CHECK_HOUR local time.

    business_daily: the next Monday–Friday in the organisation's time zone; daily:
    the next day; weekly / biweekly: 7 / 14 days on; monthly: the same day next
    month (the last day when shorter); never: no schedule (manual refresh only).
    """
    if frequency == CheckFrequency.NEVER:
        return None
    local = after.astimezone(tz)
    day = local.date()
    if frequency == CheckFrequency.WEEKLY:
        day += dt.timedelta(days=7)
    elif frequency == CheckFrequency.BIWEEKLY:
        day += dt.timedelta(days=14)
    elif frequency == CheckFrequency.MONTHLY:
        year, month = (
            (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        )
        last = calendar.monthrange(year, month)[1]
        day = dt.date(year, month, min(day.day, last))
    else:
        day += dt.timedelta(days=1)
        if frequency == CheckFrequency.BUSINESS_DAILY:
            while day.weekday() >= 5:
                day += dt.timedelta(days=1)
    hour = settings.REPUTATION_CHECK_HOUR
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(dt.UTC)


def _pending_poll(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.REPUTATION_PENDING_POLL_SECONDS)


def sync_schedule(enterprise: Enterprise, now: dt.datetime) -> None:
    if not enterprise.monitoring_enabled:
        enterprise.next_sync_at = None
    elif not enterprise.monitoring_approved:
        enterprise.next_sync_at = _pending_poll(now)
    else:
        enterprise.next_sync_at = next_check_at(
            enterprise.check_frequency,
            after=now,
            tz=enterprise.organisation.tzinfo,
        )


def lease_until(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.REMEDIATION_LEASE_SECONDS)


def next_allowed_at(enterprise: Enterprise, now: dt.datetime) -> dt.datetime:
    """When the next billable refresh may go out (Retry-After, per-enterprise limit)."""
    allowed = now
    if enterprise.refresh_blocked_until and enterprise.refresh_blocked_until > allowed:
        allowed = enterprise.refresh_blocked_until
    window = dt.timedelta(seconds=settings.REPUTATION_REFRESH_WINDOW_SECONDS)
    limit = settings.REPUTATION_REFRESH_LIMIT
    sent = [
        at
        for at in ReputationRefresh.objects.filter(
            enterprise=enterprise, sent_at__gt=now - window
        )
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)[:limit]
        if at is not None
    ]
    if len(sent) >= limit:
        allowed = max(allowed, sent[-1] + window)
    return allowed
