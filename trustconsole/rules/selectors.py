"""Reads on rules, scoped to the actor's organisation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.selectors import scoped_get
from trustconsole.rules.models import Backtest, Rule, RuleHitCount, RuleVersion


def rule_list(*, actor: Actor, channel: str | None = None) -> QuerySet[Rule]:
    """The organisation's rules, by channel and order."""
    rows = Rule.objects.filter(organisation=actor.organisation).select_related(
        "current_version"
    )
    if channel:
        rows = rows.filter(channel=channel)
    return rows.order_by("channel", "order", "name")


def rule_get(*, actor: Actor, public_id: object) -> Rule:
    """One rule of the actor's organisation (404 otherwise)."""
    return scoped_get(
        Rule.objects.select_related("current_version"),
        actor=actor,
        public_id=public_id,
    )


def rule_versions(*, rule: Rule) -> QuerySet[RuleVersion]:
    """Every version of a rule, newest first."""
    return rule.versions.order_by("-number")


def rule_hit_counts(
    *, rules: list[Rule], now: dt.datetime | None = None
) -> dict[int, dict[str, int]]:
    """Per rule: hits in the last 24 h and 7 d, live and shadow (one query)."""
    now = now or timezone.now()
    day = now - dt.timedelta(hours=24)
    week = now - dt.timedelta(days=7)
    rows = (
        RuleHitCount.objects.filter(rule__in=rules, hour__gte=week)
        .values("rule_id")
        .annotate(
            live_24h=Sum("hits", filter=Q(mode="live", hour__gte=day)),
            shadow_24h=Sum("hits", filter=Q(mode="shadow", hour__gte=day)),
            live_7d=Sum("hits", filter=Q(mode="live")),
            shadow_7d=Sum("hits", filter=Q(mode="shadow")),
            errors_7d=Sum("errors"),
        )
    )
    empty = dict.fromkeys(
        ("live_24h", "shadow_24h", "live_7d", "shadow_7d", "errors_7d"), 0
    )
    out: dict[int, dict[str, int]] = {r.pk: dict(empty) for r in rules}
    for row in rows:
        values: dict[str, Any] = dict(row)
        out[values["rule_id"]] = {k: int(values[k] or 0) for k in empty}
    return out


def backtest_get(*, actor: Actor, public_id: object) -> Backtest:
    """One backtest of the actor's organisation (404 otherwise)."""
    return scoped_get(
        Backtest.objects.select_related("rule"), actor=actor, public_id=public_id
    )


def rule_summary(rule: Rule, hits: dict[str, int]) -> dict[str, Any]:
    """A rule as the list page and API show it."""
    return {"rule": rule, "hits": hits}


MATCH_DAYS = 7
MATCH_LIST = 50


def rule_matches(
    *, rule: Rule, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    """The logged decisions of the last 7 days the rule matched, next to what was
    really decided: for a shadow rule "would have rejected 37 calls; 3 of those
    callers were later whitelisted", with the newest 50 events.

    Inbound calls read the call log and outbound checks the denial log (each row
    keeps its explanation, which names the rule); other channels keep no decision
    per event (their hit counts say how often a rule matched): None.
    """
    from voicegate.models import CallDecision
    from voicegate.policy.models import OutboundDenial

    since = (now or timezone.now()) - dt.timedelta(days=MATCH_DAYS)
    ref = str(rule.public_id)
    if rule.channel == "inbound_call":
        rows = CallDecision.objects.filter(
            organisation_id=rule.organisation_id,
            created_at__gte=since,
            explanation__icontains=ref,
        )
        events = [
            {
                "at": r.created_at,
                "who": r.caller_e164 or r.caller,
                "real": r.decision,
                "reason": r.get_reason_display(),
            }
            for r in rows.order_by("-created_at", "-id")[:MATCH_LIST]
        ]
        total = rows.count()
        allowed = rows.filter(decision="allow").count()
        phones = set(
            rows.exclude(caller_e164="").values_list("caller_e164", flat=True)[:10_000]
        )
        noun = "calls"
    elif rule.channel == "outbound_check":
        denials = OutboundDenial.objects.filter(
            organisation_id=rule.organisation_id,
            created_at__gte=since,
            explanation__icontains=ref,
        )
        events = [
            {
                "at": r.created_at,
                "who": r.to_number,
                "real": "refuse",
                "reason": r.codes,
            }
            for r in denials.order_by("-created_at", "-id")[:MATCH_LIST]
        ]
        total, allowed = denials.count(), 0
        phones = set(denials.values_list("to_number", flat=True)[:10_000])
        noun = "refused outbound calls"
    else:
        return None
    return {
        "days": MATCH_DAYS,
        "noun": noun,
        "total": total,
        "allowed": allowed,
        "whitelisted": _whitelisted(rule.organisation_id, phones),
        "events": events,
    }


def _whitelisted(organisation_id: int, phones: set[str]) -> int:
    """How many of these numbers belong to visitors whitelisted now."""
    if not phones:
        return 0
    from visitors.models import VisitorIdentifier

    return (
        VisitorIdentifier.objects.filter(
            organisation_id=organisation_id,
            kind="phone",
            value__in=list(phones),
            visitor__status="whitelisted",
        )
        .values("value")
        .distinct()
        .count()
    )
