"""What one chat widget message costs the database.

On PostgreSQL a known visitor's message is one round trip: one call of a
function touches the visitor, moves the conversation on (or starts one) and
stores the message (`visitors.gate_store`); a blocked one is one round trip too,
the attempt stored and counted. Elsewhere the ORM path costs three statements
for a known visitor and only the attempt counter's two for a blocked message.
Round trips on PostgreSQL are read from libpq's protocol trace
(`tests/pgtrace.py`), so BEGIN, COMMIT and savepoints would count as well."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.pgtrace import round_trips
from tests.rules.factories import make_rule
from trustconsole.core.actor import Actor
from trustconsole.rules import engine
from trustconsole.rules.models import RuleMatch
from visitors import services
from visitors.models import BlockedAttempt, Conversation, Message, Visitor

URL = "/widget/v1/messages"
CASINO = 'contains_any(message.text, ["casino"])'


STATEMENT = re.compile(r'^(UPDATE|INSERT INTO|DELETE FROM|SELECT .*? FROM) "(\w+)"')


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


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


def _cost(send, *args, **fields):
    """(the response, what it cost): PostgreSQL round trips with the SQL sent,
    else the statements the ORM path sent."""
    if _postgresql():
        with round_trips() as trace:
            response = send(*args, **fields)
        return response, (trace.round_trips, trace.statements)
    with CaptureQueriesContext(connection) as queries:
        response = send(*args, **fields)
    return response, _statements(queries)


def test_a_known_visitors_message_is_one_round_trip(send) -> None:
    """GIVEN a visitor who has written before WHEN they write again in the same
    conversation THEN the message costs one round trip on PostgreSQL (three
    statements elsewhere) and everything shows: the visitor touched, the
    conversation moved on, the message in it with the visitor's name."""
    first = send("Hello", name="Dana", email="dana@example.com").json()
    before = Visitor.objects.get().last_seen_at
    started = Conversation.objects.get().last_message_at
    second, cost = _cost(
        send,
        "Order 1234",
        email="dana@example.com",
        conversation_id=first["conversation_id"],
    )
    assert second.status_code == 202
    assert second.json()["conversation_id"] == first["conversation_id"]
    if _postgresql():
        assert cost[0] == 1, cost
        # One call of the gate's function (`gate_store.message_store`).
        assert len(cost[1]) == 1, cost
        assert (
            cost[1][0].lstrip(' "').startswith("SELECT * FROM visitors_chat_message(")
        ), cost
    else:
        assert cost == [
            "UPDATE visitors_visitor",
            "UPDATE visitors_conversation",
            "INSERT visitors_message",
        ]
    conversation = Conversation.objects.get()
    assert conversation.message_count == 2 and conversation.status == "open"
    assert conversation.last_message_at > started
    assert [m.body for m in conversation.messages.order_by("created_at")] == [
        "Hello",
        "Order 1234",
    ]
    assert Message.objects.get(body="Order 1234").author == "Dana"
    assert (
        str(Message.objects.get(body="Order 1234").public_id)
        == (second.json()["message_id"])
    )
    assert Visitor.objects.get().last_seen_at > before


def test_a_closed_conversation_reopens_and_a_stranger_starts_a_new_one(
    send,
) -> None:
    """A known visitor writing in their closed conversation reopens it; one
    giving another visitor's conversation id (or none) starts a new one, named
    after them (an anonymous visitor as "Visitor <first digits of their id>")."""
    first = send("Hello").json()
    Conversation.objects.update(status="closed")
    again, _ = _cost(send, "still there?", conversation_id=first["conversation_id"])
    assert again.json()["conversation_id"] == first["conversation_id"]
    assert Conversation.objects.get().status == "open"
    send("Hi", visitor_id="w-2")
    stranger, _ = _cost(
        send, "me too", visitor_id="w-2", conversation_id=first["conversation_id"]
    )
    assert stranger.json()["conversation_id"] != first["conversation_id"]
    theirs = Conversation.objects.get(public_id=stranger.json()["conversation_id"])
    visitor = Visitor.objects.get(identifiers__value="w-2")
    assert theirs.visitor == visitor and theirs.message_count == 1
    assert theirs.messages.get().author == visitor.display_name
    assert visitor.display_name.startswith("Visitor ")
    assert (
        Conversation.objects.get(public_id=first["conversation_id"]).message_count == 2
    )


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
    answer, cost = _cost(send, "buy now", email="spam@example.com")
    assert answer.status_code == 202
    if _postgresql():
        assert cost[0] == 1, cost
    else:
        assert cost == ["INSERT visitors_blockedattempt", "UPDATE visitors_visitor"]
    assert BlockedAttempt.objects.filter(visitor=visitor).count() == 2
    assert Visitor.objects.get().blocked_attempts == 2
    assert Message.objects.count() == 1


@pytest.mark.usefixtures("rules_engine_fresh")
def test_a_message_a_rule_blocks_costs_only_the_attempt_counter(
    send, org, settings
) -> None:
    """GIVEN a live rule blocking a word (it reads only the message) WHEN a known
    visitor writes it THEN the rule decides before any lookup: the attempt is
    stored and counted on the visitor, nothing else is read or written, and
    the match log names the visitor."""
    send("Hello", name="Dana")
    make_rule(
        org, CASINO, {"block": True}, channel="chat_message", mode="live",
        name="Casino spam",
    )  # fmt: skip
    send("first message since")  # this process compiles the rule set (once)
    settings.RULES_HITS_FLUSH_SECONDS = 3600
    engine.hits_flush()  # the hit counts are written once a while, not now
    answer, cost = _cost(send, "Best casino bonus")
    assert answer.status_code == 202
    if _postgresql():
        assert cost[0] == 1, cost
    else:
        assert cost == ["UPDATE visitors_visitor", "INSERT visitors_blockedattempt"]
    visitor = Visitor.objects.get()
    attempt = BlockedAttempt.objects.get()
    assert attempt.visitor == visitor and attempt.reason == "rule"
    assert attempt.explanation["rule"]["name"] == "Casino spam"
    assert visitor.blocked_attempts == 1
    assert not Message.objects.filter(body="Best casino bonus").exists()
    engine.hits_flush()
    match = RuleMatch.objects.get(rule__name="Casino spam")
    assert match.visitor == visitor and match.subject_label == "Dana"
    assert match.real == "blocked"


@pytest.mark.usefixtures("rules_engine_fresh")
def test_a_rule_reading_the_visitor_still_sees_their_row(send, org) -> None:
    """A rule on the visitor's trust score is evaluated after the lookup: a low
    score blocks, a full one does not."""
    send("Hello", visitor_id="w-low")
    send("Hello", visitor_id="w-ok")
    Visitor.objects.filter(identifiers__value="w-low").update(trust_score=10)
    make_rule(
        org, "visitor.trust_score < 50", {"block": True}, channel="chat_message",
        mode="live", name="Low trust",
    )  # fmt: skip
    send("second", visitor_id="w-low")
    send("second", visitor_id="w-ok")
    low = Visitor.objects.get(identifiers__value="w-low")
    assert BlockedAttempt.objects.get().visitor == low
    ok = Visitor.objects.get(identifiers__value="w-ok")
    stored = Message.objects.filter(body="second")
    assert [m.conversation.visitor for m in stored] == [ok]


@pytest.mark.usefixtures("rules_engine_fresh")
def test_a_shadow_match_on_the_short_path_is_logged_with_the_visitor(send, org) -> None:
    send("Hello", name="Dana")
    make_rule(org, CASINO, {"block": True}, channel="chat_message", mode="shadow")
    send("casino tonight?")
    assert Message.objects.filter(body="casino tonight?").exists()
    engine.hits_flush()
    match = RuleMatch.objects.get()
    assert match.visitor == Visitor.objects.get() and match.real == "stored"
    assert match.subject_label == "Dana" and match.excerpt == "casino tonight?"


def test_a_deactivated_widget_is_refused_at_once(send, widget) -> None:
    """The widget key is served from memory after the first message, but a
    widget switched off is refused on the very next one."""
    assert send("Hello").status_code == 202
    widget.is_active = False
    widget.save()
    refused = send("still there?")
    assert refused.status_code == 401
    assert Message.objects.count() == 1


def test_a_new_visitors_first_message_is_written_in_one_statement(send) -> None:
    """GIVEN a visitor never seen, from an IP another visitor already owns WHEN
    they write THEN on PostgreSQL one statement creates them (after the call
    that looked for them as a known visitor), elsewhere the ORM does: the
    visitor with their widget id and email, the IP left with its owner, the
    audit entry of their creation, a conversation and the message."""
    from trustconsole.core.models import AuditEntry

    send("Hello", visitor_id="w-first")
    answer, cost = _cost(
        send, "Hi, new here", visitor_id="w-new", email="Nia@Example.com", name="Nia"
    )
    assert answer.status_code == 202
    if _postgresql():
        written = [s for s in cost[1] if "SAVEPOINT" not in s]  # the test's own
        # The known visitor's function found nobody (and wrote nothing), then
        # the creating statement.
        assert [s.lstrip(' "').split()[0] for s in written] == ["SELECT", "WITH"]
        assert "visitors_chat_message(" in written[0]
    nia = Visitor.objects.get(name="Nia")
    assert sorted(nia.identifiers.values_list("kind", "value")) == [
        ("email", "nia@example.com"),
        ("widget", "w-new"),
    ]
    first = Visitor.objects.get(identifiers__value="w-first")
    assert first.identifiers.filter(kind="ip", value="192.0.2.10").exists()
    entry = AuditEntry.objects.get(action="visitor.create", target_id=nia.public_id)
    assert entry.target_label == "Nia" and entry.actor_label.startswith("system: ")
    assert entry.after == {
        "name": "Nia",
        "identifiers_added": ["widget:w-new", "email:nia@example.com"],
    }
    conversation = Conversation.objects.get(visitor=nia)
    assert str(conversation.public_id) == answer.json()["conversation_id"]
    assert conversation.message_count == 1 and conversation.widget is not None
    message = conversation.messages.get()
    assert (message.body, message.author, message.ip) == (
        "Hi, new here",
        "Nia",
        "192.0.2.10",
    )
    assert nia.name_search == "nia" and nia.status == "none"


@pytest.mark.django_db
def test_the_message_function_writes_every_column_of_its_rows() -> None:
    """On PostgreSQL a known visitor's message is written by a function
    (migration 0009) that names the columns of the conversation and message it
    inserts: a column added to either model must be added there too, or every
    known visitor's message would fail (or store a default the model did not
    choose). Elsewhere there is no function (the ORM path)."""
    if not _postgresql():
        return  # no function there: the ORM path (the tests above)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = 'visitors_chat_message'"
        )
        (source,) = cursor.fetchone()
    for model in (Conversation, Message):
        insert = source[source.index(f"INSERT INTO {model._meta.db_table} (") :]
        named = insert[insert.index("(") + 1 : insert.index(")")]
        assert {name.strip() for name in named.split(",")} == {
            field.column
            for field in model._meta.concrete_fields
            if not field.primary_key
        }, model
