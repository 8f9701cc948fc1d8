"""The Inbox worth opening: messages in order, events in words, the visitor's other
conversations and calls, Resolve / Reopen (audited), filters that report bad values."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.visitors.factories import ConversationFactory, MessageFactory, VisitorFactory
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from visitors import gate, selectors, services
from visitors.choices import WeightLevel
from visitors.models import Conversation, Visitor, Widget
from voicegate.models import CallDecision


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_messages_are_listed_once_in_the_order_sent(org) -> None:
    """GIVEN messages stored out of order, two at the same instant WHEN listed THEN
    oldest first, ties in the order written, each once."""
    conversation = ConversationFactory(visitor__organisation=org)
    now = timezone.now()
    late = MessageFactory(conversation=conversation, organisation=org, body="c")
    late.created_at = now
    late.save()
    for body in ("a", "b"):
        m = MessageFactory(conversation=conversation, organisation=org, body=body)
        m.created_at = now - dt.timedelta(minutes=1)
        m.save()
    rows = list(selectors.conversation_messages(conversation=conversation))
    assert [m.body for m in rows] == ["a", "b", "c"]


def test_the_widget_writes_each_message_once(org) -> None:
    widget = Widget.objects.create(organisation=org, name="Site")
    first = gate.widget_message_receive(
        widget=widget, widget_visitor_id="wv-1", body="Hello"
    )
    gate.widget_message_receive(
        widget=widget,
        widget_visitor_id="wv-1",
        body="Still there?",
        conversation_id=first.conversation_id,
    )
    conversation = Conversation.objects.get()
    bodies = [
        m.body for m in selectors.conversation_messages(conversation=conversation)
    ]
    assert bodies == ["Hello", "Still there?"]
    assert conversation.message_count == 2


def test_the_conversation_shows_events_in_words_and_the_visitors_history(
    org, oscar
) -> None:
    widget = Widget.objects.create(organisation=org, name="Site")
    answer = gate.widget_message_receive(
        widget=widget,
        widget_visitor_id="wv-9",
        phone="+12025550143",
        body="Pay me by gift card please",
    )
    conversation = Conversation.objects.get(public_id=answer.conversation_id)
    visitor = conversation.visitor
    older = ConversationFactory(visitor=visitor, organisation=org)
    CallDecision.objects.create(
        organisation=org,
        provider="twilio",
        caller="+12025550143",
        caller_e164="+12025550143",
        callee="+12025550100",
        decision="reject",
        reason="blacklisted",
        visitor_id=visitor.pk,
    )
    html = logged_in(oscar).get(f"/inbox/{conversation.public_id}/").content.decode()
    assert "message_id" not in html
    assert "in the message “Pay me by gift card please”" in html
    assert f"/inbox/{older.public_id}/" in html
    assert 'data-testid="sidebar-calls"' in html and "Rejected" in html


def test_resolve_and_reopen_are_audited(org, oscar, bob) -> None:
    conversation = ConversationFactory(visitor__organisation=org)
    url = f"/inbox/{conversation.public_id}/status/"
    assert logged_in(bob).post(url, {"status": "closed"}).status_code == 403
    client = logged_in(oscar)
    client.post(url, {"status": "closed"})
    conversation.refresh_from_db()
    assert conversation.get_status_display() == "Resolved"
    entry = AuditEntry.objects.get(action="conversation.resolve")
    assert describe(entry).sentence == (
        f"oscar@alpha.test marked the conversation with "
        f"{conversation.visitor.display_name} resolved"
    )
    client.post(url, {"status": "open"})
    assert AuditEntry.objects.filter(action="conversation.reopen").count() == 1
    assert (
        "Choose Open or Resolved"
        in client.post(url, {"status": "maybe"}, follow=True).content.decode()
    )


def test_filters_find_blocked_and_flagged_and_report_bad_values(org, bob) -> None:
    actor = Actor.system_for(org, "test")
    calm = ConversationFactory(visitor=VisitorFactory(organisation=org, name="Calm"))
    blocked = ConversationFactory(
        visitor=VisitorFactory(organisation=org, name="Knock", blocked_attempts=2)
    )
    risky: Visitor = services.visitor_upsert(
        actor=actor, name="Risky", emails=["risky@x.example"]
    )
    services.risk_signal_add(
        actor=actor, visitor=risky, signal_type="spam", level=WeightLevel.EXTREME
    )
    flagged = ConversationFactory(visitor=risky)
    client = logged_in(bob)

    def names(query: str) -> set[str]:
        html = client.get(f"/inbox/?{query}").content.decode()
        return {
            c.visitor.name
            for c in (calm, blocked, flagged)
            if f"/inbox/{c.public_id}/" in html
        }

    assert names("") == {"Calm", "Knock", "Risky"}
    assert names("blocked=1") == {"Knock"}
    assert names("flagged=1") == {"Risky"}
    assert names("status=closed") == set()
    response = client.get("/inbox/?status=archived&flagged=perhaps")
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count('data-testid="filter-error"') == 2
    assert "archived is not one of the available choices" in html
