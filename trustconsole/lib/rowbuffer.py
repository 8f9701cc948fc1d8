"""Rows kept in process until a bulk write: what the rule match log and the outbound
check log have in common.

A hot path appends a row under a lock (no query); a flush takes every row at once
and writes them. When the write fails (the database is down) the rows go back in
front of the buffer for the next flush, at most `limit` of them (the oldest drop),
so a long outage cannot grow a process without bound. `admit` keeps the per-hour
cap of a log in process: a row over its key's cap this hour is never buffered, so
the cap bounds the buffer too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

MAX_PENDING = 50_000  # kept while the database cannot be written; older ones drop

Row = TypeVar("Row")


def hour_index(stamp: float | None = None) -> int:
    """Hours since the epoch of `stamp` (now by default): a cheap hour key."""
    return int((time.time() if stamp is None else stamp) // 3600)


class RowBuffer(Generic[Row]):
    """The rows waiting for the next write of one log (`what` names it in logs)."""

    def __init__(
        self,
        what: str,
        *,
        limit: int = MAX_PENDING,
        log: logging.Logger | None = None,
    ) -> None:
        self.what = what
        self.limit = limit
        self.log = log or logger  # the log's own module says it could not write
        self.rows: list[Row] = []
        self.lock = threading.Lock()
        # Rows buffered per (key, hour index) since the hour began: the cap's count.
        self.taken: dict[tuple[Hashable, int], int] = defaultdict(int)

    def __len__(self) -> int:
        return len(self.rows)

    def admit(self, key: Hashable, hour: int, cap: int) -> bool:
        """Count one more row of `key` in `hour` unless it already has `cap`."""
        slot = (key, hour)
        with self.lock:
            if self.taken[slot] >= cap:
                return False
            self.taken[slot] += 1
        return True

    def append(self, row: Row) -> None:
        """Keep one row for the next write."""
        with self.lock:
            self.rows.append(row)

    def extend(self, rows: list[Row]) -> None:
        """Keep rows for the next write."""
        with self.lock:
            self.rows.extend(rows)

    def take(self) -> list[Row]:
        """Every row waiting, in order; the buffer is empty after. The cap's counts
        of past hours are forgotten here (a flush happens every few seconds)."""
        current = hour_index()
        with self.lock:
            rows, self.rows = self.rows, []
            for slot in [s for s in self.taken if s[1] < current]:
                del self.taken[slot]
        return rows

    def put_back(self, rows: list[Row]) -> None:
        """Rows a write could not store, back in front for the next one (at most
        `limit` kept in all: the oldest drop)."""
        with self.lock:
            self.rows[:0] = rows
            del self.rows[: -self.limit]

    def flush(self, write: Callable[[list[Row]], int]) -> int:
        """Write every row waiting with `write` (its result returned); when it
        raises, the rows wait for the next flush and 0 is returned."""
        rows = self.take()
        if not rows:
            return 0
        try:
            return write(rows)
        except Exception:  # noqa: BLE001 - the rows wait for the next flush
            self.put_back(rows)
            self.log.warning("could not write %s", self.what, exc_info=True)
            return 0

    def clear(self) -> None:
        """Forget every row and count (tests, benchmarks)."""
        with self.lock:
            self.rows.clear()
            self.taken.clear()
