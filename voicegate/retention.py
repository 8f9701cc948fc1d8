"""Retention of the call log (`CallDecision`), the refused outbound calls
(`OutboundDenial`), the call gate's finished outbox items (`OutboxItem`) and the
blocked attempts (`BlockedAttempt`): rows older than `VOICEGATE_CALL_LOG_DAYS` /
`POLICY_DENIAL_LOG_DAYS` / `VOICEGATE_OUTBOX_DAYS` /
`VISITORS_BLOCKED_ATTEMPTS_DAYS` days (0: kept forever) are deleted by beat every
hour (`voicegate.calls_prune`, `voicegate.policy.denials_prune`,
`voicegate.outbox_prune`, `visitors.blocked_attempts_prune`), and each
organisation that lost rows gets one audit entry in words per run.

An outbox item goes only once it is finished (delivered, or given up): an item
still pending or leased to a worker is never selected however old, and a finished
item never turns pending again. A visitor's `blocked_attempts` counter is a
lifetime count and is not lowered when its attempt rows go.

Why batches: a busy deployment keeps millions of rows a month, and one DELETE of a
month's rows is one transaction holding every row lock, swelling the WAL and
holding back vacuum for minutes. Here each batch selects at most
`RETENTION_DELETE_BATCH` primary keys of an organisation's oldest rows and deletes
them by key, in a transaction of its own. The selection is an index range scan:
every table has an (organisation, created_at) index (`call_decision_org_time`,
`outbound_denial_org_time`, `blocked_attempt_org_idx`, and for the outbox a partial
one over finished items only, `voice_outbox_done_org_time`; the call log also one
on created_at alone, and PostgreSQL picks by cost). Each next batch starts at the
time the last one ended, so it does not step again over the index entries of rows
just deleted (they stay until vacuum). Organisations take turns batch by batch,
and a run stops after half the task's soft time limit: a backlog (the first run
after an upgrade) is worked off over the next hourly runs instead of one run being
killed halfway.

Nothing refers to these tables by key: no foreign key or generic relation points
at them (notes and assignments target visitors, accounts and queue items; backtest
samples copy what they show), so a deleted row leaves no page pointing at nothing.
The pages that list the rows say how long they are kept (`retention_text`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.core.services import audit_record
from visitors.models import BlockedAttempt
from voicegate.models import CallDecision, OutboxItem
from voicegate.policy.models import OutboundDenial

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Log:
    """One log that retention prunes: its rows, its setting, its words."""

    model: type[models.Model]
    setting: str
    action: str
    field: str  # the audit entry's count field
    noun: str  # plural, lower case: "call decisions"
    by: str  # the system actor of the audit entry
    # Which rows may go at all (besides their age): everything, unless narrowed.
    scope: models.Q = dataclasses.field(default_factory=models.Q)

    def keep_days(self) -> int:
        """Days a row is kept; 0 keeps it forever."""
        return int(getattr(settings, self.setting))


CALLS = Log(
    model=CallDecision,
    setting="VOICEGATE_CALL_LOG_DAYS",
    action="voice.call_log.prune",
    field="call_decisions",
    noun="call decisions",
    by="call log retention",
)
DENIALS = Log(
    model=OutboundDenial,
    setting="POLICY_DENIAL_LOG_DAYS",
    action="policy.denials_prune",
    field="outbound_denials",
    noun="refused outbound calls",
    by="denial log retention",
)
OUTBOX = Log(
    model=OutboxItem,
    setting="VOICEGATE_OUTBOX_DAYS",
    action="voice.outbox.prune",
    field="outbox_items",
    noun="finished outbox items",
    by="outbox retention",
    scope=models.Q(delivered_at__isnull=False) | models.Q(gave_up_at__isnull=False),
)
ATTEMPTS = Log(
    model=BlockedAttempt,
    setting="VISITORS_BLOCKED_ATTEMPTS_DAYS",
    action="visitors.blocked_attempts.prune",
    field="blocked_attempts_deleted",
    noun="blocked attempts",
    by="blocked attempt retention",
)
LOGS = {"calls": CALLS, "denials": DENIALS, "outbox": OUTBOX, "attempts": ATTEMPTS}


def retention_text(log: Log) -> str:
    """How long the rows are kept, as the pages listing them say it."""
    days = log.keep_days()
    noun = log.noun[0].upper() + log.noun[1:]
    if days == 0:
        return f"{noun} are kept forever."
    return f"{noun} are kept for {days:,} days, then deleted."


def prune(
    log: Log,
    *,
    now: dt.datetime | None = None,
    batch: int | None = None,
    budget_seconds: float | None = None,
) -> dict[str, int]:
    """Delete the log's rows older than its retention, in batches; audited per
    organisation. Returns the number deleted per organisation slug (empty when
    nothing was old enough, or the log is kept forever). Running it again at once
    deletes and records nothing."""
    days = log.keep_days()
    if days == 0:
        logger.debug("%s kept forever (%s=0): nothing pruned", log.noun, log.setting)
        return {}
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    size = batch or settings.RETENTION_DELETE_BATCH
    if budget_seconds is None:
        budget_seconds = settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    deleted: dict[int, int] = defaultdict(int)
    left: list[int] = []
    started = time.monotonic()
    try:
        left = _rounds(
            log,
            cutoff=cutoff,
            size=size,
            deadline=started + budget_seconds,
            deleted=deleted,
        )
    finally:
        # Also after a failure: what went is recorded.
        pruned = _record(log, deleted=deleted, days=days, cutoff=cutoff)
    logger.info(
        "retention: deleted %d %s older than %s in %.1f s (%s=%d)",
        sum(deleted.values()),
        log.noun,
        cutoff.isoformat(),
        time.monotonic() - started,
        log.setting,
        days,
    )
    if left:
        logger.warning(
            "retention of %s stopped after %.0f s with %d organisation(s) still "
            "holding rows older than %s; the next run goes on",
            log.noun,
            budget_seconds,
            len(left),
            cutoff.isoformat(),
        )
    return pruned


def _rounds(
    log: Log,
    *,
    cutoff: dt.datetime,
    size: int,
    deadline: float,
    deleted: dict[int, int],
) -> list[int]:
    """One batch per organisation per round until none has old rows left or the
    deadline passed (at least one batch runs); counts into `deleted`. Returns the
    organisations that still have old rows."""
    floors: dict[int, dt.datetime | None] = dict.fromkeys(
        Organisation.objects.order_by("pk").values_list("pk", flat=True)
    )
    while floors:
        for org_id in list(floors):
            found, gone, floors[org_id] = _batch(
                log, org_id=org_id, cutoff=cutoff, floor=floors[org_id], size=size
            )
            deleted[org_id] += gone
            if found < size:
                del floors[org_id]
            if time.monotonic() >= deadline:
                return list(floors)
    return []


def _batch(
    log: Log,
    *,
    org_id: int,
    cutoff: dt.datetime,
    floor: dt.datetime | None,
    size: int,
) -> tuple[int, int, dt.datetime | None]:
    """Delete one batch of an organisation's oldest rows before `cutoff` (from
    `floor` on): (rows found, rows deleted, where the next batch starts).

    Only keys are read (turning 5,000 timestamps into Python datetimes cost more
    than the deletion); the next floor is the last key's time, read alone.
    """
    manager = log.model._default_manager
    rows = manager.filter(log.scope, organisation_id=org_id, created_at__lt=cutoff)
    if floor is not None:
        rows = rows.filter(created_at__gte=floor)
    keys = list(rows.order_by("created_at").values_list("pk", flat=True)[:size])
    if not keys:
        return 0, 0, floor
    last = manager.filter(pk=keys[-1]).values_list("created_at", flat=True).first()
    return len(keys), _delete_keys(log.model, keys), last or floor


def _delete_keys(model: type[models.Model], keys: list[int]) -> int:
    """Delete rows by primary key in one statement; returns how many went.

    Nothing points at these rows and no signal listens, so no row is loaded. On
    PostgreSQL the keys go as one array parameter (`= ANY`): an IN list of 5,000
    literals cost more to parse and plan than the deletion itself.
    """
    if connection.vendor != "postgresql":
        return model._default_manager.filter(pk__in=keys).delete()[0]
    meta, quote = model._meta, connection.ops.quote_name
    key = quote(meta.pk.column or meta.pk.attname)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(meta.db_table)} WHERE {key} = ANY(%s)", [keys]
        )
        return cursor.rowcount


def _record(
    log: Log, *, deleted: dict[int, int], days: int, cutoff: dt.datetime
) -> dict[str, int]:
    """One audit entry (and log line) per organisation that lost rows."""
    pruned: dict[str, int] = {}
    lost = [org_id for org_id, n in deleted.items() if n]
    for organisation in Organisation.objects.filter(pk__in=lost).order_by("pk"):
        n = pruned[organisation.slug] = deleted[organisation.pk]
        audit_record(
            actor=Actor.system_for(organisation, log.by),
            action=log.action,
            target=organisation,
            after={log.field: n, "kept_days": days, "cutoff": cutoff},
            reason=f"Pruned {n:,} {log.noun} older than {days:,} days "
            f"({log.setting}={days}).",
        )
        logger.info(
            "retention: deleted %d %s of %s older than %s (%s=%d)",
            n,
            log.noun,
            organisation.slug,
            cutoff.isoformat(),
            log.setting,
            days,
        )
    return pruned
