"""Backtests: a draft condition over the logged history of its channel.

Inbound calls replay the call decision log (`voicegate.CallDecision`), chat
messages replay the visitors' messages (`visitors.Message`). Sliding-window
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
from trustconsole.rules import engine, facts
from trustconsole.rules.effects import acts
from trustconsole.rules.facts import EventContext, RuleChannel
from trustconsole.rules.language import check
from trustconsole.rules.models import Backtest, BacktestStatus, Rule
from trustconsole.rules.services import condition_check

logger = logging.getLogger(__name__)

SUPPORTED = (RuleChannel.INBOUND_CALL, RuleChannel.CHAT_MESSAGE)
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
            {"channel": "Backtests replay inbound calls and chat messages for now."}
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
    source = _calls if backtest.channel == RuleChannel.INBOUND_CALL else _messages
    if backtest.channel == RuleChannel.INBOUND_CALL:
        from voicegate.models import CallDecision as Model
    else:
        from visitors.models import Message as Model  # type: ignore[assignment]
    total = Model.objects.filter(
        organisation_id=backtest.organisation_id,
        created_at__gte=backtest.window_start,
        created_at__lt=backtest.window_end,
    ).count()
    Backtest.objects.filter(pk=backtest.pk).update(total=total)
    tz = backtest.organisation.time_zone
    hits = live_hits = only_draft = only_live = errors = events = 0
    identities: set[str] = set()
    live_identities: set[str] = set()
    sample: list[dict[str, Any]] = []
    for identity, event, at, summary in source(backtest):
        events += 1
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
            if len(sample) < SAMPLE:
                sample.append(summary)
        if live_hit:
            live_hits += 1
            live_identities.add(identity)
        only_draft += draft_hit and not live_hit
        only_live += live_hit and not draft_hit
        if events % PROGRESS_EVERY == 0:
            Backtest.objects.filter(pk=backtest.pk).update(done=events)
    return {
        "events": events,
        "hits": hits,
        "identities": len(identities),
        "errors": errors,
        "sample": sample,
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
