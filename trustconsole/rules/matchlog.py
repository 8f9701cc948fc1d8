"""The match log: each event a rule matched on chat messages, chat events, outbound
checks (allowed or refused, with the violation codes), signups, usage reviews and
inbound calls (the rules reading the call count, which run once the call is
logged), with what really happened (`RuleMatch`), for "shadow against
real" on a rule's page.

No query on the hot path: a match is kept in process (`trustconsole.lib.rowbuffer`)
and written in bulk when the hit counts are (`engine.hits_flush`: by the process's
background flusher, `trustconsole.lib.flusher`). At most
`RULES_MATCH_LOG_PER_HOUR` rows per rule and hour (a broad shadow rule cannot
flood the table: beyond the cap only its hit count moves); rows older than
`RULES_MATCH_LOG_DAYS` are purged by beat (`rules.matches_prune`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from trustconsole.lib.rowbuffer import RowBuffer, hour_index

logger = logging.getLogger(__name__)

EXCERPT = 200  # characters of a message, note or email kept


def per_hour() -> int:
    """Rows kept per rule and hour."""
    return int(getattr(settings, "RULES_MATCH_LOG_PER_HOUR", 200))


def keep_days() -> int:
    """Days a row is kept."""
    return int(getattr(settings, "RULES_MATCH_LOG_DAYS", 30))


@dataclass(frozen=True, slots=True)
class Pending:
    """A match waiting for the next flush."""

    organisation_id: int
    rule_pk: int
    version: int
    mode: str
    channel: str
    occurred_at: dt.datetime
    visitor_pk: int | None
    account_pk: int | None
    subject_label: str
    excerpt: str
    real: str
    real_by: str
    acted: bool


# Admitted per (rule, hour) by this process, so the cap also bounds the buffer.
_BUFFER: RowBuffer[Pending] = RowBuffer("the rule match log", log=logger)


def _hour(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def cut(text: str, size: int = EXCERPT) -> str:
    """`text` on one line, at most `size` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


def record(  # noqa: PLR0913
    *,
    organisation_id: int,
    channel: str,
    rules: list[Any],
    real: str,
    real_by: str = "",
    acted: bool = False,
    visitor_pk: int | None = None,
    account_pk: int | None = None,
    subject_label: str = "",
    excerpt: str = "",
) -> None:
    """Keep one event's matches (`rules`: the engine's matching rules, live and
    shadow) for the next flush; in memory, no query."""
    if not rules:
        return
    now = dt.datetime.now(dt.UTC)
    hour, cap = hour_index(now.timestamp()), per_hour()
    rows = []
    for rule in rules:
        if _BUFFER.admit(rule.pk, hour, cap):
            rows.append(
                Pending(
                    organisation_id, rule.pk, rule.version, rule.mode, channel, now,
                    visitor_pk, account_pk, subject_label[:200], cut(excerpt),
                    real[:40], real_by[:200], acted,
                )
            )  # fmt: skip
    _BUFFER.extend(rows)


def pending() -> int:
    """Matches waiting for the next flush."""
    return len(_BUFFER)


def flush() -> int:
    """Write the buffered matches (one bulk insert); returns rows written.

    The cap holds across processes: the rule rows are locked (PostgreSQL; SQLite
    writes one at a time anyway) and the rows already logged this hour counted.
    A match whose rule, visitor or account is gone by now is dropped.
    """
    return _BUFFER.flush(_write)


def _write(rows: list[Pending]) -> int:
    """Store `rows` in one transaction (see `flush`); returns rows written."""
    from django.db import transaction
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    from accounts.models import Account
    from trustconsole.rules.models import Rule, RuleMatch
    from visitors.models import Visitor

    cap = per_hour()
    with transaction.atomic():
        rule_pks = sorted({r.rule_pk for r in rows})
        existing = set(
            Rule.objects.select_for_update()
            .filter(pk__in=rule_pks)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        visitors = {r.visitor_pk for r in rows if r.visitor_pk is not None}
        if visitors:
            visitors = set(
                Visitor.objects.filter(pk__in=visitors).values_list("pk", flat=True)
            )
        accounts = {r.account_pk for r in rows if r.account_pk is not None}
        if accounts:
            accounts = set(
                Account.objects.filter(pk__in=accounts).values_list("pk", flat=True)
            )
        taken = {
            (row["rule_id"], row["hour"]): row["n"]
            for row in RuleMatch.objects.filter(
                rule_id__in=existing,
                occurred_at__gte=min(_hour(r.occurred_at) for r in rows),
            )
            .annotate(hour=TruncHour("occurred_at", tzinfo=dt.UTC))
            .values("rule_id", "hour")
            .annotate(n=Count("id"))
        }
        new = []
        for r in rows:
            key = (r.rule_pk, _hour(r.occurred_at))
            if (
                r.rule_pk not in existing
                or (r.visitor_pk is not None and r.visitor_pk not in visitors)
                or (r.account_pk is not None and r.account_pk not in accounts)
                or taken.get(key, 0) >= cap
            ):
                continue
            taken[key] = taken.get(key, 0) + 1
            new.append(
                RuleMatch(
                    organisation_id=r.organisation_id, rule_id=r.rule_pk,
                    version=r.version, mode=r.mode, channel=r.channel,
                    occurred_at=r.occurred_at, visitor_id=r.visitor_pk,
                    account_id=r.account_pk, subject_label=r.subject_label,
                    excerpt=r.excerpt, real=r.real, real_by=r.real_by,
                    acted=r.acted,
                )
            )  # fmt: skip
        RuleMatch.objects.bulk_create(new, batch_size=500)
    return len(new)


def prune(*, now: dt.datetime | None = None) -> int:
    """Delete rows older than `RULES_MATCH_LOG_DAYS`; returns how many."""
    from trustconsole.rules.models import RuleMatch

    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=keep_days())
    deleted, _ = RuleMatch.objects.filter(occurred_at__lt=since).delete()
    return deleted


def reset() -> None:
    """Forget buffered matches (tests, benchmarks)."""
    _BUFFER.clear()
