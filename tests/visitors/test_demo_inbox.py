"""The demo's Inbox reads right: each message once and in order, events in words
with the message they refer to, signals dated with the visit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client

from trustconsole.core.models import Organisation
from visitors.models import Conversation, Event, Message, RiskSignal, Visitor


@pytest.fixture
def demo(db) -> Organisation:
    call_command("seed_demo", "--quiet-login")
    return Organisation.objects.get(slug="demo")


def test_no_conversation_repeats_a_message_and_all_are_in_order(demo) -> None:
    for conversation in Conversation.objects.filter(organisation=demo):
        rows = list(
            Message.objects.filter(conversation=conversation).order_by(
                "created_at", "id"
            )
        )
        bodies = [m.body for m in rows]
        assert len(bodies) == len(set(bodies)), (conversation, bodies)
        # Dated in the order they were sent, never two at the same instant.
        times = [m.created_at for m in rows]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert [m.id for m in rows] == sorted(m.id for m in rows)
        if rows:
            assert conversation.last_message_at == rows[-1].created_at


def test_signals_and_events_are_dated_with_the_visit(demo) -> None:
    """A visitor last seen two weeks ago has signals from then, not from today."""
    slack = dt.timedelta(minutes=5)
    for visitor in Visitor.objects.filter(organisation=demo):
        for signal in RiskSignal.objects.filter(visitor=visitor):
            assert signal.created_at <= visitor.last_seen_at + slack, visitor
            assert signal.created_at >= visitor.created_at - slack, visitor
        for event in Event.objects.filter(visitor=visitor):
            assert event.created_at <= visitor.last_seen_at + slack, visitor


def test_the_queue_and_profile_describe_events_in_words(demo) -> None:
    client = Client()
    assert client.login(username="operator@demo.test", password="trustconsole-demo")
    queue = client.get("/review/").content.decode()
    assert "message_id" not in queue
    assert "keyword “gift card” in the message “A gift card code by email" in queue
    event = Event.objects.filter(organisation=demo, kind="flagged_keyword").first()
    profile = client.get(f"/security/visitors/{event.visitor.public_id}/")
    html = profile.content.decode()
    assert "message_id" not in html
    assert "in the message “" in html


def test_event_descriptions_read_as_words() -> None:
    """Each kind of detail the code records becomes words, never `key: uuid`."""

    class Said:
        body = "Send it by wire transfer " + "now " * 60

    keyword = Event(
        kind="flagged_keyword",
        detail={"keyword": "wire transfer", "message_id": "6f1c0f4e-0d1c-4f44-9a55-1"},
    )
    keyword.message = Said()
    text = keyword.description
    assert text.startswith("keyword “wire transfer” in the message “Send it by wire")
    assert text.endswith("…”") and len(text) < 180
    gone = Event(kind="flagged_keyword", detail={"keyword": "x", "message_id": "y"})
    assert gone.description == "keyword “x” in a message that is no longer kept"
    velocity = Event(
        kind="message_velocity", detail={"messages": 12, "window_seconds": 60}
    )
    assert velocity.description == "12 messages within 60 seconds"
    calls = Event(
        kind="repeated_calls",
        detail={"number": "+12025550143", "calls": 4, "window_seconds": 600},
    )
    assert calls.description == "4 calls from +12025550143 within 600 seconds"
    report = Event(kind="user_report", detail={"reason": "Rude"})
    assert report.description == "reason: Rude"
    assert Event(kind="x", detail={"widget": "Main"}).description == (
        "on the widget Main"
    )
