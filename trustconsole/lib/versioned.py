"""Cross-process version counters in the shared cache.

A writer bumps a key after commit; readers that keep an in-process copy of some
derived data (e.g. the call gate's blocked-number set) compare the version they built
it at with the current one and rebuild when it moved. With Redis the counter is
shared by every process on every host; with the embedded defaults the file-based
cache shares it between the local web, worker and beat processes.
"""

from __future__ import annotations

from django.core.cache import cache

PREFIX = "version:"


def cache_name(key: str) -> str:
    """The cache key under which the version of `key` is kept."""
    return PREFIX + key


def version_get(key: str) -> int:
    """The current version of `key` (0 when never bumped)."""
    value = cache.get(PREFIX + key)
    return int(value) if value is not None else 0


def version_bump(key: str) -> int:
    """Move `key` to a new version and return it."""
    full = PREFIX + key
    try:
        return int(cache.incr(full))
    except ValueError:
        # Not there yet: create it; add() loses gracefully to a concurrent creator.
        if cache.add(full, 1, timeout=None):
            return 1
        return int(cache.incr(full))
