"""Calls per day on the call log: allowed and rejected, for the filtered calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString

from trustconsole.lib.charts import Series, per_day_bars
from trustconsole.lib.timeseries import counts_per_day

DAYS = 30
MAX_DAYS = 92
# The dashboard's colours (static/css/console.css).
GREEN, RED = "#1a7f37", "#b3261e"


def calls_per_day(
    rows: QuerySet[Any],
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    """{"days": [{"date", "allowed", "rejected"}], "chart": svg} for the filtered
    calls: the filter's dates (at most 92 days, ending at its last day), else the
    last 30 days."""
    last = date_to or timezone.localdate()
    first = date_from or last - dt.timedelta(days=DAYS - 1)
    if first > last:
        first = last
    first = max(first, last - dt.timedelta(days=MAX_DAYS - 1))
    tz = timezone.get_current_timezone()
    window = rows.filter(
        created_at__gte=dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        created_at__lt=dt.datetime.combine(
            last + dt.timedelta(days=1), dt.time.min, tzinfo=tz
        ),
    )
    counts = counts_per_day(window, by="decision")
    dates = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    days: list[dict[str, Any]] = [
        {
            "date": day.isoformat(),
            "allowed": counts.get((day, "allow"), 0),
            "rejected": counts.get((day, "reject"), 0),
        }
        for day in dates
    ]
    chart: SafeString = per_day_bars(
        days=[d["date"] for d in days],
        series=[
            Series("Rejected", RED, [d["rejected"] for d in days]),
            Series("Allowed", GREEN, [d["allowed"] for d in days]),
        ],
        title=f"Calls per day, {first.isoformat()} to {last.isoformat()}",
    )
    return {"days": days, "chart": chart, "first": first, "last": last}
