"""Fixed-window rate limits shared by every process of the console.

A limit is COUNT requests per WINDOW seconds for one identity in one scope (a widget
key, a client IP, a webhook token). With `REDIS_URL` the counters live in Redis and
one script call checks every counter of a request in one round trip; otherwise the
Django cache holds them (the embedded defaults: one machine).

Two things keep the limiter off the hot path's critical costs:

- Large limits (400 or more per window) are taken from Redis in small leases: a
  process reserves up to 1/200 of the limit (at most 50) at once and spends it
  locally, so a busy webhook costs one round trip per lease instead of one per
  request. Reserved counts are never given back, so a limit is never exceeded;
  at worst a process holding an unspent lease makes the others stop a little early.
- The limiter fails open: if Redis does not answer, the request goes on (a rate
  limit must never take the call gate down) and Redis is not asked again for a
  couple of seconds. The warning is logged once per outage.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# After Redis failed, skip it (allow everything) for this many seconds.
OUTAGE_BACKOFF = 2.0
# Redis must answer within this time, or the limiter gives up and allows.
REDIS_TIMEOUT = 0.25
LEASE_DIVISOR = 200
LEASE_MAX = 50

_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local take = tonumber(ARGV[2 * i - 1])
  local count = redis.call('INCRBY', key, take)
  if count == take then redis.call('EXPIRE', key, ARGV[2 * i]) end
  out[i] = count
end
return out
"""


@dataclass(frozen=True)
class Rate:
    """COUNT per WINDOW seconds; a limit of 0 means no limit."""

    limit: int
    window: int

    @classmethod
    def of(cls, value: tuple[int, int]) -> Rate:
        """A rate from `trustconsole.env.env_rate`'s (count, seconds)."""
        return cls(limit=value[0], window=value[1])

    @property
    def lease(self) -> int:
        """How many requests one process reserves at once."""
        return max(1, min(LEASE_MAX, self.limit // LEASE_DIVISOR))


@dataclass(frozen=True)
class Verdict:
    """Whether the request may go on; if not, seconds until it may."""

    allowed: bool
    retry_after: int = 0
    scope: str = ""


ALLOWED = Verdict(allowed=True)


_lock = threading.Lock()
_leases: dict[str, int] = {}
_redis: dict[str, Any] = {}
_down_until = 0.0


@functools.lru_cache(maxsize=4096)  # the same tokens and addresses again and again
def _digest(ident: str) -> str:
    # Identities come from request headers: keep keys short and harmless.
    return hashlib.blake2b(ident.encode("utf-8", "replace"), digest_size=12).hexdigest()


def _key(scope: str, ident: str, rate: Rate, index: int) -> str:
    prefix = settings.RATELIMIT_KEY_PREFIX
    return f"{prefix}:{scope}:{rate.window}:{_digest(ident)}:{index}"


def _client() -> Any:
    if "client" not in _redis:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        _redis["script"] = client.register_script(_SCRIPT)
        _redis["client"] = client
    return _redis["script"]


def _counts(keys: list[str], takes: list[int], ttls: list[int]) -> list[int] | None:
    """Add `takes` to the counters in one round trip; None if nothing answered."""
    global _down_until
    if time.monotonic() < _down_until:
        return None
    try:
        if settings.REDIS_URL:
            args: list[int] = []
            for take, ttl in zip(takes, ttls, strict=True):
                args += [take, ttl]
            return [int(c) for c in _client()(keys=keys, args=args)]
        counts = []
        for key, take, ttl in zip(keys, takes, ttls, strict=True):
            cache.add(key, 0, ttl)
            try:
                counts.append(int(cache.incr(key, take)))
            except ValueError:  # expired between add and incr
                cache.add(key, take, ttl)
                counts.append(take)
        return counts
    except Exception:  # noqa: BLE001 - any failure: allow, never break the request
        if time.monotonic() >= _down_until:
            logger.warning(
                "rate limits unavailable, allowing requests for %.0f s",
                OUTAGE_BACKOFF,
                exc_info=True,
            )
        _down_until = time.monotonic() + OUTAGE_BACKOFF
        return None


def _take_lease(key: str) -> bool:
    with _lock:
        left = _leases.get(key, 0)
        if left > 0:
            _leases[key] = left - 1
            return True
    return False


def _store_lease(key: str, left: int) -> None:
    with _lock:
        if len(_leases) > 10_000:  # old windows' keys: forget them
            _leases.clear()
        if left > 0:
            _leases[key] = left


def check(
    checks: Sequence[tuple[str, str, Rate]], *, now: float | None = None
) -> Verdict:
    """Count one request against every (scope, identity, rate); refuse if any is full.

    Every counter is incremented, refused or not, so a client that keeps trying
    stays refused until its window ends.
    """
    now = time.time() if now is None else now
    pending: list[tuple[str, str, Rate, int]] = []
    for scope, ident, rate in checks:
        if rate.limit <= 0:
            continue
        index = int(now // rate.window)
        key = _key(scope, ident, rate, index)
        if rate.lease > 1 and _take_lease(key):
            continue
        pending.append((scope, key, rate, index))
    if not pending:
        return ALLOWED
    takes = [min(rate.lease, rate.limit) for _, _, rate, _ in pending]
    counts = _counts(
        [key for _, key, _, _ in pending],
        takes,
        [rate.window + 1 for _, _, rate, _ in pending],
    )
    if counts is None:
        return ALLOWED
    refused: Verdict | None = None
    for (scope, key, rate, index), take, count in zip(
        pending, takes, counts, strict=True
    ):
        granted = min(take, rate.limit - (count - take))
        if granted <= 0:
            wait = max(1, math.ceil((index + 1) * rate.window - now))
            if refused is None or wait > refused.retry_after:
                refused = Verdict(allowed=False, retry_after=wait, scope=scope)
        elif rate.lease > 1:
            _store_lease(key, granted - 1)
    return refused or ALLOWED


def hit(scope: str, ident: str, rate: Rate, *, now: float | None = None) -> Verdict:
    """Count one request of `ident` in `scope`; refuse when its window is full."""
    return check([(scope, ident, rate)], now=now)


def forget() -> None:
    """Drop this process's leases and Redis client (tests, after a fork)."""
    global _down_until
    with _lock:
        _leases.clear()
    _redis.clear()
    _down_until = 0.0
