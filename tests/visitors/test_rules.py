"""The rule mechanism: events become signals; danger flags with the event."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.visitors.factories import ConversationFactory, VisitorFactory
from trustconsole.core.models import AuditEntry
from visitors import services
from visitors.choices import VisitorStatus, WeightLevel
from visitors.models import Event, ReviewItem
from visitors.rules import event_record, rule_get, rule_register


def test_the_chat_rules_are_registered() -> None:
    assert rule_get("flagged_keyword").level == WeightLevel.HIGH
    assert rule_get("user_report").label == "User report"
    assert rule_get("message_velocity").signal_type == "message_velocity"


def test_an_app_registers_a_rule_and_its_events_become_signals(operator, org) -> None:
    """GIVEN a rule registered the way the voice app does WHEN two of its events are
    recorded THEN each adds a signal and the second flags the visitor with itself."""
    rule_register(
        "partner_report",
        signal_type="partner_report",
        level=WeightLevel.EXTREME,
        label="Partner report",
    )
    visitor = VisitorFactory(organisation=org)
    first = event_record(
        actor=operator,
        visitor=visitor,
        kind="partner_report",
        detail={"calls": 6, "window_minutes": 10},
        source="voice",
    )
    visitor.refresh_from_db()
    assert visitor.trust_score == 30 and visitor.status == VisitorStatus.FLAGGED
    signal = first.signals.get()
    assert signal.type_label == "Partner report" and signal.weight == 70
    assert signal.source == "voice" and "calls: 6" in signal.note
    item = ReviewItem.objects.get()
    assert item.event == first


def test_the_flag_carries_the_conversation(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    conversation = ConversationFactory(visitor=visitor, organisation=org)
    services.risk_signal_add(
        actor=operator, visitor=visitor, signal_type="spam", level=WeightLevel.HIGH
    )
    event = event_record(
        actor=operator,
        visitor=visitor,
        kind="flagged_keyword",
        detail={"keyword": "gift card"},
        source="widget",
        conversation=conversation,
    )
    item = ReviewItem.objects.get()
    assert (item.event, item.conversation) == (event, conversation)


def test_a_kind_without_a_rule_is_stored_but_changes_no_score(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    event = event_record(
        actor=operator, visitor=visitor, kind="note", detail={}, source="api"
    )
    visitor.refresh_from_db()
    assert visitor.trust_score == 100 and not event.signals.exists()
    assert Event.objects.count() == 1
    assert AuditEntry.objects.filter(action="visitor.event_record").count() == 1


def test_a_conflicting_registration_is_refused() -> None:
    rule_register("dup_rule", signal_type="dup", level="low", label="Dup")
    rule_register("dup_rule", signal_type="dup", level="low", label="Dup")
    with pytest.raises(ImproperlyConfigured):
        rule_register("dup_rule", signal_type="dup", level="high", label="Dup")
    with pytest.raises(ImproperlyConfigured):
        rule_register("bad_level", signal_type="x", level="enormous", label="X")


def test_whitelisted_visitors_collect_signals_but_are_not_flagged(
    operator, org
) -> None:
    visitor = VisitorFactory(organisation=org)
    services.visitor_whitelist(actor=operator, visitor=visitor, reason="staff")
    for _ in range(3):
        event_record(
            actor=operator,
            visitor=visitor,
            kind="flagged_keyword",
            detail={},
            source="widget",
        )
    visitor.refresh_from_db()
    assert visitor.trust_score == 0
    assert visitor.status == VisitorStatus.WHITELISTED
    assert not ReviewItem.objects.exists()
