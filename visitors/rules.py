"""Visitor event rules: a recorded event of a registered kind adds a risk signal.

An app registers a rule per event kind once (in its AppConfig.ready):

    rule_register("repeated_calls", signal_type="repeated_calls",
                  level=WeightLevel.MEDIUM, label="Repeated calls")

and records events with `event_record(...)`. The event is stored on the visitor;
the rule for its kind adds a risk signal, the trust score is recomputed and a
visitor that falls into the danger band is flagged into the review queue with that
event (unless whitelisted). Kinds without a rule are stored as plain events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from visitors.choices import SIGNAL_TYPE_LABELS, WeightLevel

if TYPE_CHECKING:
    from visitors.models import Conversation, Event, Visitor


@dataclass(frozen=True)
class Rule:
    """What an event of `kind` does: add a `signal_type` signal of `level`."""

    kind: str
    signal_type: str
    level: str
    label: str


_RULES: dict[str, Rule] = {}


def rule_register(kind: str, *, signal_type: str, level: str, label: str) -> Rule:
    """Register (or re-register identically) the rule for an event kind."""
    if level not in WeightLevel.values:
        raise ImproperlyConfigured(
            f"rule {kind!r}: level must be one of {', '.join(WeightLevel.values)}"
        )
    if not kind or len(kind) > 64 or not signal_type or len(signal_type) > 64:
        raise ImproperlyConfigured("rule kind and signal_type need 1–64 characters")
    rule = Rule(kind=kind, signal_type=signal_type, level=level, label=label)
    existing = _RULES.get(kind)
    if existing is not None and existing != rule:
        raise ImproperlyConfigured(f"a different rule is already registered for {kind}")
    _RULES[kind] = rule
    SIGNAL_TYPE_LABELS.setdefault(signal_type, label)
    return rule


def rule_get(kind: str) -> Rule | None:
    """The rule registered for an event kind, if any."""
    return _RULES.get(kind)


def rule_list() -> list[Rule]:
    """Every registered rule, by kind."""
    return sorted(_RULES.values(), key=lambda rule: rule.kind)


def _detail_note(rule: Rule, detail: dict[str, Any]) -> str:
    shown = ", ".join(
        f"{key}: {value}"
        for key, value in detail.items()
        if isinstance(value, str | int | float) and not key.endswith("_id")
    )
    return f"{rule.label}" + (f" ({shown})" if shown else "")


def event_note(event: Event) -> str:
    """An event in words for the signal it gives ("Flagged keyword (keyword: …)")."""
    rule = rule_get(event.kind)
    label = rule.label if rule is not None else event.kind
    detail = event.detail if isinstance(event.detail, dict) else {}
    detail = {k: v for k, v in detail.items() if k != "rule"}
    return _detail_note(Rule(event.kind, event.kind, "low", label), detail)


@transaction.atomic
def event_record(
    *,
    actor: Actor,
    visitor: Visitor,
    kind: str,
    detail: dict[str, Any],
    source: str,
    conversation: Conversation | None = None,
) -> Event:
    """Store an event on the visitor and apply the rule registered for its kind."""
    from visitors import services
    from visitors.models import Event

    actor.require("operator")
    if visitor.organisation_id != actor.organisation.pk:
        raise ValidationError(
            {"visitor": "The visitor belongs to another organisation."}
        )
    if not kind or len(kind) > 64:
        raise ValidationError({"kind": "Give an event kind of 1–64 characters."})
    if not isinstance(detail, dict):
        raise ValidationError({"detail": "Event detail must be a JSON object."})
    event = Event(
        organisation_id=visitor.organisation_id,
        visitor=visitor,
        conversation=conversation,
        kind=kind,
        detail=detail,
        source=(source or "system")[:32],
        recorded_by=actor.label[:200],
    )
    event.full_clean()
    event.save()
    rule = rule_get(kind)
    audit_record(
        actor=actor,
        action="visitor.event_record",
        target=visitor,
        after={"event": event.public_id, "kind": kind, "rule": bool(rule)},
    )
    # The default rule set's chat-event rules give the signals of its kinds (the
    # organisation may change or remove them); other registered kinds add theirs.
    from trustconsole.rules.defaults import EVENT_KINDS

    if rule is not None and kind not in EVENT_KINDS:
        services.risk_signal_add(
            actor=actor,
            visitor=visitor,
            signal_type=rule.signal_type,
            level=rule.level,
            source=event.source,
            note=_detail_note(rule, detail),
            event=event,
            conversation=conversation,
        )
    # The organisation's chat-event rules (trustconsole.rules) on the same event.
    from trustconsole.rules import hooks as rule_hooks

    note = detail.get("note") or detail.get("reason") or ""
    rule_hooks.chat_event(
        actor=actor,
        visitor=visitor,
        kind=kind,
        note=note if isinstance(note, str) else str(note),
        conversation=conversation,
        recorded=event,
    )
    return event
