"""The chat gate's rules before the visitor is looked up (`visitors.gate`).

Most chat-message rule sets read only what the message carries: its text, the
email, phone and IP typed in the widget, the velocity count the gate already
took, the local time. Such a set can be evaluated before the database is asked
who the visitor is, so a message the rules block never reads the visitor table,
and a stored one is written in one statement (`visitors.gate_store`). A set that
reads the visitor's row (status, trust score, the per-visitor message counts
keyed by the visitor's id) is evaluated after the lookup, by `hooks.chat_message`.

The match log needs the visitor, known only once the message is stored or its
attempt counted: `hooks.chat_matches_record` records it then.
"""

from __future__ import annotations

from trustconsole.policy import decide as core
from trustconsole.policy import state as core_state
from trustconsole.rules import engine
from trustconsole.rules.facts import EventContext, RuleChannel
from trustconsole.rules.hooks import (
    ChatRules,
    _applies,
    _decided,
    chat_message_event,
)

# Facts that come from the visitor's row (or are counted under its id).
ROW_FACTS = frozenset(
    {
        "visitor.status",
        "visitor.trust_score",
        "visitor.is_new",  # known once the visitor is looked up (or created)
        "visitor.messages_10m",
        "visitor.messages_1h",
    }
)
VELOCITY_FACT = "visitor.messages_recent"


def reads_visitor_row(fields: frozenset[str], *, velocity_counted: bool) -> bool:
    """Whether rules reading these facts need the visitor's row: one of
    ROW_FACTS, or the velocity count when the gate has not taken it (the facts
    would then count it under the visitor's id)."""
    if fields & ROW_FACTS:
        return True
    return VELOCITY_FACT in fields and not velocity_counted


def chat_message_before_visitor(
    *,
    organisation_id: int,
    verdict: core.Verdict,
    body: str,
    widget: str,
    pairs: list[tuple[str, str]],
    messages_recent: int | None = None,
) -> ChatRules | None:
    """The chat-message rules' answer without the visitor's row, or None when a
    rule reads it (then `hooks.chat_message` runs after the lookup). The match
    log is left to `hooks.chat_matches_record`."""
    if not _applies(verdict):
        return ChatRules(verdict, None)
    state = core_state.state_get(organisation_id) or core_state.current(organisation_id)
    rules = engine.rule_set(state, RuleChannel.CHAT_MESSAGE)
    if not rules.rules:
        return ChatRules(verdict, None)
    if reads_visitor_row(rules.fields, velocity_counted=messages_recent is not None):
        return None
    # is_new is not read here: a rule reading it waits for the visitor's row.
    event = chat_message_event(
        {"is_new": False}, body=body, widget=widget, pairs=pairs,
        messages_recent=messages_recent,
    )  # fmt: skip
    outcome = engine.evaluate(
        rules, EventContext(organisation_id, rules.channel, event)
    )
    engine.hits_flush_due()
    return ChatRules(_decided(verdict, outcome), outcome)


def chat_acts(rules: ChatRules) -> bool:
    """Whether a live rule that matched has a signal, flag or event to apply
    (`hooks.chat_effects`, which needs the stored rows)."""
    outcome = rules.outcome
    if outcome is None:
        return False
    return any(
        r.effect.get("signal") or r.effect.get("flag") or r.effect.get("event")
        for r in outcome.live
    )
