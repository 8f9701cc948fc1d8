"""Finished outbox items and blocked attempts are kept VOICEGATE_OUTBOX_DAYS /
VISITORS_BLOCKED_ATTEMPTS_DAYS days by the same hourly, batched prune as the call
log; an outbox item still pending or leased never goes, and a visitor's
blocked-attempts count (a lifetime count) never drops."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.visitors.factories import VisitorFactory
from tests.voicegate.factories import VoiceConnectionFactory
from trustconsole.celery import app
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from visitors.models import BlockedAttempt
from visitors.services import blocked_attempt_record
from visitors.tasks import blocked_attempts_prune
from voicegate import retention
from voicegate.models import OutboxItem
from voicegate.tasks import outbox_prune_task

NOW = timezone.now()
_events = iter(range(1_000_000))


def _item(connection: Any, *, days: float, state: str) -> int:
    """An outbox item made `days` ago in `state`: delivered, failed (given up),
    pending (due, never tried) or leased (a worker holds it right now)."""
    created = NOW - dt.timedelta(days=days)
    item = OutboxItem.objects.create(
        organisation=connection.organisation,
        connection=connection,
        kind="reject",
        event_id=f"event-{next(_events)}",
        payload={"call_control_id": "v3:abc", "provider": "telnyx"},
        next_attempt_at=created,
        attempts=1 if state != "pending" else 0,
        delivered_at=created if state == "delivered" else None,
        gave_up_at=created if state == "failed" else None,
        claimed_until=NOW + dt.timedelta(seconds=30) if state == "leased" else None,
    )
    OutboxItem.objects.filter(pk=item.pk).update(created_at=created)
    return item.pk


def _attempts(org: Any, visitor: Any, n: int, *, days: float) -> list[int]:
    """`n` attempts recorded the way the gate records them (the visitor's counter
    goes up), then aged `days`."""
    pks = [
        blocked_attempt_record(visitor=visitor, organisation_id=org.pk).pk
        for _ in range(n)
    ]
    BlockedAttempt.objects.filter(pk__in=pks).update(
        created_at=NOW - dt.timedelta(days=days)
    )
    return pks


def _remaining(model: Any) -> list[int]:
    return sorted(model.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_old_finished_items_go_pending_and_leased_ones_never(org, other_org) -> None:
    """GIVEN delivered and given-up outbox items 31 days old, ones 29 days old, and
    pending and leased items 400 days old WHEN the hourly outbox prune runs (30
    days) THEN only the old finished items go, in batches, and each organisation's
    audit log says how many in words; the unfinished ones stay however old."""
    assert django_settings.VOICEGATE_OUTBOX_DAYS == 30
    mine, theirs = (
        VoiceConnectionFactory(organisation=org),
        VoiceConnectionFactory(organisation=other_org),
    )
    gone = [_item(mine, days=31, state="delivered") for _ in range(4)]
    gone += [_item(mine, days=45, state="failed") for _ in range(3)]
    _item(theirs, days=31, state="failed")
    kept = [_item(mine, days=29, state=s) for s in ("delivered", "failed")]
    kept += [_item(mine, days=400, state=s) for s in ("pending", "leased")]
    kept += [_item(mine, days=31, state="pending")]

    assert retention.prune(retention.OUTBOX, now=NOW, batch=2) == {
        "alpha": 7,
        "beta": 1,
    }

    assert _remaining(OutboxItem) == sorted(kept)
    entry = AuditEntry.objects.get(action="voice.outbox.prune", organisation=org)
    text = describe(entry)
    assert text.sentence == (
        "system: outbox retention pruned 7 finished outbox items older than 30 days"
    )
    assert text.reason == (
        "Pruned 7 finished outbox items older than 30 days (VOICEGATE_OUTBOX_DAYS=30)."
    )
    assert outbox_prune_task() == {}  # nothing more went, even via the task
    assert _remaining(OutboxItem) == sorted(kept)
    assert AuditEntry.objects.filter(action="voice.outbox.prune").count() == 2


@pytest.mark.django_db
def test_an_item_finished_after_a_long_wait_goes_only_when_finished(org) -> None:
    """GIVEN a pending item of 60 days ago WHEN it is pruned THEN it stays; once it
    is delivered, the next prune deletes it."""
    pk = _item(VoiceConnectionFactory(organisation=org), days=60, state="pending")
    assert retention.prune(retention.OUTBOX, now=NOW) == {}
    OutboxItem.objects.filter(pk=pk).update(delivered_at=NOW)
    assert retention.prune(retention.OUTBOX, now=NOW) == {"alpha": 1}
    assert not OutboxItem.objects.exists()


@pytest.mark.django_db
def test_old_attempts_go_and_the_visitors_count_stays(org, other_org, oscar) -> None:
    """GIVEN a visitor with 3 blocked attempts 401 days old and 2 of 10 days ago
    WHEN the hourly prune runs (400 days) THEN the 3 old rows go, the visitor
    still counts 5 blocked attempts, its profile lists the 2 left and says how long
    attempts are kept, and the audit log says how many went."""
    assert django_settings.VISITORS_BLOCKED_ATTEMPTS_DAYS == 400
    visitor = VisitorFactory(organisation=org)
    _attempts(org, visitor, 3, days=401)
    kept = _attempts(org, visitor, 2, days=10)
    _attempts(other_org, VisitorFactory(organisation=other_org), 1, days=500)
    visitor.refresh_from_db()
    assert visitor.blocked_attempts == 5

    assert blocked_attempts_prune() == {"alpha": 3, "beta": 1}

    assert _remaining(BlockedAttempt) == sorted(kept)
    visitor.refresh_from_db()
    assert visitor.blocked_attempts == 5
    entry = AuditEntry.objects.get(
        action="visitors.blocked_attempts.prune", organisation=org
    )
    assert describe(entry).sentence == (
        "system: blocked attempt retention pruned 3 blocked attempts older than "
        "400 days"
    )
    assert entry.after["blocked_attempts_deleted"] == 3

    client = Client()
    assert client.login(username=oscar.username, password=PASSWORD)
    page = client.get(
        reverse("visitors:visitor_detail", args=[visitor.public_id])
    ).content.decode()
    assert "Blocked attempts (5)" in page
    listed = page.split('id="attempts-h"')[1].split('id="audit-h"')[0]
    assert listed.count("<tr><td>") == 2
    assert "Blocked attempts are kept for 400 days, then deleted." in page
    assert "?action=visitors.blocked_attempts.prune" in page
    assert "every attempt ever blocked, deleted ones included" in page


@pytest.mark.django_db
def test_zero_keeps_outbox_items_and_attempts_forever(org, oscar, settings) -> None:
    settings.VOICEGATE_OUTBOX_DAYS = 0
    settings.VISITORS_BLOCKED_ATTEMPTS_DAYS = 0
    item = _item(VoiceConnectionFactory(organisation=org), days=3000, state="failed")
    visitor = VisitorFactory(organisation=org)
    attempts = _attempts(org, visitor, 2, days=3000)

    assert retention.prune(retention.OUTBOX, now=NOW) == {}
    assert retention.prune(retention.ATTEMPTS, now=NOW) == {}

    assert _remaining(OutboxItem) == [item]
    assert _remaining(BlockedAttempt) == sorted(attempts)
    assert not AuditEntry.objects.filter(action__endswith=".prune").exists()
    client = Client()
    assert client.login(username=oscar.username, password=PASSWORD)
    page = client.get(
        reverse("visitors:visitor_detail", args=[visitor.public_id])
    ).content.decode()
    assert "Blocked attempts are kept forever." in page


def test_beat_prunes_the_outbox_and_the_attempts_hourly() -> None:
    app.loader.import_default_modules()
    for key, task in (
        ("voicegate-outbox-prune", "voicegate.outbox_prune"),
        ("visitors-blocked-attempts-prune", "visitors.blocked_attempts_prune"),
    ):
        entry = django_settings.CELERY_BEAT_SCHEDULE[key]
        assert entry["task"] == task
        assert entry["schedule"] == 3600.0
        assert entry["options"]["expires"] < entry["schedule"]
        assert task in app.tasks
