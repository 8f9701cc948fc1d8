"""A rejection's claim on its event: the decision row and the reject command's
outbox item, written together once per event (one statement on PostgreSQL, one
transaction elsewhere). Runs on both databases of CI."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError
from django.utils import timezone

from voicegate import gate, outbox, telnyx
from voicegate.choices import CommandStatus, Decision, OutboxKind, Provider
from voicegate.models import CallDecision, OutboxItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(org, make_connection, telnyx_signer):
    return make_connection(org, secret=telnyx_signer.public_b64)


def _record(connection, event_id: str = "ev-1") -> dict:
    facts = gate.CallFacts(
        organisation_id=connection.organisation_id,
        connection_id=connection.id,
        provider=Provider.TELNYX_CALL_CONTROL,
        event_id=event_id,
        call_id="v3:call-1",
        caller="+14155550123",
        callee="+14155550100",
    )
    verdict = gate.Verdict(Decision.REJECT, "blacklisted_visitor", "+14155550123", 7)
    return gate.call_record(
        facts, verdict, latency_us=420, command_status=CommandStatus.PENDING
    )


def test_a_rejection_logs_its_decision_and_opens_its_command_leased(connection):
    before = timezone.now()
    item_id = outbox.reject_open(record=_record(connection), call_control_id="v3:c1")

    decision = CallDecision.objects.get()
    assert (decision.caller, decision.caller_e164, decision.callee) == (
        "+14155550123", "+14155550123", "+14155550100",
    )  # fmt: skip
    assert (decision.decision, decision.reason) == ("reject", "blacklisted_visitor")
    assert decision.visitor_id == 7
    assert decision.latency_us == 420
    assert decision.command_status == CommandStatus.PENDING
    assert decision.event_id == "ev-1"
    assert decision.created_at >= before
    item = OutboxItem.objects.get()
    assert item.pk == item_id
    assert item.kind == OutboxKind.REJECT
    assert item.event_id == "ev-1"
    assert item.connection_id == connection.id
    assert item.payload == {
        "call_control_id": "v3:c1",
        "provider": Provider.TELNYX_CALL_CONTROL,
        "decision_event_id": "ev-1",
    }
    assert item.attempts == 0
    assert item.delivered_at is None
    # Leased to the request that opened it, due at once for the drain.
    assert item.claimed_until - item.next_attempt_at == outbox.LEASE
    assert item.next_attempt_at - before < dt.timedelta(seconds=30)


def test_a_redelivered_event_opens_nothing_more(connection):
    first = outbox.reject_open(record=_record(connection), call_control_id="v3:c1")
    again = outbox.reject_open(record=_record(connection), call_control_id="v3:c1")

    assert first is not None
    assert again is None
    assert CallDecision.objects.count() == 1
    assert OutboxItem.objects.count() == 1


def test_other_events_each_open_their_own_command(connection):
    ids = {
        outbox.reject_open(record=_record(connection, f"ev-{n}"), call_control_id="c")
        for n in range(3)
    }
    assert None not in ids
    assert len(ids) == 3
    assert OutboxItem.objects.filter(kind=OutboxKind.REJECT).count() == 3


def test_an_item_without_its_decision_row_is_refused_and_nothing_is_written(
    connection,
):
    """An outbox item already there for an event whose decision row is not (it
    cannot happen through the gate): the insert fails as a whole."""
    OutboxItem.objects.create(
        organisation_id=connection.organisation_id,
        connection=connection,
        kind=OutboxKind.REJECT,
        event_id="ev-1",
        next_attempt_at=timezone.now(),
    )
    with pytest.raises(IntegrityError):
        outbox.reject_open(record=_record(connection), call_control_id="v3:c1")
    # The test's own transaction is still usable: the claim had a savepoint.
    assert not CallDecision.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_claim_is_one_round_trip(connection):
    """As in a webhook request: no transaction around it, so on PostgreSQL the
    claim is exactly one statement, committed on its own."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(db) as sent:
        assert outbox.reject_open(record=_record(connection), call_control_id="c")
    sql = [q["sql"] for q in sent.captured_queries]
    if db.vendor == "postgresql":
        assert len(sql) == 1
        assert sql[0].startswith("WITH d AS (INSERT INTO")
    else:  # one transaction of the ORM's statements
        assert len(sql) >= 2
    assert OutboxItem.objects.count() == 1


def _other_decision(connection) -> CallDecision:
    """A second organisation-wide decision the finish must leave alone."""
    outbox.reject_open(record=_record(connection, "ev-2"), call_control_id="v3:c2")
    return CallDecision.objects.get(event_id="ev-2")


def test_a_delivered_reject_marks_its_item_and_its_decision_only(connection):
    item_id = outbox.reject_open(record=_record(connection), call_control_id="v3:c1")
    other = _other_decision(connection)
    before = timezone.now()

    delay = outbox.reject_finish(item_id, telnyx.CommandResult("sent", "200", tries=2))

    assert delay is None
    item = OutboxItem.objects.get(pk=item_id)
    assert item.delivered_at is not None and item.delivered_at >= before
    assert (item.attempts, item.claimed_until, item.last_error) == (2, None, "")
    decision = CallDecision.objects.get(event_id="ev-1")
    assert (decision.command_status, decision.command_detail) == ("sent", "200")
    other.refresh_from_db()
    assert other.command_status == CommandStatus.PENDING
    assert OutboxItem.objects.get(event_id="ev-2").delivered_at is None


def test_a_failed_reject_is_scheduled_again_and_not_marked_delivered(connection):
    item_id = outbox.reject_open(record=_record(connection), call_control_id="v3:c1")

    delay = outbox.reject_finish(
        item_id, telnyx.CommandResult("failed", "503", retryable=True, tries=2)
    )

    assert delay is not None and delay > 0
    item = OutboxItem.objects.get(pk=item_id)
    assert item.delivered_at is None and item.gave_up_at is None
    assert (item.attempts, item.last_error) == (2, "503")
    decision = CallDecision.objects.get(event_id="ev-1")
    assert (decision.command_status, decision.command_detail) == ("failed", "503")


def test_finishing_an_item_that_is_gone_changes_nothing(connection):
    item_id = outbox.reject_open(record=_record(connection), call_control_id="v3:c1")
    OutboxItem.objects.filter(pk=item_id).delete()

    assert outbox.reject_finish(item_id, telnyx.CommandResult("sent", "200")) is None

    decision = CallDecision.objects.get(event_id="ev-1")
    assert decision.command_status == CommandStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_delivered_reject_is_one_round_trip(connection):
    """As in the sender thread: no transaction around it."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    item_id = outbox.reject_open(record=_record(connection), call_control_id="c")
    with CaptureQueriesContext(db) as sent:
        outbox.reject_finish(item_id, telnyx.CommandResult("already_ended", "422"))
    sql = [q["sql"] for q in sent.captured_queries]
    if db.vendor == "postgresql":
        assert len(sql) == 1
        assert sql[0].startswith("WITH i AS (UPDATE")
    else:  # a read, then one transaction of the ORM's updates
        assert len(sql) >= 3
    item = OutboxItem.objects.get(pk=item_id)
    assert item.delivered_at is not None
    assert CallDecision.objects.get().command_status == "already_ended"


@pytest.mark.django_db(transaction=True)
def test_a_delivered_reject_finds_its_decision_by_the_events_index(connection):
    """On PostgreSQL the statement reaches the decision through the unique index
    on the event, not by reading every decision of the organisation: a call log
    of many rows costs a rejection no more than an empty one."""
    from django.db import connection as db

    if db.vendor != "postgresql":  # the ORM path filters on the event's fields
        item_id = outbox.reject_open(record=_record(connection), call_control_id="c")
        outbox.reject_finish(item_id, telnyx.CommandResult("sent", "200"))
        assert CallDecision.objects.get().command_status == "sent"
        return
    item_id = outbox.reject_open(record=_record(connection), call_control_id="c")
    # A call log of some size, its statistics known to the planner.
    CallDecision.objects.bulk_create(
        CallDecision(**gate.row_fields(_record(connection, f"ev-old-{n}")))
        for n in range(3000)
    )
    with db.cursor() as cursor:
        cursor.execute(f"ANALYZE {CallDecision._meta.db_table}")
        cursor.execute(
            "EXPLAIN " + outbox.reject_done_sql(),
            [1, timezone.now(), item_id, "sent", "200"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "call_decision_event_once" in plan, plan
