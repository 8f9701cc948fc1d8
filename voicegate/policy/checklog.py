"""The outbound check log: every check, allowed or refused, with the facts the
outbound-check rules saw (`OutboundCheck`), so a draft rule can be backtested
against all the calls it would have judged, not only the refused ones.

No query on the check's path: a check is kept in process
(`trustconsole.lib.rowbuffer`) and written in one bulk insert every
`RULES_HITS_FLUSH_SECONDS`, with the rules' hit counts: by the process's
background flusher (`trustconsole.lib.flusher`) in a serving process, else by the
next check that finds a flush due. Bounded: at most `POLICY_CHECK_LOG_PER_HOUR` allowed
checks per organisation and hour (refused ones are always kept: each is already a
row of the denial log), counted in process and against the table at the flush
under a lock of the organisation row on PostgreSQL, and rows older than
`POLICY_CHECK_LOG_DAYS` purged hourly by beat (`voicegate.policy.checks_prune`).
A serving process that ends writes what it still holds (the flusher's last flush,
bounded in time); one killed outright loses it (the log is for backtests, the
denial log stays the record of refusals).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, NamedTuple

from django.conf import settings

from trustconsole.lib import flusher
from trustconsole.lib.rowbuffer import RowBuffer

logger = logging.getLogger(__name__)


def per_hour() -> int:
    """Allowed checks kept per organisation and hour."""
    return int(getattr(settings, "POLICY_CHECK_LOG_PER_HOUR", 10_000))


def keep_days() -> int:
    """Days a logged check is kept."""
    return int(getattr(settings, "POLICY_CHECK_LOG_DAYS", 30))


class Pending(NamedTuple):
    """A check waiting for the next flush (the columns of `OutboundCheck`; a
    tuple: cheaper to make on the check's path than a frozen dataclass)."""

    organisation_id: int
    account_id: int | None
    account_key: str
    account_status: str
    numbers_owned: int
    from_number: str
    from_e164: str
    caller_id_owned: bool
    to_number: str
    to_e164: str
    destination_status: str
    whitelisted: bool
    calls_made: int
    harassment_limit: int
    harassment_window_seconds: int
    allowed: bool
    codes: str
    occurred_at: dt.datetime


# Allowed checks admitted per (organisation, hour) by this process.
_BUFFER: RowBuffer[Pending] = RowBuffer("the outbound check log", log=logger)
_last_flush = time.monotonic()


def _hour(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def record(outcome: Any, *, organisation_id: int) -> None:
    """Keep one check (`check.CheckOutcome`) for the next flush; in memory."""
    request, snap, account = outcome.request, outcome.snapshot, outcome.account
    stamp = time.time()
    now = dt.datetime.fromtimestamp(stamp, dt.UTC)
    allowed = outcome.allowed
    if allowed and not _BUFFER.admit(organisation_id, int(stamp // 3600), per_hour()):
        return
    facts = outcome.rule_facts or {}
    caller_id = facts.get("caller_id", {})
    destination = facts.get("destination", {})
    policy = facts.get("policy", {})
    entry = Pending(
        organisation_id=organisation_id,
        account_id=account.pk if account is not None else None,
        account_key=outcome.caller_key[:60],
        account_status=str(facts.get("account", {}).get("status", ""))[:16],
        numbers_owned=len(account.owned) if account is not None else 0,
        from_number=request.from_raw[:64],
        from_e164=request.from_e164[:64],
        caller_id_owned=bool(caller_id.get("owned")),
        to_number=request.to_raw[:64],
        to_e164=(request.to_e164 or "")[:64],
        destination_status=str(destination.get("status", ""))[:16],
        whitelisted=bool(outcome.whitelisted),
        calls_made=int(destination.get("calls_made", 0)),
        harassment_limit=int(
            policy.get("harassment_limit", snap.settings.harassment_limit)
        ),
        harassment_window_seconds=int(
            policy.get(
                "harassment_window_seconds", snap.settings.harassment_window_seconds
            )
        ),
        allowed=allowed,
        codes=",".join(f.code for f in outcome.findings)[:200],
        occurred_at=now,
    )
    _BUFFER.append(entry)


def pending() -> int:
    """Checks waiting for the next flush."""
    return len(_BUFFER)


def flush_due() -> None:
    """Write the buffered checks every RULES_HITS_FLUSH_SECONDS when no background
    flusher does (cheap when nothing is due, or when it does)."""
    if flusher.running():
        return
    if pending() and time.monotonic() - _last_flush >= flusher.period():
        flush()


def flush() -> int:
    """Write the buffered checks (one bulk insert); returns rows written.

    The cap on allowed checks holds across processes: the organisation rows are
    locked (PostgreSQL; SQLite writes one at a time anyway) and the allowed
    checks already logged this hour counted. A check whose account is gone by
    now is kept without it.
    """
    global _last_flush
    _last_flush = time.monotonic()
    return _BUFFER.flush(_write)


def _write(rows: list[Pending]) -> int:
    """Store `rows` in one transaction (see `flush`); returns rows written."""
    from django.db import transaction

    from accounts.models import Account
    from trustconsole.core.models import Organisation
    from voicegate.policy.models import OutboundCheck

    cap = per_hour()
    with transaction.atomic():
        orgs = set(
            Organisation.objects.select_for_update()
            .filter(pk__in={r.organisation_id for r in rows})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        accounts = {r.account_id for r in rows if r.account_id is not None}
        if accounts:
            accounts = set(
                Account.objects.filter(pk__in=accounts).values_list("pk", flat=True)
            )
        taken = _allowed_logged(
            OutboundCheck,
            {(r.organisation_id, _hour(r.occurred_at)) for r in rows if r.allowed},
            orgs,
        )
        new = []
        for r in rows:
            if r.organisation_id not in orgs:
                continue
            if r.allowed:
                hour = (r.organisation_id, _hour(r.occurred_at))
                if taken.get(hour, 0) >= cap:
                    continue
                taken[hour] = taken.get(hour, 0) + 1
            new.append(r if r.account_id in accounts else _without_account(r))
        _insert(OutboundCheck, new)
    return len(new)


def _allowed_logged(
    model: Any, hours: set[tuple[int, dt.datetime]], orgs: set[int]
) -> dict[tuple[int, dt.datetime], int]:
    """Allowed checks already logged per (organisation, hour) of `hours`: one
    query of a count per hour, by ranges of the (organisation, time) index (a
    truncation per row would run a function on every row of the hour)."""
    from django.db.models import Count, Q

    wanted = sorted((o, h) for o, h in hours if o in orgs)
    if not wanted:
        return {}
    step = dt.timedelta(hours=1)
    scope = model.objects.filter(
        organisation_id__in={o for o, _ in wanted},
        occurred_at__gte=min(h for _, h in wanted),
        allowed=True,
    )
    counts = scope.aggregate(
        **{
            f"h{n}": Count(
                "id",
                filter=Q(
                    organisation_id=o, occurred_at__gte=h, occurred_at__lt=h + step
                ),
            )
            for n, (o, h) in enumerate(wanted)
        }
    )
    return {key: int(counts[f"h{n}"] or 0) for n, key in enumerate(wanted)}


def _without_account(row: Pending) -> Pending:
    return row._replace(account_id=None)


def _insert(model: Any, rows: list[Pending]) -> None:
    """Write `rows`: on PostgreSQL by COPY (an INSERT of thousands of
    parameters costs more to build and parse than to write, and executemany is a
    round trip a row); elsewhere multi-row INSERTs as large as the database
    takes. The ORM's bulk_create spends more time building SQL per field than
    either."""
    from django.db import connection

    names = Pending._fields  # the columns of OutboundCheck
    quote = connection.ops.quote_name
    into = f"{quote(model._meta.db_table)} ({', '.join(quote(n) for n in names)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: the rows streamed in psycopg's own format, no SQL to parse.
            with cursor.cursor.copy(f"COPY {into} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        adapt = connection.ops.adapt_datetimefield_value
        one = f"({', '.join(['%s'] * len(names))})"
        size = max(1, connection.ops.bulk_batch_size(list(names), rows))
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            params: list[Any] = []
            for row in batch:
                params += row[:-1]
                params.append(adapt(row.occurred_at))  # the last column
            cursor.execute(
                f"INSERT INTO {into} VALUES {', '.join([one] * len(batch))}", params
            )


def prune(*, now: dt.datetime | None = None) -> int:
    """Delete logged checks older than `POLICY_CHECK_LOG_DAYS`; returns how many."""
    from voicegate.policy.models import OutboundCheck

    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=keep_days())
    deleted, _ = OutboundCheck.objects.filter(occurred_at__lt=since).delete()
    return deleted


def reset() -> None:
    """Forget buffered checks; the next flush is due in a full period (tests,
    benchmarks)."""
    global _last_flush
    _BUFFER.clear()
    _last_flush = time.monotonic()


flusher.register("the outbound check log", flush)
