"""The voice gate's visitor event rule (`visitors.rules`): repeated calls."""

from __future__ import annotations

from trustconsole.core.actor import Actor
from visitors import rules as visitor_rules
from visitors.models import Visitor
from visitors.selectors import visitor_by_phone
from visitors.services import visitor_upsert

REPEATED_CALLS = "repeated_calls"


def register() -> None:
    """Declare the rule (called once from the app config)."""
    visitor_rules.rule_register(
        REPEATED_CALLS,
        signal_type=REPEATED_CALLS,
        level="high",
        label="Repeated calls",
    )


def repeated_calls_record(
    *, actor: Actor, e164: str, count: int, window: int
) -> Visitor:
    """Record the event on the caller's visitor (created if needed)."""
    visitor = visitor_by_phone(organisation_id=actor.organisation.pk, e164=e164)
    if visitor is None:
        visitor = visitor_upsert(actor=actor, phones=[e164])
    visitor_rules.event_record(
        actor=actor,
        visitor=visitor,
        kind=REPEATED_CALLS,
        detail={"number": e164, "calls": count, "window_seconds": window},
        source="voice gate",
    )
    return visitor
