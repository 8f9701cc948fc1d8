"""The chat widget gate: messages reach the Inbox; blocked ones silently do not."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from trustconsole.core.actor import Actor
from visitors import services
from visitors.choices import BlockReason, VisitorStatus
from visitors.models import (
    BlockedAttempt,
    Conversation,
    Event,
    Message,
    ReviewItem,
    Visitor,
)

URL = "/widget/v1/messages"


# CSRF tokens are random letters and may spell any name a test looks for.
CSRF_TOKENS = re.compile(
    r'(?<=X-CSRFToken": ")[^"]+|(?<=name="csrfmiddlewaretoken" value=")[^"]+'
)


def _inbox_html(user) -> str:
    """The Inbox page with its CSRF tokens blanked."""
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return CSRF_TOKENS.sub("", client.get("/inbox/").content.decode())


def test_a_message_starts_a_conversation_shown_in_the_inbox(send, oscar) -> None:
    first = send("Hi, my order is late", name="Dana", email="Dana@Example.com")
    assert first.status_code == 202
    data = first.json()
    assert set(data) == {"status", "conversation_id", "message_id"}
    second = send("Order 1234", conversation_id=data["conversation_id"])
    assert second.json()["conversation_id"] == data["conversation_id"]
    conversation = Conversation.objects.get()
    assert conversation.message_count == 2
    assert [m.body for m in conversation.messages.all()] == [
        "Hi, my order is late",
        "Order 1234",
    ]
    visitor = conversation.visitor
    assert visitor.name == "Dana"
    assert set(visitor.identifiers.values_list("kind", "value")) == {
        ("widget", "w-1"),
        ("email", "dana@example.com"),
        ("ip", "192.0.2.10"),
    }
    assert "Dana" in _inbox_html(oscar)


def test_a_blacklisted_visitor_is_silently_blocked_and_nothing_reaches_the_inbox(
    send, org, oscar
) -> None:
    """GIVEN a blacklisted visitor known by email WHEN they write from a fresh widget
    id THEN the widget gets the usual 202, no conversation or message is stored, and
    the attempt is counted on their profile."""
    actor = Actor.system_for(org, "test")
    mallory = services.visitor_upsert(
        actor=actor, name="Mallory", emails=["mallory@example.com"]
    )
    services.visitor_blacklist(actor=actor, visitor=mallory, reason="threats")
    normal = send("hello", visitor_id="someone-else")
    blocked = send(
        "let me in", visitor_id="w-new", email="MALLORY@example.com", name="M"
    )
    assert blocked.status_code == normal.status_code == 202
    assert set(blocked.json()) == set(normal.json())
    assert blocked.json()["status"] == "accepted"
    uuid.UUID(blocked.json()["conversation_id"])
    assert not Message.objects.filter(body="let me in").exists()
    assert not Conversation.objects.filter(visitor=mallory).exists()
    mallory.refresh_from_db()
    assert mallory.blocked_attempts == 1
    attempt = BlockedAttempt.objects.get()
    assert (attempt.visitor, attempt.reason) == (mallory, BlockReason.BLACKLISTED)
    # A follow-up with the fake conversation id is blocked too.
    send("again", visitor_id="w-new", email="mallory@example.com",
         conversation_id=blocked.json()["conversation_id"])  # fmt: skip
    mallory.refresh_from_db()
    assert mallory.blocked_attempts == 2
    html = _inbox_html(oscar)
    assert "Mallory" not in html


@pytest.mark.parametrize(
    ("network", "ip"),
    [("198.51.100.0/24", "198.51.100.77"), ("2001:db8:abcd::/48", "2001:db8:abcd::9")],
)
def test_a_blocked_cidr_is_silently_blocked_and_counted(
    send, org, oscar, network, ip
) -> None:
    actor = Actor.system_for(org, "test")
    services.ip_block_create(actor=actor, network=network, reason="botnet")
    response = send("buy now", ip=ip, visitor_id="w-bot", name="Bot")
    assert response.status_code == 202
    assert not Message.objects.exists() and not Conversation.objects.exists()
    visitor = Visitor.objects.get()
    assert visitor.blocked_attempts == 1
    assert BlockedAttempt.objects.get().reason == BlockReason.IP_BLOCK
    assert "Bot" not in _inbox_html(oscar)
    # Outside the range the same visitor gets through.
    assert send("hello", ip="192.0.2.1", visitor_id="w-bot").status_code == 202
    assert Message.objects.count() == 1


def test_an_expired_ip_block_no_longer_applies(send, org) -> None:
    actor = Actor.system_for(org, "test")
    services.ip_block_create(
        actor=actor,
        network="203.0.113.0/24",
        reason="temporary",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    send("blocked", ip="203.0.113.5")
    assert not Message.objects.exists()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        send("through", ip="203.0.113.5")
    assert Message.objects.get().body == "through"


def test_the_client_ip_comes_from_trusted_proxies_only(send, org, settings) -> None:
    actor = Actor.system_for(org, "test")
    services.ip_block_create(actor=actor, network="198.51.100.7", reason="abuse")
    settings.VISITORS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    forwarded = {"X-Forwarded-For": "198.51.100.7, 10.0.0.2"}
    send("via proxy", ip="10.0.0.5", headers=forwarded, visitor_id="a")
    assert BlockedAttempt.objects.get().ip == "198.51.100.7"
    # From an untrusted address, a forged header is ignored.
    send("forged", ip="192.0.2.44", headers=forwarded, visitor_id="b")
    assert Message.objects.get().ip == "192.0.2.44"


def test_bad_input_is_refused_with_field_and_reason(send, widget) -> None:
    bad_phone = send("hi", phone="12ab")
    assert bad_phone.status_code == 400
    assert bad_phone.json()["errors"][0]["field"] == "phone"
    bad_email = send("hi", email="nope")
    assert bad_email.json()["errors"][0]["field"] == "email"
    empty = send("   ")
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "body"
    wrong_key = APIClient().post(
        URL, {"visitor_id": "x", "body": "hi"}, format="json",
        headers={"X-Widget-Key": "wk_nope"},
    )  # fmt: skip
    assert wrong_key.status_code == 401
    assert not Message.objects.exists() and not Visitor.objects.exists()


def test_the_widget_may_post_cross_origin(widget) -> None:
    response = APIClient().options(URL, headers={"Origin": "https://shop.example"})
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "X-Widget-Key" in response["Access-Control-Allow-Headers"]


def test_a_flagged_keyword_becomes_a_signal_and_flags_with_the_conversation(
    send,
) -> None:
    first = send("Pay me with a GIFT CARD now").json()
    send("Gift card or else", conversation_id=first["conversation_id"])
    visitor = Visitor.objects.get()
    assert Event.objects.filter(kind="flagged_keyword").count() == 2
    assert visitor.trust_score == 20 and visitor.status == VisitorStatus.FLAGGED
    item = ReviewItem.objects.get()
    assert item.conversation == Conversation.objects.get()
    assert item.event.kind == "flagged_keyword"


def test_message_velocity_is_an_event_once_per_window(send, widget) -> None:
    # The organisation's default "Message velocity" rule, tuned by an admin.
    from trustconsole.rules.models import Rule
    from trustconsole.rules.services import rule_update

    rule = Rule.objects.get(
        organisation=widget.organisation, builtin="message_velocity"
    )
    rule_update(
        actor=Actor.system_for(widget.organisation, "test"),
        rule=rule,
        condition="visitor.messages_recent > 3",
    )
    for n in range(6):
        send(f"msg {n}")
    assert Event.objects.filter(kind="message_velocity").count() == 1
    assert Visitor.objects.get().trust_score == 80
    assert Message.objects.count() == 6  # velocity flags, it does not block


def test_a_conversation_id_of_another_visitor_starts_a_new_one(send) -> None:
    theirs = send("mine", visitor_id="owner").json()["conversation_id"]
    mine = send("sneaky", visitor_id="other", conversation_id=theirs).json()
    assert mine["conversation_id"] != theirs
    assert Conversation.objects.count() == 2


def test_an_ip_shared_with_another_visitor_does_not_fail_the_gate(send) -> None:
    send("one", visitor_id="a", ip="192.0.2.99")
    send("two", visitor_id="b", ip="192.0.2.99")
    assert Visitor.objects.count() == 2
    assert Message.objects.count() == 2


def test_a_client_ip_sending_too_much_gets_429_with_retry_after(send, settings) -> None:
    """GIVEN a limit of 3 messages a minute per client IP WHEN a fourth comes
    from that IP THEN 429 in the API's error shape with Retry-After, nothing is
    stored; another IP is still served."""
    settings.VISITORS_WIDGET_RATE_PER_IP = (3, 60)
    assert [send(f"m{i}").status_code for i in range(3)] == [202, 202, 202]
    refused = send("one too many")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["detail"].startswith("Request was throttled")
    assert body["errors"] == [{"field": None, "reason": body["detail"]}]
    assert refused["Access-Control-Allow-Origin"] == "*"  # the widget can read it
    assert Message.objects.count() == 3
    assert send("other office", ip="192.0.2.99").status_code == 202


def test_a_widget_key_is_limited_across_all_its_visitors(send, settings) -> None:
    settings.VISITORS_WIDGET_RATE_PER_KEY = (2, 60)
    assert send("a", ip="192.0.2.1").status_code == 202
    assert send("b", ip="192.0.2.2").status_code == 202
    assert send("c", ip="192.0.2.3").status_code == 429
    assert Message.objects.count() == 2


def test_the_ip_limit_reads_the_client_address_as_the_gate_does(send, settings) -> None:
    """GIVEN a trusted proxy WHEN clients behind it post THEN each client has its
    own allowance; a forged X-Forwarded-For from an untrusted address does not
    get a fresh one."""
    settings.VISITORS_WIDGET_RATE_PER_IP = (1, 60)
    settings.VISITORS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    via = {"ip": "10.0.0.5"}
    first = send("a", headers={"X-Forwarded-For": "198.51.100.1"}, **via)
    second = send("b", headers={"X-Forwarded-For": "198.51.100.2"}, **via)
    assert (first.status_code, second.status_code) == (202, 202)
    assert (
        send("c", headers={"X-Forwarded-For": "198.51.100.1"}, **via).status_code == 429
    )
    assert send("d", ip="192.0.2.7").status_code == 202
    forged = send("e", ip="192.0.2.7", headers={"X-Forwarded-For": "198.51.100.9"})
    assert forged.status_code == 429


def test_a_known_visitors_message_reads_its_identifiers_once(send) -> None:
    """GIVEN a visitor known by widget id and email WHEN they write again THEN the
    gate finds them with one identifier query, adds the new phone to them, and
    leaves an email another visitor owns with that visitor."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    send("first", visitor_id="w-known", email="known@example.com")
    send("other", visitor_id="w-someone", email="someone@example.com")
    with CaptureQueriesContext(connection) as ctx:
        response = send(
            "again",
            visitor_id="w-known",
            email="someone@example.com",
            phone="+14155550123",
        )
    assert response.status_code == 202
    lookups = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().startswith("SELECT")
        and "visitoridentifier" in q["sql"]
        and '"value" =' in q["sql"]
    ]
    assert len(lookups) == 1, lookups
    known = Visitor.objects.get(identifiers__value="w-known")
    assert {i.value for i in known.identifiers.all()} >= {
        "known@example.com",
        "+14155550123",
    }
    assert not known.identifiers.filter(value="someone@example.com").exists()
    assert Message.objects.filter(conversation__visitor=known).count() == 2


def test_the_identifier_lookup_uses_the_unique_index_for_every_term(org) -> None:
    """Each (kind, value) term is a lookup of the (organisation, kind, value)
    index, never a walk over all of the organisation's identifiers (with a few
    thousand of them, and PostgreSQL's statistics taken)."""
    from django.db import connection

    from visitors.models import VisitorIdentifier

    owner = Visitor.objects.create(organisation=org, last_seen_at=timezone.now())
    VisitorIdentifier.objects.bulk_create(
        VisitorIdentifier(organisation=org, visitor=owner, kind=kind, value=f"v{n}")
        for n in range(1500)
        for kind in ("widget", "email")
    )
    pairs = [("widget", "v1"), ("email", "v2"), ("ip", "192.0.2.1")]
    query = VisitorIdentifier.objects.filter(
        services.identifier_filter(org.pk, pairs)
    ).select_related("visitor")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE visitors_visitoridentifier")
        plan = query.explain()
        lines = [line for line in plan.splitlines() if "Index Cond" in line]
        lines = [line for line in lines if "organisation_id" in line]
        assert lines and all("value" in line for line in lines), plan
    else:
        plan = query.explain()
        lines = [line for line in plan.splitlines() if "visitoridentifier" in line]
        assert lines and all("value=?" in line for line in lines), plan
