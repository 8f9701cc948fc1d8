"""The gate's durable outbox: reject commands and forwards that leave a request.

A webhook request writes one `OutboxItem` per event and kind (its unique constraint
makes a redelivery add nothing) and then:

- a rejection is logged and its item opened in one transaction (on PostgreSQL one
  statement: one round trip, one commit); that insert is the claim on the event,
  so one event never sends two reject commands, whatever Redis forgot. The
  request hands the command to a sender thread (or sends it itself, two short
  attempts) while holding the item's lease;
- a forward is handed to a worker at once (`voicegate.outbox_deliver`) when the
  broker takes it.

Whatever the request could not finish (the Telnyx API unreachable, the broker down,
a worker killed mid-delivery: its lease runs out) the beat drain
(`voicegate.outbox_drain`, every VOICEGATE_OUTBOX_INTERVAL seconds) delivers, with
back-off, until it succeeds or VOICEGATE_OUTBOX_MAX_ATTEMPTS is reached; giving up is
logged at ERROR and kept on the row. Nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from typing import Any

import httpx
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from trustconsole.lib import netguard
from trustconsole.lib import onestatement as one
from trustconsole.lib.crypto import UNREADABLE, is_unreadable
from voicegate import telnyx
from voicegate.choices import OutboxKind
from voicegate.models import CallDecision, OutboxItem

logger = logging.getLogger(__name__)

# How long a request or worker holds an item it is delivering; a holder that died
# lets go when it runs out. Longer than any delivery can take.
LEASE = dt.timedelta(seconds=30)
RETRY_MAX_SECONDS = 300


def _event_key(event_id: str) -> str:
    # Provider events carry an id; one without can never be a redelivery.
    return event_id[:200] or f"no-id:{uuid.uuid4()}"


def reject_open(*, record: dict[str, Any], call_control_id: str) -> int | None:
    """Log a rejection and open its reject command as one claim on the event.

    Returns the item's id, leased to the caller, or None when the event was claimed
    before (a redelivery: answer it without acting). Raises when the database
    cannot be written.
    """
    from voicegate.gate import row_fields

    now = timezone.now()
    payload = {
        "call_control_id": call_control_id,
        "provider": record["provider"],
        "decision_event_id": record["event_id"],
    }
    if one.available():
        return _reject_open_statement(row_fields(record), payload, now)
    with transaction.atomic():
        try:
            with transaction.atomic():
                CallDecision.objects.create(**row_fields(record))
        except IntegrityError:
            return None
        item = OutboxItem.objects.create(
            organisation_id=record["organisation_id"],
            connection_id=record["connection_id"],
            kind=OutboxKind.REJECT,
            event_id=_event_key(record["event_id"]),
            payload=payload,
            next_attempt_at=now,
            claimed_until=now + LEASE,
        )
    return item.pk


def _reject_open_statement(
    fields: dict[str, Any], payload: dict[str, Any], now: dt.datetime
) -> int | None:
    """`reject_open` as one statement on PostgreSQL: one round trip, one commit.

    The decision row goes in unless the event's row exists (`ON CONFLICT DO
    NOTHING`: a redelivery inserts nothing and opens no item); the item is
    inserted from the decision row that went in. An item already there for an
    event without a decision row raises, as the ORM path does.
    """
    # created_at as the ORM's auto_now_add gives it: the time of the insert.
    fields = {name: v for name, v in fields.items() if name != "created_at"}
    decision, decision_params = one.insert_select(
        CallDecision, fields, conflict="ON CONFLICT DO NOTHING"
    )
    item, item_params = one.insert_select(
        OutboxItem,
        {
            "organisation": fields["organisation_id"],
            "connection": fields["connection_id"],
            "kind": OutboxKind.REJECT.value,
            "event_id": _event_key(fields["event_id"]),
            "payload": payload,
            "next_attempt_at": now,
            "claimed_until": now + LEASE,
            "created_at": now,
        },
        source="d",
    )
    sql, params = f"WITH d AS ({decision}) {item}", [*decision_params, *item_params]
    if transaction.get_connection().in_atomic_block:
        # Inside a caller's transaction a failure must not abort it: a savepoint,
        # as the ORM path has.
        with transaction.atomic():
            row = one.fetch_one(sql, params)
    else:
        row = one.fetch_one(sql, params)
    return int(row[0]) if row is not None else None


def reject_item_fields(
    *, record: dict[str, Any], call_control_id: str
) -> dict[str, Any]:
    """An OutboxItem's fields for a reject the database could not take at once."""
    return {
        "organisation_id": record["organisation_id"],
        "connection_id": record["connection_id"],
        "kind": OutboxKind.REJECT,
        "event_id": _event_key(record["event_id"]),
        "payload": {
            "call_control_id": call_control_id,
            "provider": record["provider"],
            "decision_event_id": record["event_id"],
        },
    }


def forward_fields(
    *,
    organisation_id: int,
    connection_id: int,
    event_id: str,
    body: str,
    headers: dict[str, str],
) -> dict[str, Any]:
    """An OutboxItem's fields for a webhook handed on to the downstream app."""
    return {
        "organisation_id": organisation_id,
        "connection_id": connection_id,
        "kind": OutboxKind.FORWARD,
        "event_id": _event_key(event_id),
        "payload": {"body": body, "headers": headers},
    }


def open_item(fields: dict[str, Any]) -> int | None:
    """Insert an item, due now; None when this event already has one of its kind.

    Raises when the database cannot be written.
    """
    try:
        with transaction.atomic():
            item = OutboxItem.objects.create(**fields, next_attempt_at=timezone.now())
    except IntegrityError:
        return None
    return item.pk


def open_items_later(items: list[dict[str, Any]]) -> None:
    """Insert items kept in a process while the database was down (no duplicates)."""
    now = timezone.now()
    OutboxItem.objects.bulk_create(
        [OutboxItem(**fields, next_attempt_at=now) for fields in items],
        ignore_conflicts=True,
    )


def hand_to_worker(item_id: int, *, countdown: float = 0) -> None:
    """Ask a worker to deliver (now, or when due).

    If the broker refuses, or loses the message, the beat drain delivers instead.
    """
    from voicegate import gate, tasks

    if settings.REDIS_URL and not gate.redis_usable():
        return
    try:
        tasks.outbox_deliver.apply_async(
            (item_id,), countdown=countdown or None, retry=False
        )
    except Exception as exc:
        logger.warning(
            "outbox item %s waits for the beat drain (broker: %s)", item_id, exc
        )


def _claim(item_id: int) -> bool:
    now = timezone.now()
    return (
        OutboxItem.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            pk=item_id,
            delivered_at__isnull=True,
            gave_up_at__isnull=True,
            next_attempt_at__lte=now,
        ).update(claimed_until=now + LEASE)
        == 1
    )


def _finish(
    item: OutboxItem, *, attempts: int, done: bool, retryable: bool, detail: str
) -> float | None:
    """Record one delivery's outcome and let go of the item.

    Returns the seconds until the next attempt when one is scheduled.
    """
    now = timezone.now()
    changes: dict[str, Any] = {
        "attempts": F("attempts") + attempts,
        "claimed_until": None,
        "last_error": "" if done else detail[:500],
    }
    total = item.attempts + attempts
    delay = None
    if done:
        changes["delivered_at"] = now
    elif retryable and total < settings.VOICEGATE_OUTBOX_MAX_ATTEMPTS:
        delay = float(
            min(
                settings.VOICEGATE_OUTBOX_RETRY_SECONDS * 2 ** max(total - 2, 0),
                RETRY_MAX_SECONDS,
            )
        )
        changes["next_attempt_at"] = now + dt.timedelta(seconds=delay)
    else:
        changes["gave_up_at"] = now
        logger.error(
            "voice gate gave up on the %s of event %s after %d attempts: %s",
            item.kind,
            item.event_id,
            total,
            detail,
        )
    OutboxItem.objects.filter(pk=item.pk).update(**changes)
    return delay


def reject_finish(item_id: int, result: telnyx.CommandResult) -> float | None:
    """Store how a reject command fared on its decision and its item.

    Returns the seconds until the next attempt when one is scheduled.
    """
    done = not result.retryable and result.status != "failed"
    if done and one.available():
        _reject_done_statement(item_id, result)
        return None
    item = OutboxItem.objects.filter(pk=item_id).first()
    if item is None:
        return None
    with transaction.atomic():
        CallDecision.objects.filter(
            organisation_id=item.organisation_id,
            provider=item.payload.get("provider", ""),
            event_id=item.payload.get("decision_event_id", item.event_id),
        ).update(command_status=result.status, command_detail=result.detail[:500])
        return _finish(
            item,
            attempts=result.tries,
            done=not result.retryable and result.status != "failed",
            retryable=result.retryable,
            detail=result.detail,
        )


def reject_done_sql() -> str:
    """The statement of `_reject_done_statement`. Its last condition is the
    predicate of the decisions' unique index on the event (a partial index: an
    event id is never empty there); without it the planner cannot use that index
    for a value it reads from the item, and scans every decision of the
    organisation instead."""
    item, decision = one.table(OutboxItem), one.table(CallDecision)
    return (
        f"WITH i AS (UPDATE {item} SET attempts = attempts + %s, "
        "claimed_until = NULL, last_error = '', delivered_at = %s WHERE id = %s "
        "RETURNING organisation_id, payload, event_id) "
        f"UPDATE {decision} AS d SET command_status = %s, command_detail = %s "
        "FROM i WHERE d.organisation_id = i.organisation_id "
        "AND d.provider = COALESCE(i.payload ->> 'provider', '') "
        "AND d.event_id = COALESCE(i.payload ->> 'decision_event_id', i.event_id) "
        "AND NOT d.event_id = ''"
    )


def _reject_done_statement(item_id: int, result: telnyx.CommandResult) -> None:
    """`reject_finish` of a delivered command as one statement on PostgreSQL.

    What the ORM path does in a read, a transaction and two updates: the item is
    marked delivered (its attempts added, its lease let go, no error) and its
    decision row gets the command's outcome, in one round trip and one commit.
    Nothing changes when the item is gone.
    """
    sql = reject_done_sql()
    params: list[Any] = [
        result.tries,
        timezone.now(),
        item_id,
        result.status,
        result.detail[:500],
    ]
    if connection.in_atomic_block:  # a caller's transaction survives a failure
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def result_fields(item_id: int, result: telnyx.CommandResult) -> dict[str, Any]:
    """A reject's outcome as kept in a process until the database answers."""
    return {
        "item_id": item_id,
        "status": result.status,
        "detail": result.detail,
        "retryable": result.retryable,
        "tries": result.tries,
    }


def result_of(fields: dict[str, Any]) -> telnyx.CommandResult:
    """The CommandResult of `result_fields`."""
    return telnyx.CommandResult(
        fields["status"], fields["detail"], fields["retryable"], fields["tries"]
    )


def _recorded(step: Any) -> Any:
    """Run a recording step, waiting out a short database outage.

    The delivery already happened: an outcome not recorded means it is repeated
    once the lease runs out, so a worker waits (most of the lease) rather than
    give up at the first error.
    """
    from django.db import DatabaseError, connection

    deadline = time.monotonic() + LEASE.total_seconds() * 2 / 3
    pause = 0.25
    while True:
        try:
            return step()
        except DatabaseError:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("outbox: database unreachable; recording again shortly")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            if not connection.in_atomic_block:
                connection.close()


def _post_downstream(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # Through the SSRF guard: public addresses only, pinned, no redirects.
    with netguard.guarded_client(timeout=settings.VOICEGATE_FORWARD_TIMEOUT) as client:
        return client.post(url, content=body, headers=headers)


def _deliver_forward(item: OutboxItem) -> float | None:
    url = item.connection.downstream_url
    if not url:
        return _finish(item, attempts=0, done=False, retryable=False, detail="no URL")
    try:
        response = _post_downstream(
            url, item.payload["body"].encode(), item.payload.get("headers") or {}
        )
    except netguard.UnsafeDestination as exc:
        logger.error("forward of event %s refused: %s", item.event_id, exc)
        done, retryable, detail = False, False, f"refused: {exc}"
    except httpx.HTTPError as exc:
        done, retryable, detail = False, True, type(exc).__name__
    else:
        # A 5xx is worth another try; a 4xx is the downstream app's own answer.
        status = response.status_code
        done, retryable, detail = status < 500, status >= 500, f"HTTP {status}"
    return _recorded(
        lambda: _finish(item, attempts=1, done=done, retryable=retryable, detail=detail)
    )


def deliver(item_id: int, *, claimed: bool = False) -> str:
    """Deliver one item once (claiming it unless the caller holds it)."""
    if not claimed and not _claim(item_id):
        return "not due"
    item = OutboxItem.objects.select_related("connection").filter(pk=item_id).first()
    if item is None:
        return "gone"
    if item.kind == OutboxKind.REJECT:
        if is_unreadable(item.connection.api_key):
            logger.critical(
                "reject not sent for event %s: %s", item.event_id, UNREADABLE
            )
            _finish(
                item, attempts=0, done=False, retryable=False,
                detail=f"API key {UNREADABLE}",
            )  # fmt: skip
            return "unreadable"
        result = telnyx.reject_call(
            api_key=item.connection.api_key,
            call_control_id=item.payload.get("call_control_id", ""),
            event_id=item.payload.get("decision_event_id", item.event_id),
            attempts=1,
        )
        delay = _recorded(lambda: reject_finish(item.pk, result))
        outcome = result.status
    else:
        delay = _deliver_forward(item)
        outcome = "forwarded" if delay is None else "will retry"
    if delay is not None:
        hand_to_worker(item.pk, countdown=delay)
    return outcome


def drain(*, limit: int = 200, budget_seconds: float = 20.0) -> int:
    """Beat: deliver due items nobody holds, oldest due first. Returns how many."""
    now = timezone.now()
    due = list(
        OutboxItem.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            delivered_at__isnull=True,
            gave_up_at__isnull=True,
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    deadline = time.monotonic() + budget_seconds
    handled = 0
    for item_id in due:
        if time.monotonic() > deadline:
            break
        if _claim(item_id):
            deliver(item_id, claimed=True)
            handled += 1
    return handled
