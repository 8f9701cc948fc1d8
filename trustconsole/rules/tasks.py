"""Celery tasks of rules: tell admins a rule was turned off, run backtests, apply a
live rule's effects on a caller (outside the call gate's request), purge the match
log."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

logger = logging.getLogger(__name__)


@shared_task(name="rules.rule_disabled_notify")
def rule_disabled_notify(rule_id: int) -> str:
    """The organisation's admins hear that a rule was turned off."""
    from notifications.checks import announce
    from notifications.choices import Trigger
    from trustconsole.core.choices import Role
    from trustconsole.core.models import Membership
    from trustconsole.rules.models import Rule

    rule = Rule.objects.select_related("organisation").filter(pk=rule_id).first()
    if rule is None:
        return "gone"
    admins = list(
        Membership.objects.filter(organisation=rule.organisation, role=Role.ADMIN)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    link = (settings.VOICEGATE_PUBLIC_BASE_URL or "").rstrip("/") + reverse(
        "rules:rule_detail", args=[rule.public_id]
    )
    sent = announce(
        rule.organisation,
        trigger=Trigger.RULE_DISABLED,
        subject=f"[trustconsole] {rule.organisation.name}: rule {rule.name} turned off",
        body=f"{rule.disabled_reason}\n\nThe decisions go on without it. Check its "
        f"condition, then set it live or to shadow again.\n\nOpen: {link}",
        link=link,
        fallback_emails=admins,
    )
    return str(sent.public_id) if sent else "nobody to tell"


@shared_task(name="rules.backtest_run", soft_time_limit=600, time_limit=660)
def backtest_run(backtest_id: int) -> str:
    """Run a queued backtest."""
    from trustconsole.rules import backtest

    return backtest.backtest_run(backtest_id)


@shared_task(name="rules.call_effects")
def call_effects(
    organisation_id: int, e164: str, effects: list[dict[str, Any]], event_key: str
) -> str:
    """Live rules matched a call: their signals, flags and events on the caller's
    visitor (created if needed). A redelivered event applies them once; an event
    with `once_per_seconds` is recorded once per number in that time."""
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.rules.effects import first_in, visitor_effects_apply
    from visitors.rules import event_record
    from visitors.selectors import visitor_by_phone
    from visitors.services import visitor_upsert

    if event_key and not cache.add(f"rules:fx:{event_key}", 1, timeout=86400):
        return "already applied"
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return "gone"
    actor = Actor.system_for(organisation, "rules engine")
    visitor = visitor_by_phone(organisation_id=organisation_id, e164=e164)
    if visitor is None:
        visitor = visitor_upsert(actor=actor, phones=[e164])
    for item in effects:
        effect = item["effect"]
        if effect.get("signal") or effect.get("flag"):
            visitor_effects_apply(
                actor=actor, visitor=visitor, effect=effect, rule_label=item["label"]
            )
        event = effect.get("event")
        seconds = (event or {}).get("once_per_seconds")
        if event and (
            not seconds or first_in(f"rules:once:{item.get('rule')}:{e164}", seconds)
        ):
            # Recorded by the rule (its name in the audit trail and on the event);
            # the event's kind gives its signal (the chat-event rules).
            event_record(
                actor=Actor.system_for(organisation, f"rule {item['label']}"),
                visitor=visitor,
                kind=event["kind"],
                detail=item.get("detail") or {"number": e164},
                source="voice gate",
            )
    return str(visitor.public_id)


@shared_task(name="rules.matches_prune")
def matches_prune() -> int:
    """Beat, hourly: drop logged matches older than `RULES_MATCH_LOG_DAYS`."""
    from trustconsole.rules import matchlog

    return matchlog.prune()
