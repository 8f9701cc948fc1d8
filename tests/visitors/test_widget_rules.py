"""Rules as data on the chat path, through the widget's POST /widget/v1/messages.
Shadow rules never act; live rules block, add signals and flag."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.rules.factories import make_rule
from tests.visitors.factories import WidgetFactory
from trustconsole.rules import engine
from trustconsole.rules.models import RuleHitCount
from visitors.models import BlockedAttempt, Message, ReviewItem, RiskSignal, Visitor

pytestmark = pytest.mark.usefixtures("rules_engine_fresh")

URL = "/widget/v1/messages"
CASINO = 'contains_any(message.text, ["casino"])'


@pytest.fixture
def send(org):
    widget = WidgetFactory(organisation=org, name="Main website")
    client = APIClient()

    def post(body: str, **fields):
        payload = {"visitor_id": "w-1", "body": body, **fields}
        response = client.post(
            URL, payload, format="json", REMOTE_ADDR="192.0.2.10",
            headers={"X-Widget-Key": widget.key},
        )  # fmt: skip
        assert response.status_code == 202, response.content
        return response

    return post


def test_a_shadow_block_rule_never_blocks_a_message(org, send) -> None:
    rule = make_rule(
        org, CASINO, {"block": True}, channel="chat_message", mode="shadow"
    )
    send("Best CASINO bonus here")
    assert Message.objects.filter(body="Best CASINO bonus here").exists()
    assert not BlockedAttempt.objects.exists()
    engine.hits_flush()
    assert RuleHitCount.objects.get(rule=rule, mode="shadow").hits == 1


def test_a_live_block_rule_blocks_silently_and_explains_which_rule(org, send) -> None:
    make_rule(
        org,
        CASINO,
        {"block": True},
        channel="chat_message",
        mode="live",
        name="Casino spam",
    )
    shadow = make_rule(
        org, "message.length > 3", {"block": True}, channel="chat_message", name="long"
    )
    answer = send("Best casino bonus here")
    assert set(answer.json()) >= {"conversation_id", "message_id"}  # looks accepted
    assert not Message.objects.exists()
    attempt = BlockedAttempt.objects.get()
    assert attempt.reason == "rule"
    assert attempt.explanation["rule"]["name"] == "Casino spam"
    assert attempt.explanation["rule"]["version"] == 1
    assert [r["id"] for r in attempt.explanation["shadow_rules"]] == [
        str(shadow.public_id)
    ]
    send("hello there")  # other messages go on
    assert Message.objects.filter(body="hello there").exists()


def test_live_signal_and_flag_rules_act_and_shadow_ones_do_not(org, send) -> None:
    effect = {"signal": {"type": "spam", "level": "medium"}, "flag": True}
    make_rule(org, CASINO, effect, channel="chat_message", mode="shadow", name="shadow")
    send("casino")
    visitor = Visitor.objects.get()
    assert not RiskSignal.objects.exists() and not ReviewItem.objects.exists()
    make_rule(org, CASINO, effect, channel="chat_message", mode="live", name="live")
    send("casino again")
    visitor.refresh_from_db()
    assert visitor.status == "flagged"
    assert visitor.trust_score == 80
    assert ReviewItem.objects.get().reason == "Rule live (version 1)"


def test_a_rule_reads_the_visitors_score_and_the_velocity(org, send) -> None:
    make_rule(
        org,
        "visitor.messages_10m >= 3",
        {"block": True},
        channel="chat_message",
        mode="live",
    )
    send("one")
    send("two")
    send("three")
    assert list(Message.objects.values_list("body", flat=True).order_by("id")) == [
        "one",
        "two",
    ]


def test_a_rule_that_raises_does_not_stop_the_message(org, send) -> None:
    make_rule(
        org,
        "message.length / 0 > 1",
        {"block": True},
        channel="chat_message",
        mode="live",
    )
    send("still delivered")
    assert Message.objects.filter(body="still delivered").exists()


def test_an_effect_that_fails_never_loses_the_message(org, send, monkeypatch) -> None:
    make_rule(
        org, CASINO, {"signal": {"type": "spam", "level": "low"}},
        channel="chat_message", mode="live",
    )  # fmt: skip
    from visitors import services

    def broken(**kwargs):
        raise RuntimeError("signal store unavailable")

    monkeypatch.setattr(services, "risk_signal_add", broken)
    send("casino night")
    assert Message.objects.filter(body="casino night").exists()
    assert not RiskSignal.objects.exists()


def test_a_rule_on_visitor_is_new_sees_a_first_message_only(org, send) -> None:
    make_rule(
        org, "visitor.is_new", {"block": True}, channel="chat_message", mode="live",
        name="First contact",
    )  # fmt: skip
    send("Hello, first time here")
    send("Hello again")
    assert BlockedAttempt.objects.count() == 1
    assert list(Message.objects.values_list("body", flat=True)) == ["Hello again"]
