"""The default rule set: the chat widget's flagged keywords and message velocity are
rules each organisation owns, first written from the environment variables."""

from __future__ import annotations

import pytest

from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry, Organisation
from trustconsole.core.services import organisation_create
from trustconsole.rules.defaults import DEFAULTS, seed
from trustconsole.rules.models import Rule, RuleVersion
from trustconsole.rules.services import rule_delete, rule_set_mode, rule_update
from visitors.models import Event, Message, RiskSignal, Visitor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]


def _admin(organisation: Organisation) -> Actor:
    return Actor.system_for(organisation, "admin in a test")


def _default(organisation: Organisation, key: str) -> Rule:
    return Rule.objects.select_related("current_version").get(
        organisation=organisation, builtin=key
    )


def test_a_new_organisation_gets_the_defaults_written_from_the_environment(
    settings,
) -> None:
    settings.VISITORS_FLAGGED_KEYWORDS = ["refund now", 'say "yes"']
    settings.VISITORS_VELOCITY_MAX = 4
    settings.VISITORS_VELOCITY_WINDOW = 30
    organisation, _, _ = organisation_create(
        name="Gamma", admin_email="admin@gamma.example", admin_password="x" * 12
    )
    keywords = _default(organisation, "flagged_keywords")
    velocity = _default(organisation, "message_velocity")
    assert (keywords.mode, keywords.channel) == ("live", "chat_message")
    assert keywords.current_version.condition == (
        'contains_any(message.text, ["refund now", "say \\"yes\\""])'
    )
    assert keywords.current_version.effect == {"event": {"kind": "flagged_keyword"}}
    assert velocity.current_version.condition == "visitor.messages_recent > 4"
    assert velocity.current_version.effect == {
        "event": {"kind": "message_velocity", "once_per_seconds": 30}
    }
    assert velocity.current_version.created_by == "default rule set"
    entry = AuditEntry.objects.get(action="rule.defaults_add")
    words = describe(entry)
    assert "added the default rule set to Gamma" in words.sentence
    assert entry.after["rules"][0] in str([c.after for c in words.changes])
    chat_and_voice = (
        "Event weight", "Flagged keywords", "Message velocity", "Repeated calls",
        "Harassment limit",
    )  # fmt: skip
    assert [n for n in entry.after["rules"] if n.startswith(chat_and_voice)] == [
        "Event weight: Flagged keyword",
        "Event weight: User report",
        "Event weight: Message velocity",
        "Event weight: Repeated calls",
        "Flagged keywords",
        "Message velocity",
        "Repeated calls",
        "Harassment limit",
    ]


def test_without_keywords_the_keyword_rule_starts_off(settings) -> None:
    settings.VISITORS_FLAGGED_KEYWORDS = []
    organisation = Organisation.objects.create(name="Delta", slug="delta")
    rule = _default(organisation, "flagged_keywords")
    assert (rule.mode, rule.current_version.condition) == ("off", "false")


def test_the_keyword_event_names_the_word_and_the_rule(send, widget) -> None:
    send("Please pay by Wire Transfer today")
    event = Event.objects.get(kind="flagged_keyword")
    assert event.detail["keyword"] == "wire transfer"
    assert event.detail["rule"] == "Flagged keywords (version 1)"
    assert event.detail["message_id"] == str(Message.objects.get().public_id)
    signal = RiskSignal.objects.get(signal_type="flagged_keyword")
    assert "wire transfer" in signal.note


def test_an_admin_changes_the_keywords_and_the_gate_follows(send, widget) -> None:
    rule = _default(widget.organisation, "flagged_keywords")
    rule_update(
        actor=_admin(widget.organisation),
        rule=rule,
        condition='contains_any(message.text, ["crypto refund"])',
    )
    send("I want a gift card")  # a keyword of the first version only
    assert not Event.objects.exists()
    send("where is my CRYPTO REFUND")
    assert Event.objects.get().detail["keyword"] == "crypto refund"
    assert rule.versions.count() == 2


def test_a_default_in_shadow_mode_never_acts(send, widget) -> None:
    rule = _default(widget.organisation, "flagged_keywords")
    rule_set_mode(actor=_admin(widget.organisation), rule=rule, mode="shadow")
    send("Pay me with a gift card")
    visitor = Visitor.objects.get()
    assert not Event.objects.exists()
    assert visitor.trust_score == 100 and Message.objects.count() == 1


def test_velocity_is_counted_per_visitor_and_recorded_once_per_window(
    send, widget
) -> None:
    rule_update(
        actor=_admin(widget.organisation),
        rule=_default(widget.organisation, "message_velocity"),
        condition="visitor.messages_recent > 2",
    )
    for n in range(2):
        send(f"mine {n}", visitor_id="a")
        send(f"theirs {n}", visitor_id="b")
    assert not Event.objects.exists()  # two each: nobody is over the limit
    send("mine 2", visitor_id="a")
    send("mine 3", visitor_id="a")
    event = Event.objects.get(kind="message_velocity")
    assert (event.detail["messages_recent"], event.detail["window_seconds"]) == (3, 60)
    assert event.visitor.identifiers.filter(value="a").exists()
    assert Message.objects.count() == 6  # velocity records, it does not block


def test_a_deleted_default_stays_deleted_and_keywords_no_longer_flag(
    send, widget
) -> None:
    organisation = widget.organisation
    rule_delete(
        actor=_admin(organisation), rule=_default(organisation, "flagged_keywords")
    )
    send("Pay me with a gift card")
    send("a gift card, again")
    assert not Event.objects.exists()
    assert not Rule.objects.filter(
        organisation=organisation, builtin="flagged_keywords"
    )
    assert _default(organisation, "message_velocity").mode == "live"


def test_the_migration_adds_the_defaults_once_and_keeps_operator_names(org) -> None:
    Rule.objects.filter(organisation=org).delete()
    admin = _admin(org)
    from trustconsole.rules.services import rule_create

    rule_create(
        actor=admin, name="Flagged keywords", channel="chat_message",
        condition='message.text == "x"', effect={"block": True},
    )  # fmt: skip
    added = seed(org.pk, Rule, RuleVersion)
    assert [r.name for r in added][:2] == [
        "Flagged keywords (default)",
        "Message velocity",
    ]
    assert seed(org.pk, Rule, RuleVersion) == []
    assert Rule.objects.filter(organisation=org).count() == 1 + len(added)
    assert len(added) == len(DEFAULTS)  # the chat side's six and the others


def test_a_report_weighs_what_the_organisations_rule_says(
    org, oscar, django_capture_on_commit_callbacks
) -> None:
    from django.test import Client

    from tests.visitors.factories import ConversationFactory, VisitorFactory

    rule = _default(org, "event_user_report")
    assert rule.current_version.effect == {
        "signal": {"type": "user_report", "level": "high"}
    }
    visitor = VisitorFactory(organisation=org)
    conversation = ConversationFactory(visitor=visitor, organisation=org)
    client = Client()
    client.force_login(oscar)
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "rude"})
    visitor.refresh_from_db()
    assert visitor.trust_score == 60  # High: −40
    signal = RiskSignal.objects.get(visitor=visitor)
    assert signal.event.kind == "user_report"
    assert "Event weight: User report (version 1)" in signal.note
    with django_capture_on_commit_callbacks(execute=True):  # processes are told
        rule_update(
            actor=_admin(org),
            rule=rule,
            effect={"signal": {"type": "user_report", "level": "low"}},
        )
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "again"})
    visitor.refresh_from_db()
    assert visitor.trust_score == 50  # Low: −10
    with django_capture_on_commit_callbacks(execute=True):
        rule_set_mode(actor=_admin(org), rule=rule, mode="off")
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "third"})
    visitor.refresh_from_db()
    assert visitor.trust_score == 50  # the organisation turned report weights off
    assert visitor.events.filter(kind="user_report").count() == 3


def test_the_rules_page_and_api_mark_the_defaults(org, api_client_for, oscar) -> None:
    from django.test import Client

    rows = api_client_for(org, "viewer").get("/api/v1/rules/").json()["results"]
    assert {r["name"]: r["builtin"] for r in rows}["Flagged keywords"] == (
        "flagged_keywords"
    )
    client = Client()
    client.force_login(oscar)
    page = client.get("/settings/rules/").content.decode()
    assert page.count('data-testid="rule-default"') == len(rows) == len(DEFAULTS)
