"""Two first messages of one new visitor at once (a widget that sends its second
message before the answer to the first came back): each on its own thread and
database connection, through the chat gate (`visitors.gate.widget_message_receive`,
what `POST /widget/v1/messages` calls), on both of its paths (one statement on
PostgreSQL; the ORM path, which rules with effects and SQLite take)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.rules.factories import make_rule
from visitors.gate import widget_message_receive
from visitors.models import Conversation, Message, Visitor, VisitorIdentifier

ROUNDS = 6


def _take(path: str, org: Any) -> None:
    """Send the messages down `path`: a live rule with an effect on every
    message takes the ORM path."""
    if path == "orm":
        make_rule(
            org, 'message.text.startsWith("first")',
            {"signal": {"type": "spam", "level": "low"}},
            channel="chat_message", mode="live",
        )  # fmt: skip


def _both_at_once(widget: Any, visitor_id: str) -> list[Any]:
    """Send two first messages of `visitor_id` from two threads released together;
    their answers (or the exceptions they raised)."""
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def send(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            answers[n] = widget_message_receive(
                widget=widget,
                widget_visitor_id=visitor_id,
                body=f"first message {n}",
                email=f"{visitor_id}@example.com",
                ip="192.0.2.10",
            )
        except Exception as exc:  # noqa: BLE001 - reported by the test
            answers[n] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=send, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["one statement", "orm"])
def test_two_first_messages_at_once_make_one_visitor_and_one_conversation(
    org, widget, path
) -> None:
    """GIVEN a new visitor WHEN two of their first messages (no conversation id
    yet) reach the gate at the same moment, several times over THEN each time
    exactly one visitor and one conversation exist, holding both messages, and
    both answers name that conversation."""
    _take(path, org)
    for n in range(ROUNDS):
        visitor_id = f"w-race-{n}"
        answers = _both_at_once(widget, visitor_id)
        for answer in answers:
            assert not isinstance(answer, BaseException), answer
            assert answer is not None and not answer.blocked
        owners = VisitorIdentifier.objects.filter(
            organisation=org, kind="widget", value=visitor_id
        ).values_list("visitor_id", flat=True)
        assert len(owners) == 1
        visitor = Visitor.objects.get(pk=owners[0])
        (conversation,) = Conversation.objects.filter(visitor=visitor)
        assert {a.conversation_id for a in answers} == {conversation.public_id}
        bodies = sorted(
            Message.objects.filter(conversation=conversation).values_list(
                "body", flat=True
            )
        )
        assert bodies == ["first message 0", "first message 1"]
        assert conversation.message_count == 2
    assert Visitor.objects.filter(organisation=org).count() == ROUNDS


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["one statement", "orm"])
def test_two_messages_of_a_known_visitor_at_once_start_one_conversation(
    org, widget, path
) -> None:
    """GIVEN a visitor who wrote an hour ago WHEN two of their messages without
    a conversation id reach the gate at the same moment, several times over
    THEN each time one new conversation holds both (the second waits for the
    first and joins the conversation it just started), and both answers name
    it; the old conversation is left as it was."""
    _take(path, org)
    for n in range(ROUNDS):
        visitor_id = f"w-known-{n}"
        widget_message_receive(
            widget=widget,
            widget_visitor_id=visitor_id,
            body="an hour ago",
            email=f"{visitor_id}@example.com",
            ip="192.0.2.10",
        )
        visitor = Visitor.objects.get(identifiers__value=visitor_id)
        Conversation.objects.filter(visitor=visitor).update(
            created_at=timezone.now() - dt.timedelta(hours=1)
        )
        answers = _both_at_once(widget, visitor_id)
        for answer in answers:
            assert not isinstance(answer, BaseException), answer
            assert answer is not None and not answer.blocked
        (new,) = {a.conversation_id for a in answers}
        conversations = Conversation.objects.filter(visitor=visitor)
        assert conversations.count() == 2
        conversation = conversations.get(public_id=new)
        bodies = sorted(conversation.messages.values_list("body", flat=True))
        assert bodies == ["first message 0", "first message 1"]
        assert conversation.message_count == 2
        old = conversations.exclude(public_id=new).get()
        assert list(old.messages.values_list("body", flat=True)) == ["an hour ago"]
