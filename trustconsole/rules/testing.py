"""Test with this event: a draft condition, or the channel's rules, on one event.

Nothing changes: counts are read, never moved (`EventContext.count=False`), hits are
not counted, effects are only named.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from trustconsole.core.actor import Actor
from trustconsole.policy import state as core_state
from trustconsole.rules import engine
from trustconsole.rules.effects import acts, effect_clean
from trustconsole.rules.facts import EventContext, channel_facts
from trustconsole.rules.language import ConditionError, check, program_compile
from trustconsole.rules.services import condition_check

MAX_EVENT_KEYS = 50


def _draft(
    channel: str, condition: str, effect: dict[str, Any] | None
) -> engine.CompiledRule:
    condition_check(channel=channel, condition=condition)
    try:
        checked = check(condition, channel_facts(channel).schema())
        program = program_compile(condition)
    except ConditionError as exc:  # pragma: no cover - condition_check said why
        raise ValidationError({"condition": str(exc)}) from None
    cleaned = effect_clean(channel, effect) if effect else {}
    return engine.CompiledRule(
        0, "draft", "draft", engine.LIVE, 0, 0, 0, program, checked.variables,
        checked.fields, cleaned, acts(cleaned) or not effect,
    )  # fmt: skip


def event_test(
    *,
    actor: Actor,
    channel: str,
    event: dict[str, Any],
    condition: str | None = None,
    effect: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The result and trace of running rules on `event`."""
    actor.require("operator")
    if len(event) > MAX_EVENT_KEYS:
        raise ValidationError({"event": f"At most {MAX_EVENT_KEYS} fact groups."})
    groups = {g.name for g in channel_facts(channel).groups}
    unknown = sorted(set(event) - groups)
    if unknown:
        raise ValidationError(
            {
                "event": f"Unknown fact groups {', '.join(unknown)}; this channel has "
                f"{', '.join(sorted(groups))}."
            }
        )
    bad = [k for k, v in event.items() if not isinstance(v, dict)]
    if bad:
        raise ValidationError({f"event.{bad[0]}": "Each group is a JSON object."})
    ctx = EventContext(
        actor.organisation.pk, channel, event,
        time_zone=actor.organisation.time_zone, count=False,
    )  # fmt: skip
    if condition is not None:
        outcome = engine.evaluate([_draft(channel, condition, effect)], ctx, trace=True)
    else:
        state = core_state.current(actor.organisation.pk)
        rules = engine.rule_set(state, channel)
        counted = engine.rule_set(state, channel, counted=True)  # (calls_recent, …)
        if counted.rules:
            both = sorted(
                (*rules.rules, *counted.rules),
                key=lambda r: (r.mode != engine.LIVE, r.order, r.name),
            )
            outcome = engine.evaluate(both, ctx, trace=True)
        else:
            outcome = engine.evaluate(rules, ctx, trace=True)
    return {
        "decided_by": outcome.decided_by.ref() if outcome.decided_by else None,
        "live_matches": [r.ref() for r in outcome.live],
        "shadow_matches": [r.ref() for r in outcome.shadow],
        "trace": outcome.trace,
        "facts": outcome.facts,
    }
