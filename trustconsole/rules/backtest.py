"""Backtests: a draft condition over the logged history of its channel.

Each channel replays its own history: inbound calls the call decision log
(`voicegate.CallDecision`), chat messages the visitors' messages
(`visitors.Message`), chat events the events recorded on visitors
(`visitors.Event`), outbound checks the check log (`OutboundCheck`: every
check, allowed or refused, with the facts the rules saw; `backtest_outbound`),
account signups the accounts that signed up in the window and the usage review each
account's usage days in the window (account facts as of that day). Sliding-window
counts are recomputed from the history itself (as of each event), never read
from or written to the live counters. The result: hits, the identities
affected, a sample of matching events and, for an existing rule, the same for
its current version on the same events.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from trustconsole.rules import backtest_outbound as outbound
from trustconsole.rules import engine, facts
from trustconsole.rules.effects import acts
from trustconsole.rules.facts import EventContext, RuleChannel
from trustconsole.rules.language import check
from trustconsole.rules.models import Backtest, BacktestStatus, Rule
from trustconsole.rules.services import condition_check

logger = logging.getLogger(__name__)

SUPPORTED = tuple(RuleChannel.values)
SAMPLE = 20
PROGRESS_EVERY = 200
MAX_WINDOW_DAYS = 90


@transaction.atomic
def backtest_start(
    *,
    actor: Actor,
    channel: str,
    condition: str,
    start: dt.datetime,
    end: dt.datetime,
    rule: Rule | None = None,
) -> Backtest:
    """Check the draft and queue its backtest (after commit)."""
    actor.require("operator")
    if channel not in SUPPORTED:
        raise ValidationError(
            {"channel": f"Unknown channel {channel!r}; use {', '.join(SUPPORTED)}."}
        )
    condition_check(channel=channel, condition=condition)
    if end <= start:
        raise ValidationError({"end": "The window must end after it starts."})
    if end - start > dt.timedelta(days=MAX_WINDOW_DAYS):
        raise ValidationError({"start": f"At most {MAX_WINDOW_DAYS} days."})
    backtest = Backtest.objects.create(
        organisation=actor.organisation,
        rule=rule,
        channel=channel,
        condition=condition,
        window_start=start,
        window_end=end,
        created_by=actor.label[:200],
    )
    if rule is not None:
        audit_record(
            actor=actor,
            action="rule.backtest",
            target=rule,
            after={
                "condition": condition,
                "window": f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}",
            },
        )
    from trustconsole.rules import tasks

    backtest_id = backtest.pk
    transaction.on_commit(lambda: tasks.backtest_run.delay(backtest_id))
    return backtest


def _calls(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    from voicegate.models import CallDecision

    seen: dict[str, collections.deque[dt.datetime]] = collections.defaultdict(
        collections.deque
    )
    rows = (
        CallDecision.objects.filter(
            organisation_id=backtest.organisation_id,
            created_at__gte=backtest.window_start,
            created_at__lt=backtest.window_end,
        )
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "caller", "caller_e164", "callee", "provider",
            "decision", "reason",
        )
    )  # fmt: skip
    for pk, at, caller, e164, callee, provider, decision, reason in rows.iterator(
        chunk_size=1000
    ):
        times = seen[e164] if e164 else collections.deque()
        times.append(at)
        while times and times[0] < at - dt.timedelta(hours=1):
            times.popleft()
        status = {"blacklisted_visitor": "blacklisted", "whitelisted": "whitelisted"}
        event = {
            "caller": {
                "number": caller,
                "e164": e164,
                "status": status.get(reason, "none"),
                "on_block_list": reason == "block_list",
                "calls_10m": sum(
                    1 for t in times if t >= at - dt.timedelta(minutes=10)
                ),
                "calls_1h": len(times),
            },
            "callee": {
                "number": callee,
                "e164": callee if callee.startswith("+") else "",
            },
            "call": {"provider": provider},
        }
        summary = {
            "kind": "call",
            "id": pk,
            "at": at.isoformat(),
            "caller": caller,
            "callee": callee,
            "decision": decision,
            "reason": reason,
        }
        yield e164 or caller, event, at.isoformat(), summary


def _messages(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    from visitors.models import Message

    seen: dict[int, collections.deque[dt.datetime]] = collections.defaultdict(
        collections.deque
    )
    rows = (
        Message.objects.filter(
            organisation_id=backtest.organisation_id,
            sender="visitor",
            created_at__gte=backtest.window_start,
            created_at__lt=backtest.window_end,
        )
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "body", "ip", "conversation__visitor_id",
            "conversation__visitor__public_id", "conversation__visitor__status",
            "conversation__visitor__trust_score", "conversation__visitor__name",
        )
    )  # fmt: skip
    for pk, at, body, ip, vid, vpublic, status, score, name in rows.iterator(
        chunk_size=1000
    ):
        times = seen[vid]
        times.append(at)
        while times and times[0] < at - dt.timedelta(hours=1):
            times.popleft()
        event = {
            "visitor": {
                "id": str(vpublic),
                "status": status,
                "trust_score": score,
                "ip": ip or "",
                "messages_10m": sum(
                    1 for t in times if t >= at - dt.timedelta(minutes=10)
                ),
                "messages_1h": len(times),
            },
            "message": {"text": body},
        }
        summary = {
            "kind": "message",
            "id": pk,
            "at": at.isoformat(),
            "visitor": name or str(vpublic),
            "text": body[:200],
        }
        yield str(vpublic), event, at.isoformat(), summary


def _chat_events(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    from visitors.models import Event

    rows = (
        _window(Event.objects, backtest)
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "kind", "detail", "visitor__public_id",
            "visitor__status", "visitor__trust_score", "visitor__name",
        )
    )  # fmt: skip
    for pk, at, kind, detail, vpublic, status, score, name in rows.iterator(
        chunk_size=1000
    ):
        detail = detail if isinstance(detail, dict) else {}
        note = detail.get("note") or detail.get("reason") or ""
        event = {
            "visitor": {"id": str(vpublic), "status": status, "trust_score": score},
            "event": {"kind": kind, "note": str(note)},
        }
        summary = {
            "kind": "chat_event",
            "id": pk,
            "at": at.isoformat(),
            "visitor": name or str(vpublic),
            "event": kind,
        }
        yield str(vpublic), event, at.isoformat(), summary


def _signups(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    from accounts.models import Account
    from accounts.selectors import account_rule_facts

    rows = _accounts_signed_up(Account.objects, backtest).order_by("signup_at", "id")
    for account in rows.iterator(chunk_size=500):
        at = account.signup_at
        facts_now = account_rule_facts(account=account, today=at.date())
        summary = {
            "kind": "account_signup",
            "id": str(account.public_id),
            "at": at.isoformat(),
            "account": account.company_name,
            "email": account.email,
        }
        yield str(account.public_id), {"account": facts_now}, at.isoformat(), summary


def _usage_days(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    from accounts.models import AccountUsageDay
    from accounts.selectors import account_rule_facts, account_settings_for

    config = account_settings_for(organisation=backtest.organisation)
    rows = (
        _days(AccountUsageDay.objects, backtest)
        .select_related("account")
        .order_by("day", "id")
    )
    for row in rows.iterator(chunk_size=500):
        account = row.account
        at = dt.datetime.combine(row.day, dt.time(23, 59), tzinfo=dt.UTC)
        summary = {
            "kind": "account_usage_day",
            "id": row.pk,
            "at": at.isoformat(),
            "account": account.company_name,
            "day": row.day.isoformat(),
            "calls": row.outbound_calls,
        }
        facts_then = account_rule_facts(account=account, today=row.day, config=config)
        event = {"account": facts_then, "review": _review_then(config, row)}
        yield str(account.public_id), event, at.isoformat(), summary


def _review_then(config: Any, row: Any) -> dict[str, Any]:
    """The usage review's facts of an account as a review on `row.day` saw them."""
    from accounts.models import AccountUsageDay
    from accounts.services.review import review_facts

    window_start = row.day - dt.timedelta(days=config.review_window_days - 1)
    first = min(window_start, row.day - dt.timedelta(days=config.spike_history_days))
    rows = list(
        AccountUsageDay.objects.filter(
            account_id=row.account_id, day__gte=first, day__lte=row.day
        )
    )
    return review_facts(
        config=config, rows=rows, today=row.day, window_start=window_start
    )


def _account_signals(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """Each account signal added in the window, with what its type added up to."""
    from django.db.models import Count, Sum

    from accounts.models import AccountSignal
    from accounts.selectors import account_rule_facts

    rows = (
        _window(AccountSignal.objects, backtest)
        .select_related("account")
        .order_by("created_at", "id")
    )
    for signal in rows.iterator(chunk_size=500):
        account, at = signal.account, signal.created_at
        upto = (
            AccountSignal.objects.active(at=at).filter(
                account=account, signal_type=signal.signal_type, created_at__lte=at
            )
        ).aggregate(total=Sum("weight"), count=Count("id"))
        event = {
            "account": account_rule_facts(account=account, today=at.date()),
            "signal": {
                "type": signal.signal_type,
                "weight": signal.weight,
                "source": signal.source,
                "note": signal.note,
                "type_total": upto["total"] or 0,
                "type_count": upto["count"] or 0,
            },
        }
        summary = {
            "kind": "account_signal",
            "id": str(signal.public_id),
            "at": at.isoformat(),
            "account": account.company_name,
            "signal": signal.signal_type,
            "weight": signal.weight,
        }
        yield str(account.public_id), event, at.isoformat(), summary


def _refusals(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """Each refused check of an account in the window, with the account's
    refusals in the policy's denial window up to it (today's policy settings)."""
    from accounts.selectors import account_rule_facts
    from trustconsole.policy.vocabulary import DEFAULT_WEIGHTS
    from voicegate.policy.check import window_text
    from voicegate.policy.models import OutboundDenial, PolicySettings

    policy = PolicySettings.objects.filter(
        organisation_id=backtest.organisation_id
    ).first() or PolicySettings(organisation_id=backtest.organisation_id)
    span = dt.timedelta(seconds=policy.denial_window_seconds)
    level = {w: n for n, w in DEFAULT_WEIGHTS.items()}.get(
        policy.denial_signal_weight, "low"
    )
    rows = (
        _window(OutboundDenial.objects, backtest)
        .filter(account__isnull=False)
        .select_related("account")
        .order_by("created_at", "id")
    )
    for denial in rows.iterator(chunk_size=500):
        account, at = denial.account, denial.created_at
        recent = list(
            OutboundDenial.objects.filter(
                account=account, created_at__gt=at - span, created_at__lte=at
            ).values_list("codes", flat=True)
        )
        event = {
            "account": account_rule_facts(account=account, today=at.date()),
            "denials": {
                "count": len(recent),
                "threshold": policy.denial_threshold,
                "window_seconds": policy.denial_window_seconds,
                "window": window_text(policy.denial_window_seconds),
                "codes": sorted({c for line in recent for c in line.split(",") if c}),
                "signal_level": level,
            },
        }
        summary = {
            "kind": "outbound_denial",
            "id": denial.pk,
            "at": at.isoformat(),
            "account": account.company_name,
            "to": denial.to_number,
            "codes": denial.codes,
        }
        yield str(account.public_id), event, at.isoformat(), summary


def _window(manager: Any, backtest: Backtest) -> Any:
    return manager.filter(
        organisation_id=backtest.organisation_id,
        created_at__gte=backtest.window_start,
        created_at__lt=backtest.window_end,
    )


def _accounts_signed_up(manager: Any, backtest: Backtest) -> Any:
    return manager.filter(
        organisation_id=backtest.organisation_id,
        signup_at__gte=backtest.window_start,
        signup_at__lt=backtest.window_end,
    )


def _days(manager: Any, backtest: Backtest) -> Any:
    return manager.filter(
        account__organisation_id=backtest.organisation_id,
        day__gte=backtest.window_start.date(),
        day__lt=backtest.window_end.date() + dt.timedelta(days=1),
    )


def _source(channel: str) -> tuple[Any, Any]:
    """(the channel's history as events, how many rows it holds in a window); an
    event of None is one the live rules would not have judged."""
    from accounts.models import Account, AccountSignal, AccountUsageDay
    from visitors.models import Event, Message
    from voicegate.models import CallDecision
    from voicegate.policy.models import OutboundDenial

    return {
        RuleChannel.INBOUND_CALL: (
            _calls,
            lambda b: _window(CallDecision.objects, b).count(),
        ),
        RuleChannel.CHAT_MESSAGE: (
            _messages,
            lambda b: _window(Message.objects, b).filter(sender="visitor").count(),
        ),
        RuleChannel.CHAT_EVENT: (
            _chat_events,
            lambda b: _window(Event.objects, b).count(),
        ),
        RuleChannel.OUTBOUND_CHECK: (outbound.checks, outbound.checks_count),
        RuleChannel.ACCOUNT_SIGNUP: (
            _signups,
            lambda b: _accounts_signed_up(Account.objects, b).count(),
        ),
        RuleChannel.ACCOUNT_REVIEW: (
            _usage_days,
            lambda b: _days(AccountUsageDay.objects, b).count(),
        ),
        RuleChannel.ACCOUNT_SIGNAL: (
            _account_signals,
            lambda b: _window(AccountSignal.objects, b).count(),
        ),
        RuleChannel.OUTBOUND_DENIAL: (
            _refusals,
            lambda b: (
                _window(OutboundDenial.objects, b).filter(account__isnull=False).count()
            ),
        ),
    }[RuleChannel(channel)]


def _compiled(channel: str, condition: str, name: str) -> engine.CompiledRule:
    import cel

    checked = check(condition, facts.channel_facts(channel).schema())
    return engine.CompiledRule(
        0, "", name, engine.LIVE, 0, 0, 0, cel.compile(condition),
        checked.variables, checked.fields, {}, acts({}) or True,
    )  # fmt: skip


def backtest_run(backtest_id: int) -> str:
    """Run one backtest (claimed once); progress is saved as it goes."""
    claimed = Backtest.objects.filter(
        pk=backtest_id, status=BacktestStatus.PENDING
    ).update(status=BacktestStatus.RUNNING)
    if claimed != 1:
        return "not pending"
    backtest = Backtest.objects.select_related(
        "rule__current_version", "organisation"
    ).get(pk=backtest_id)
    try:
        result = _replay(backtest)
    except Exception as exc:
        logger.exception("backtest %s failed", backtest.public_id)
        Backtest.objects.filter(pk=backtest_id).update(
            status=BacktestStatus.FAILED,
            error=str(exc)[:1000],
            finished_at=timezone.now(),
        )
        return "failed"
    Backtest.objects.filter(pk=backtest_id).update(
        status=BacktestStatus.DONE, result=result, finished_at=timezone.now(),
        done=result["events"],
    )  # fmt: skip
    return "done"


def _replay(backtest: Backtest) -> dict[str, Any]:
    draft = _compiled(backtest.channel, backtest.condition, "draft")
    live = None
    version = backtest.rule.current_version if backtest.rule else None
    if version is not None:
        live = _compiled(backtest.channel, version.condition, "current")
    source, counted = _source(backtest.channel)
    Backtest.objects.filter(pk=backtest.pk).update(total=counted(backtest))
    tz = backtest.organisation.time_zone
    hits = live_hits = only_draft = only_live = errors = events = 0
    identities: set[str] = set()
    live_identities: set[str] = set()
    sample: list[dict[str, Any]] = []
    skipped = 0
    real = {"allowed": 0, "refused": 0}
    for identity, event, at, summary in source(backtest):
        events += 1
        if events % PROGRESS_EVERY == 0:
            Backtest.objects.filter(pk=backtest.pk).update(done=events)
        if event is None:  # an event the live rules never judge
            skipped += 1
            continue
        ctx = EventContext(
            backtest.organisation_id, backtest.channel, event, time_zone=tz,
            now=dt.datetime.fromisoformat(at), count=False,
        )  # fmt: skip
        rules = [draft] + ([live] if live else [])
        outcome = engine.evaluate(rules, ctx, trace=True)
        errors += len(outcome.errors)
        draft_hit = draft in outcome.live
        live_hit = live is not None and live in outcome.live
        if draft_hit:
            hits += 1
            identities.add(identity)
            if "allowed" in summary:
                real["allowed" if summary["allowed"] else "refused"] += 1
            if len(sample) < SAMPLE:
                sample.append(summary)
        if live_hit:
            live_hits += 1
            live_identities.add(identity)
        only_draft += draft_hit and not live_hit
        only_live += live_hit and not draft_hit
    extra: dict[str, Any] = {}
    if backtest.channel == RuleChannel.OUTBOUND_CHECK:
        # The draft's hits by what really happened, the checks of whitelisted
        # destinations (never judged by rules), the hours the log was capped in.
        extra = {
            "real": real,
            "skipped": skipped,
            "capped_hours": outbound.capped_hours(backtest),
        }
    return {
        "events": events,
        "hits": hits,
        "identities": len(identities),
        "errors": errors,
        "sample": sample,
        **extra,
        "live": (
            {
                "version": version.number,
                "hits": live_hits,
                "identities": len(live_identities),
                "only_draft": only_draft,
                "only_live": only_live,
            }
            if version is not None
            else None
        ),
    }
