"""Sliding-window counts in the shared cache (Redis, else the file cache).

A count is kept in one-minute buckets (`rules:w:<key>:<minute>`, expiring after
the longest window); a window of N minutes is the sum of its N buckets, read in
one `get_many`. Counting starts when a rule first reads the count. A cache that
cannot be reached gives 0 (the decision goes on, the rule sees no history).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping

from django.core.cache import cache

logger = logging.getLogger(__name__)

BUCKET_SECONDS = 60
MAX_WINDOW = 24 * 3600


def _minute(now: dt.datetime | None) -> int:
    seconds = now.timestamp() if now is not None else time.time()
    return int(seconds // BUCKET_SECONDS)


def counts(
    key: str,
    spans: Mapping[str, int],
    *,
    hit: bool,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """{name: events of `key` within the last `seconds`} for each span; `hit`
    counts this event first."""
    minute = _minute(now)
    longest = max(spans.values())
    buckets = max(1, min(longest, MAX_WINDOW) // BUCKET_SECONDS)
    names = [f"rules:w:{key}:{minute - i}" for i in range(buckets)]
    try:
        if hit:
            current = names[0]
            if not cache.add(current, 1, timeout=longest + BUCKET_SECONDS):
                try:
                    cache.incr(current)
                except ValueError:  # expired between add and incr
                    cache.add(current, 1, timeout=longest + BUCKET_SECONDS)
        found = cache.get_many(names)
    except Exception as exc:  # noqa: BLE001 - counts are advisory
        logger.warning("rule window counts unavailable: %s", exc)
        return dict.fromkeys(spans, 0)
    out = {}
    for name, seconds in spans.items():
        n = max(1, seconds // BUCKET_SECONDS)
        out[name] = sum(int(found.get(bucket) or 0) for bucket in names[:n])
    return out
