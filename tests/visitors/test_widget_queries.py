"""What one chat widget message costs the database: a known visitor's message is
three statements (touch the visitor, move the conversation on, store the message);
a blocked one only records the attempt; the widget key is read from memory."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from trustconsole.core.actor import Actor
from visitors import services
from visitors.models import BlockedAttempt, Conversation, Message, Visitor

URL = "/widget/v1/messages"


STATEMENT = re.compile(r'^(UPDATE|INSERT INTO|DELETE FROM|SELECT .*? FROM) "(\w+)"')


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """What each statement sent did and to which table ("UPDATE visitors_visitor"),
    without the savepoints of the test's own transaction."""
    out = []
    for query in queries.captured_queries:
        if "SAVEPOINT" in query["sql"].upper():
            continue
        found = STATEMENT.match(query["sql"])
        assert found, query["sql"]
        out.append(f"{found[1].split()[0]} {found[2]}")
    return out


def test_a_known_visitors_message_is_three_statements(send) -> None:
    """GIVEN a visitor who has written before WHEN they write again in the same
    conversation THEN the message costs three statements — the visitor touched,
    the conversation moved on, the message stored — and all three show."""
    first = send("Hello", name="Dana", email="dana@example.com").json()
    before = Visitor.objects.get().last_seen_at
    with CaptureQueriesContext(connection) as queries:
        second = send(
            "Order 1234",
            email="dana@example.com",
            conversation_id=first["conversation_id"],
        )
    assert second.status_code == 202
    assert second.json()["conversation_id"] == first["conversation_id"]
    assert _statements(queries) == [
        "UPDATE visitors_visitor",
        "UPDATE visitors_conversation",
        "INSERT visitors_message",
    ]
    conversation = Conversation.objects.get()
    assert conversation.message_count == 2 and conversation.status == "open"
    assert [m.body for m in Message.objects.order_by("created_at")] == [
        "Hello",
        "Order 1234",
    ]
    assert Message.objects.get(body="Order 1234").author == "Dana"
    assert Visitor.objects.get().last_seen_at > before


def test_anything_new_about_a_known_visitor_takes_the_full_path(send) -> None:
    """A new email, or a name for a visitor without one, is still recorded (the
    one-statement touch only serves messages that change nothing else)."""
    send("Hello")
    send("me again", email="dana@example.com", name="Dana")
    visitor = Visitor.objects.get()
    assert visitor.name == "Dana"
    assert sorted(visitor.identifiers.values_list("kind", flat=True)) == [
        "email",
        "ip",
        "widget",
    ]
    send("renamed?", name="Someone else")
    assert Visitor.objects.get().name == "Dana"  # a name is never overwritten


def test_a_blacklisted_visitors_message_only_records_the_attempt(send, org) -> None:
    send("Hello", email="spam@example.com")
    visitor = Visitor.objects.get()
    services.visitor_blacklist(
        actor=Actor.system_for(org, "test"), visitor=visitor, reason="spam"
    )
    send("first try")  # this process applies the change (the change log, once)
    with CaptureQueriesContext(connection) as queries:
        answer = send("buy now", email="spam@example.com")
    assert answer.status_code == 202
    assert _statements(queries) == [
        "INSERT visitors_blockedattempt",
        "UPDATE visitors_visitor",
    ]
    assert BlockedAttempt.objects.filter(visitor=visitor).count() == 2
    assert Visitor.objects.get().blocked_attempts == 2
    assert Message.objects.count() == 1


def test_a_deactivated_widget_is_refused_at_once(send, widget) -> None:
    """The widget key is served from memory after the first message, but a
    widget switched off is refused on the very next one."""
    assert send("Hello").status_code == 202
    widget.is_active = False
    widget.save()
    refused = send("still there?")
    assert refused.status_code == 401
    assert Message.objects.count() == 1
