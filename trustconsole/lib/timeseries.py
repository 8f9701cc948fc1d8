"""Counts per local day, for the dashboard's charts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone


def day_range(*, days: int, today: dt.date | None = None) -> list[dt.date]:
    """The last `days` local dates, oldest first, ending today."""
    today = today or timezone.localdate()
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def window_start(first_day: dt.date) -> dt.datetime:
    """The aware start (local midnight) of a day."""
    return timezone.make_aware(
        dt.datetime.combine(first_day, dt.time.min), timezone.get_current_timezone()
    )


def counts_per_day(
    queryset: QuerySet[Any], *, field: str = "created_at", by: str | None = None
) -> dict[tuple[dt.date, str], int]:
    """{(local date, value of `by` or ""): count} in one grouped query."""
    tz = timezone.get_current_timezone()
    keys = ["day", by] if by else ["day"]
    rows = (
        queryset.order_by()
        .annotate(day=TruncDate(field, tzinfo=tz))
        .values(*keys)
        .annotate(n=Count("pk"))
    )
    return {(row["day"], row[by] if by else ""): row["n"] for row in rows}


def count_subquery(queryset: QuerySet[Any]) -> Any:
    """COUNT(*) of `queryset`'s rows of the outer query's organisation, as an
    expression (0 when there are none), so several counts cost one query."""
    rows = (
        queryset.filter(organisation=OuterRef("pk"))
        .order_by()
        .values("organisation")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(rows), 0)
