"""A visitor's trust score over time, rebuilt from its risk signals.

The score at any moment is 100 minus the weights of the signals active then
(never below 0), so the signals' start, end and expiry times are exactly the
moments it changed; no separate history table is needed.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from visitors.choices import SCORE_MAX
from visitors.models import RiskSignal, Visitor


def trust_score_history(
    *, visitor: Visitor, now: dt.datetime | None = None
) -> list[tuple[dt.datetime, int]]:
    """(moment, score) at every change, oldest first, ending with now."""
    now = now or timezone.now()
    spans = []
    for created, ended, expires, weight in RiskSignal.objects.filter(
        visitor=visitor
    ).values_list("created_at", "ended_at", "expires_at", "weight"):
        ends = [e for e in (ended, expires) if e is not None]
        spans.append((created, min(ends) if ends else None, weight))
    start = min([visitor.created_at, *(s[0] for s in spans)])
    moments = sorted(
        {start, *(s[0] for s in spans), *(s[1] for s in spans if s[1] and s[1] <= now)}
    )
    points: list[tuple[dt.datetime, int]] = []
    for moment in moments:
        total = sum(w for c, e, w in spans if c <= moment and (e is None or e > moment))
        score = max(0, SCORE_MAX - total)
        if not points or points[-1][1] != score:
            points.append((moment, score))
    points.append((max(now, points[-1][0]), points[-1][1]))
    return points
