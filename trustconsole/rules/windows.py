"""Sliding-window counts in the shared cache (Redis, else the file cache).

A count is kept in one-minute buckets (`rules:w:<key>:<minute>`, expiring after
the longest window); a window of N minutes is the sum of its N buckets, read in
one `get_many`. Counting starts when a rule first reads the count. A cache that
cannot be reached gives 0 (the decision goes on, the rule sees no history).

`hit_and_count` is the same for one short window with finer buckets (a tenth of
the window), for the gates' own triggers such as message velocity.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from trustconsole.lib import sharedcache

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
            found = sharedcache.hit_and_read(
                names[0], names, timeout=longest + BUCKET_SECONDS
            )
        else:
            found = sharedcache.get_many(names)
    except Exception as exc:  # noqa: BLE001 - counts are advisory
        logger.warning("rule window counts unavailable: %s", exc)
        return dict.fromkeys(spans, 0)
    out = {}
    for name, seconds in spans.items():
        n = max(1, seconds // BUCKET_SECONDS)
        out[name] = sum(int(found.get(bucket) or 0) for bucket in names[:n])
    return out


def hit(key: str, seconds: int, *, now: dt.datetime | None = None) -> None:
    """Count one event of `key` for the windows `counts` reads (up to `seconds`),
    reading back only its own bucket: a day's window is 1,440 buckets, which a
    count nobody reads now need not fetch. One round trip on Redis."""
    name = f"rules:w:{key}:{_minute(now)}"
    try:  # the bucket's lifetime as `counts` gives it
        sharedcache.hit_and_read(name, [name], timeout=seconds + BUCKET_SECONDS)
    except Exception as exc:  # noqa: BLE001 - counts are advisory
        logger.warning("rule window counts unavailable: %s", exc)


def hit_and_count(key: str, seconds: int, *, now: dt.datetime | None = None) -> int:
    """Count one event of `key` and return the events of the last `seconds`.

    Buckets are a tenth of the window (at least a second) and the oldest one is
    counted whole, so the count never misses an event of the window and may
    include one bucket's worth from just before it. One round trip on Redis; 0
    when the cache cannot be reached.
    """
    count, _ = hit_and_count_reading(key, seconds, (), now=now)
    return count or 0


def hit_and_count_reading(
    key: str, seconds: int, also: Sequence[str], *, now: dt.datetime | None = None
) -> tuple[int | None, dict[str, Any]]:
    """`hit_and_count`, reading the cache keys `also` in the same round trip:
    (count, {key: value} of those found); (None, {}) when the cache cannot be
    reached."""
    size = max(1, seconds // 10)
    at = now.timestamp() if now is not None else time.time()
    current = int(at // size)
    names = [f"rules:h:{key}:{size}:{current - i}" for i in range(seconds // size + 1)]
    try:
        found = sharedcache.hit_and_read(
            names[0], [*names, *also], timeout=seconds + 2 * size
        )
    except Exception as exc:  # noqa: BLE001 - counts are advisory
        logger.warning("window count unavailable: %s", exc)
        return None, {}
    count = sum(int(found.get(name) or 0) for name in names)
    return count, {k: found[k] for k in also if k in found}
