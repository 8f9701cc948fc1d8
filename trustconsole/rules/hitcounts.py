"""Rule hit counts: kept per process, written to `RuleHitCount` in batches.

The engine counts each matching rule (and each run-time error) per hour and
mode; `flush` writes them, with the buffered match log (`matchlog`). In a serving
process the background flusher (`trustconsole.lib.flusher`) calls it every
RULES_HITS_FLUSH_SECONDS, so a decision never waits for a database write and
`flush_due` (still called by every hook) does nothing; elsewhere `flush_due`
writes them in the call that finds a flush due.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from trustconsole.lib import flusher
from trustconsole.rules import matchlog

logger = logging.getLogger(__name__)

_HITS: dict[tuple[int, dt.datetime, str], list[int]] = defaultdict(lambda: [0, 0])
_HITS_LOCK = threading.Lock()
_last_flush = time.monotonic()


def count(rule_pk: int, mode: str, *, error: bool = False) -> None:
    """One hit (or, with `error`, one run-time error) of a rule in `mode`."""
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    with _HITS_LOCK:
        _HITS[(rule_pk, hour, mode)][1 if error else 0] += 1


def count_hits(rules: Sequence[Any]) -> None:
    """A hit of each rule (`engine.CompiledRule`: its `pk` and `mode`)."""
    if not rules:
        return
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    with _HITS_LOCK:
        for rule in rules:
            _HITS[(rule.pk, hour, rule.mode)][0] += 1


def flush_due() -> None:
    """Write the counts (and the match log) every RULES_HITS_FLUSH_SECONDS when no
    background flusher does (cheap when nothing is due, or when it does)."""
    if flusher.running():
        return
    if (_HITS or matchlog.pending()) and time.monotonic() - _last_flush >= (
        flusher.period()
    ):
        flush()


def flush() -> int:
    """Add this process's counts to `RuleHitCount` rows, and write its buffered
    matches (`matchlog`); returns hit-count rows touched."""
    global _last_flush
    from django.db import transaction
    from django.db.models import F

    from trustconsole.rules.models import Rule, RuleHitCount

    with _HITS_LOCK:
        pending = dict(_HITS)
        _HITS.clear()
        _last_flush = time.monotonic()
    matchlog.flush()
    if not pending:
        return 0
    try:
        with transaction.atomic():
            existing = set(
                Rule.objects.filter(pk__in={k[0] for k in pending}).values_list(
                    "pk", flat=True
                )
            )
            for (rule_pk, hour, mode), (hits, errors) in pending.items():
                if rule_pk not in existing:
                    continue
                row, created = RuleHitCount.objects.get_or_create(
                    rule_id=rule_pk, hour=hour, mode=mode,
                    defaults={"hits": hits, "errors": errors},
                )  # fmt: skip
                if not created:
                    RuleHitCount.objects.filter(pk=row.pk).update(
                        hits=F("hits") + hits, errors=F("errors") + errors
                    )
    except Exception:  # noqa: BLE001 - counts wait for the next flush
        with _HITS_LOCK:
            for key, (hits, errors) in pending.items():
                _HITS[key][0] += hits
                _HITS[key][1] += errors
        logger.warning("could not write rule hit counts", exc_info=True)
        return 0
    return len(pending)


def reset() -> None:
    """Forget the counts and the buffered matches (tests, benchmarks)."""
    with _HITS_LOCK:
        _HITS.clear()
    matchlog.reset()


flusher.register("rule hit counts and the rule match log", flush)
