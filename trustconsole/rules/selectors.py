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


LOGGED = (
    "chat_message",
    "chat_event",
    "account_signup",
    "account_review",
    "account_signal",
    "outbound_denial",
    "outbound_check",
)
# The channels whose match log names a phone number as the subject (the caller of
# an inbound call, the destination of an outbound one).
NUMBERED = ("inbound_call", "outbound_check")


def rule_matches(
    *, rule: Rule, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    """The events of the last 7 days the rule matched, next to what was really
    decided: for a shadow rule "would have rejected 37 calls; 3 of those callers
    were later whitelisted", with the newest 50 events.

    Inbound calls read the call log (each row keeps its explanation, which names
    the rule); chat messages, chat events, outbound checks (allowed or refused),
    signups, usage reviews and the inbound-call rules reading the call count
    (which run once the call is logged) read the match log (`RuleMatch`). The
    sentence comes in three parts (`lead`, `total`, `noun` + `tail`) the page and
    API show.
    """
    if rule.channel in LOGGED or _counted(rule):
        return _logged_matches(rule=rule, now=now)
    from voicegate.models import CallDecision

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
    else:
        return None
    whitelisted = _whitelisted(rule.organisation_id, phones)
    shadow = rule.mode == "shadow"
    if total == 1:
        tail = ", really allowed" if allowed else ", really rejected"
    else:
        tail = f", {allowed} of them really allowed" if total else ""
    if phones:
        tail += "; " + of_those(
            whitelisted, len(phones), ("number", "numbers"), "whitelisted now"
        )
    return {
        "days": MATCH_DAYS,
        "logged": False,
        "lead": "Would have acted on" if shadow else "Matched",
        "noun": noun if total != 1 else "call",
        "tail": tail + ".",
        "total": total,
        "allowed": allowed,
        "acted": total - allowed,
        "subjects": len(phones),
        "fine": whitelisted,
        "whitelisted": whitelisted,
        "counted": total,
        "events": events,
    }


def _counted(rule: Rule) -> bool:
    """Does the rule read a count known once the event is logged?"""
    from trustconsole.rules.facts import reads_counted

    version = rule.current_version
    return version is not None and reads_counted(rule.channel, version.condition)


# Per channel: the event (one, many), the subject (one, many), what "later turned
# out fine" means for a subject, what really happening looked like.
_WORDS = {
    "inbound_call": (
        ("call", "calls"), ("number", "numbers"), "whitelisted now",
        "left untouched", "acted on",
    ),
    "chat_message": (
        ("message", "messages"), ("visitor", "visitors"), "whitelisted now",
        "stored", "blocked",
    ),
    "chat_event": (
        ("chat event", "chat events"), ("visitor", "visitors"), "whitelisted now",
        "left untouched", "acted on",
    ),
    "account_signup": (
        ("signup", "signups"), ("account", "accounts"), "active now",
        "left untouched", "held or restricted",
    ),
    "account_review": (
        ("account review", "account reviews"), ("account", "accounts"), "active now",
        "left untouched", "held or restricted",
    ),
    "account_signal": (
        ("account signal", "account signals"), ("account", "accounts"), "active now",
        "left untouched", "held or restricted",
    ),
    "outbound_denial": (
        ("refused call", "refused calls"), ("account", "accounts"), "active now",
        "left untouched", "held or restricted",
    ),
    "outbound_check": (
        ("outbound call", "outbound calls"), ("number", "numbers"), "whitelisted now",
        "allowed", "refused",
    ),
}  # fmt: skip


def _verb(channel: str, effect: dict[str, Any]) -> str:
    """What the rule's effect does to an event, as a past participle phrase."""
    account = effect.get("account") or {}
    if effect.get("block"):
        return "blocked"
    if effect.get("refuse"):
        return "refused"
    if account.get("action") == "hold":
        return "held"
    if account.get("action") == "restrict":
        return "restricted"
    whose = {"chat_message": "the senders of", "inbound_call": "the callers of"}.get(
        channel, "the visitors of"
    )
    if effect.get("event") and channel == "inbound_call":
        return f"recorded an event on {whose}"
    if effect.get("flag"):
        return f"flagged {whose}"
    if effect.get("signal"):
        return f"added a risk signal to {whose}"
    if effect.get("account_signal"):
        return "added a risk signal to the accounts of"
    return "acted on"


def _logged_matches(*, rule: Rule, now: dt.datetime | None) -> dict[str, Any]:
    """`rule_matches` from the match log (three queries)."""
    from django.db.models import Count

    from trustconsole.rules.models import RuleMatch

    now = now or timezone.now()
    rows = RuleMatch.objects.filter(
        rule=rule, occurred_at__gte=now - dt.timedelta(days=MATCH_DAYS)
    )
    event, subject, fine_words, allowed_words, acted_words = _WORDS[rule.channel]
    calls = rule.channel in NUMBERED  # the numbers (no visitor behind them yet)
    counts: dict[str, Any] = {
        "total": Count("id"),
        "acted": Count("id", filter=Q(acted=True)),
    }
    if calls:
        counts["subjects"] = Count("subject_label", distinct=True)
    elif rule.channel.startswith("chat_"):
        counts["subjects"] = Count("visitor", distinct=True)
        counts["fine"] = Count(
            "visitor", distinct=True, filter=Q(visitor__status="whitelisted")
        )
    else:
        counts["subjects"] = Count("account", distinct=True)
        counts["fine"] = Count(
            "account", distinct=True, filter=Q(account__status="active")
        )
    found = rows.aggregate(**counts)
    if calls:
        numbers = set(rows.values_list("subject_label", flat=True)[:10_000])
        found["fine"] = _whitelisted(rule.organisation_id, numbers)
    total, acted = found["total"], found["acted"]
    allowed = total - acted
    events = [
        _logged_event(r, numbered=calls)
        for r in rows.select_related("visitor", "account")[:MATCH_LIST]
    ]
    hits = rule_hit_counts(rules=[rule], now=now)[rule.pk]
    counted = max(total, hits["live_7d"] + hits["shadow_7d"])
    verb = _verb(
        rule.channel, rule.current_version.effect if rule.current_version else {}
    )
    lead = (
        f"Would have {verb}" if rule.mode == "shadow" else verb[:1].upper() + verb[1:]
    )
    n_subjects, n_fine = found["subjects"], found["fine"]
    tail = f"; {allowed} really {allowed_words}, {acted} {acted_words}" if total else ""
    if n_subjects:
        tail += "; " + of_those(n_fine, n_subjects, subject, fine_words)
    tail += "."
    if counted > total:
        tail += (
            f" {counted} {'match was' if counted == 1 else 'matches were'} counted; "
            f"the log keeps at most {matchlog_per_hour()} per rule and hour."
        )
    return {
        "days": MATCH_DAYS,
        "logged": True,
        "lead": lead,
        "noun": event[0] if total == 1 else event[1],
        "tail": tail,
        "total": total,
        "allowed": allowed,
        "acted": acted,
        "subjects": n_subjects,
        "fine": n_fine,
        "whitelisted": n_fine if calls or rule.channel.startswith("chat_") else 0,
        "counted": counted,
        "events": events,
    }


def of_those(fine: int, subjects: int, noun: tuple[str, str], state: str) -> str:
    """How many of the `subjects` (one, many: `noun`) are in `state` now, as
    English for none, one, some and all of them: "that number is not whitelisted
    now", "none of those 3 visitors are …", "1 of those 3 accounts is …", "all 3
    of those numbers are …"."""
    one, many = noun
    if subjects == 1:
        return f"that {one} is {state}" if fine else f"that {one} is not {state}"
    if fine == 0:
        return f"none of those {subjects} {many} are {state}"
    if fine >= subjects:
        return f"all {subjects} of those {many} are {state}"
    return f"{fine} of those {subjects} {many} {'is' if fine == 1 else 'are'} {state}"


def _logged_event(row: Any, *, numbered: bool = False) -> dict[str, Any]:
    subject = row.visitor or row.account
    kind = "visitor" if row.visitor_id else "account"
    if numbered:  # the number; the account (outbound checks) beside it
        kind, subject = "number", None
    return {
        "at": row.occurred_at,
        "who": row.subject_label,
        "who_id": subject.public_id if subject is not None else None,
        "kind": kind,
        "account": row.account.company_name if row.account_id else "",
        "account_id": row.account.public_id if row.account_id else None,
        "excerpt": row.excerpt,
        "mode": row.mode,
        "version": row.version,
        "real": row.real,
        "reason": row.real_by,
    }


def matchlog_per_hour() -> int:
    """Rows the match log keeps per rule and hour."""
    from trustconsole.rules import matchlog

    return matchlog.per_hour()


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
