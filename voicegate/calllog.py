"""The call log's write side: the Redis stream of decisions and the rows it becomes.

With Redis, one script call per call marks the event as seen (a redelivery is
answered without acting again), counts the call against its number's window and
appends the decision to a stream; `decisions_flush` (beat, every second) moves the
stream into CallDecision rows in batches. No database round trip on the hot path.
Without Redis (the embedded defaults), or while Redis is unreachable, the row is
inserted at once and its unique constraint is what makes a redelivery visible.

A stream entry is not yet in the database. So that a Redis restart without
persistence loses no answered decision, each process keeps what it appended in
`STATE.spool` until the stream shows the flusher is past it (entries older than
the stream's oldest were stored and deleted); the script also returns an epoch, a
token Redis keeps for as long as its data set lives. When the epoch changes, the
data set (stream included) was lost, and the process writes its spool straight
into the call log (rows are unique per event, so nothing is stored twice).
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import socket
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from voicegate.choices import CommandStatus
from voicegate.gate_state import STATE, redis_client, redis_failed, redis_usable
from voicegate.models import CallDecision

logger = logging.getLogger(__name__)

STREAM_KEY = "voice:decisions"
STREAM_GROUP = "decision-log"
EPOCH_KEY = "voice:epoch"


def decision_insert(record: dict[str, Any]) -> bool:
    """Write one decision straight into the call log; False when already there.

    If the database cannot be written either, the row waits in this process
    (`pending_flush`) and the event is treated as new.
    """
    try:
        with transaction.atomic():
            CallDecision.objects.create(**row_fields(record))
    except IntegrityError:
        return False
    except Exception:
        logger.critical(
            "voice gate could not write a decision; kept in this process until the "
            "database answers",
            exc_info=True,
        )
        pending_add("decision", record)
    return True


def _stream_id(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def spool_note(epoch: bytes, entry_id: bytes, oldest: bytes, payload: str) -> None:
    """Keep what this process appended until the flusher is past it (see above)."""
    state = STATE
    current = epoch.decode()
    if state.epoch is not None and state.epoch != current and state.spool:
        lost = [json.loads(p) for _, p in state.spool]
        state.spool.clear()
        logger.error(
            "voice gate: Redis lost its data (restart without persistence); writing "
            "%d decisions it had not stored yet straight into the call log",
            len(lost),
        )
        for record in lost:
            pending_add("decision", record)
        pending_flush(force=True)
    state.epoch = current
    floor = _stream_id(oldest)
    spool = state.spool
    while spool and spool[0][0] < floor:
        spool.popleft()
    spool.append((_stream_id(entry_id), payload))
    if len(spool) > settings.VOICEGATE_SPOOL_MAX:
        spool.popleft()
        logger.warning("voice gate: decision spool full; the flusher is behind")


def pending_add(kind: str, fields: dict[str, Any]) -> None:
    """Keep a row for the database once it answers.

    Kinds: "decision" (CallDecision fields), "outbox" (OutboxItem fields), "result"
    (how a reject command of an existing item fared).
    """
    pending = STATE.pending
    pending.append((kind, fields))
    if len(pending) > settings.VOICEGATE_SPOOL_MAX:
        lost = pending.pop(0)
        logger.critical("voice gate: pending rows over the limit; dropped %s", lost)


def pending_flush(
    *, force: bool = False, what: str = "rows kept while the database was down"
) -> int:
    """Write the rows kept while the database was down; cheap when there are none.

    `what` names the rows in the log line (the spool written at exit is not)."""
    state = STATE
    if not state.pending or (not force and time.monotonic() < state.pending_retry_at):
        return 0
    items, state.pending = state.pending, []
    from voicegate import outbox

    try:
        with transaction.atomic():
            CallDecision.objects.bulk_create(
                [CallDecision(**row_fields(f)) for k, f in items if k == "decision"],
                ignore_conflicts=True,
            )
            outbox.open_items_later([f for k, f in items if k == "outbox"])
            for kind, fields in items:
                if kind == "result":  # a reject sent while its row was unreachable
                    outbox.reject_finish(fields["item_id"], outbox.result_of(fields))
    except Exception as exc:
        state.pending = items + state.pending
        state.pending_retry_at = time.monotonic() + 1.0
        logger.warning(
            "voice gate: %d rows still wait for the database (%s)", len(items), exc
        )
        return 0
    logger.warning("voice gate: wrote %d %s", len(items), what)
    return len(items)


def log_later(record: dict[str, Any]) -> None:
    """Log a decision the request could not log as its claim (database down)."""
    client = redis_client()
    if client is not None and redis_usable():
        payload = json.dumps(record)
        try:
            entry_id = client.xadd(cache.make_key(STREAM_KEY), {"d": payload})
        except Exception as exc:
            redis_failed(exc)
        else:
            STATE.spool.append((_stream_id(entry_id), payload))
            return
    pending_add("decision", record)


@atexit.register
def _write_spool_at_exit() -> None:
    """A stopping process writes what it still holds (rows unique per event)."""
    state = STATE
    try:
        for _, payload in state.spool:
            record = json.loads(payload)
            if record["event_id"]:  # one without an id could be stored twice
                pending_add("decision", record)
        state.spool.clear()
        pending_flush(
            force=True,
            what="rows while stopping (decisions logged in Redis that the flusher "
            "may not have stored yet, and any kept while the database was down)",
        )
    except Exception:  # noqa: BLE001 - nothing else can be done while exiting
        logger.exception("voice gate could not write its spool while stopping")


def row_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A logged record as CallDecision's keyword arguments."""
    fields = dict(record)
    fields["created_at"] = dt.datetime.fromisoformat(record["created_at"])
    return fields


def decisions_flush(*, batch: int = 500, max_batches: int = 40) -> int:
    """Move logged decisions from the Redis stream into CallDecision rows.

    Entries another flusher read but never acknowledged (it died) are taken over
    after 30 s. A redelivered entry changes nothing: rows are unique per event.
    Returns the number of entries handled.
    """
    client = redis_client()
    if client is None:
        return 0
    import redis

    stream = cache.make_key(STREAM_KEY)
    try:
        client.xgroup_create(stream, STREAM_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    consumer = f"{socket.gethostname()}-{os.getpid()}"
    handled = 0
    _, stale, _ = client.xautoclaim(
        stream, STREAM_GROUP, consumer, min_idle_time=30_000, count=batch
    )
    pending = [stale] if stale else []
    for _ in range(max_batches):
        if not pending:
            answer = client.xreadgroup(
                STREAM_GROUP, consumer, {stream: ">"}, count=batch
            )
            if not answer:
                break
            pending = [answer[0][1]]
        entries = pending.pop()
        handled += _store(entries)
        ids = [entry_id for entry_id, _ in entries]
        client.xack(stream, STREAM_GROUP, *ids)
        client.xdel(stream, *ids)
    return handled


def decisions_flush_quietly() -> None:
    """Flush before showing the call log; a failure only means a slightly older view."""
    try:
        decisions_flush()
    except Exception:
        logger.warning("could not flush logged decisions", exc_info=True)


def _store(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> int:
    inserts: dict[tuple[int, str, str], CallDecision] = {}
    loose: list[CallDecision] = []
    updates: list[dict[str, Any]] = []
    for _, fields in entries:
        record = json.loads(fields[b"d"])
        row = CallDecision(**row_fields(record))
        if not record["event_id"]:
            loose.append(row)
            continue
        key = (record["organisation_id"], record["provider"], record["event_id"])
        if key in inserts and record["command_status"]:
            inserts[key].command_status = record["command_status"]
            inserts[key].command_detail = record["command_detail"]
        elif key not in inserts:
            inserts[key] = row
        if record["command_status"] not in ("", CommandStatus.PENDING):
            updates.append(record)
    with transaction.atomic():
        CallDecision.objects.bulk_create(
            [*inserts.values(), *loose], ignore_conflicts=True
        )
        for record in updates:  # a command result logged after its decision
            CallDecision.objects.filter(
                organisation_id=record["organisation_id"],
                provider=record["provider"],
                event_id=record["event_id"],
            ).exclude(command_status=record["command_status"]).update(
                command_status=record["command_status"],
                command_detail=record["command_detail"],
            )
    return len(entries)
