"""A per-process cache whose entries every process drops when a shared generation moves.

For lookups on a hot path that rarely change (API tokens, chat widget keys): a hit
costs a dict lookup, no database query and no cache round trip. A change anywhere
calls `bump()` after it commits; every process reads the generation key from the
shared cache at most once per `check_seconds` and drops its entries when it moved
(or cannot be read: then nothing cached is trusted). An entry is also read again
from the database after `max_age` seconds.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Generic, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

V = TypeVar("V")


class GenerationCache(Generic[V]):
    """Values of this process by key, dropped when `generation_key` moves."""

    def __init__(
        self,
        generation_key: str,
        *,
        max_age: float = 30.0,
        check_seconds: float = 1.0,
        limit: int = 10_000,
    ) -> None:
        self.generation_key = generation_key
        self.max_age = max_age
        self.check_seconds = check_seconds
        self.limit = limit
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[V, float]] = {}
        self.generation: object = None
        self.checked = -check_seconds

    def _check(self, now: float) -> None:
        if now - self.checked < self.check_seconds:
            return
        try:
            generation = cache.get(self.generation_key, 0)
        except Exception:  # noqa: BLE001 - cannot tell: trust nothing cached
            generation = object()
        with self.lock:
            if generation != self.generation:
                self.entries.clear()
                self.generation = generation
            self.checked = now

    def get(self, key: str) -> V | None:
        now = time.monotonic()
        self._check(now)
        hit = self.entries.get(key)
        if hit is None or now - hit[1] >= self.max_age:
            return None
        return hit[0]

    def put(self, key: str, value: V) -> None:
        with self.lock:
            if len(self.entries) >= self.limit:
                self.entries.clear()
            self.entries[key] = (value, time.monotonic())

    def clear(self) -> None:
        """Drop this process's entries now (and read the generation next time)."""
        with self.lock:
            self.entries.clear()
            self.checked = -self.check_seconds

    def bump(self) -> None:
        """Make every process drop its entries within `check_seconds` (call it
        after the change commits); this process drops them at once."""
        self.clear()
        try:
            cache.set(self.generation_key, secrets.token_hex(8), None)
        except Exception:  # noqa: BLE001 - the cache is down: every process
            # distrusts its entries while it cannot read the generation
            logger.warning(
                "%s not moved: the shared cache is down", self.generation_key
            )
