"""The voice side of the default rule set: repeated calls and the harassment limit.

Both read the organisation's own settings as facts (`voice.*`, `policy.*`), so the
Voice and Outbound policy settings keep setting their numbers, and the count the
hot path already takes in its one round trip (`caller.calls_recent`,
`destination.calls_made`). An admin can write other numbers into the condition,
put the rule in shadow or turn it off like any rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trustconsole.rules.defaults import Default


def voice_defaults() -> tuple[Default, ...]:
    """The voice rules of the default rule set (`defaults.DEFAULTS` adds them)."""
    from trustconsole.rules.defaults import Default

    return (
        Default(
            key="repeated_calls",
            name="Repeated calls",
            channel="inbound_call",
            description=(
                "The call that takes one number over the repeated-call threshold "
                "within the window (Voice → Settings) records a repeated calls "
                "event on the caller's visitor (created if needed): a High risk "
                "signal through “Event weight: Repeated calls”, once per window. "
                "The call itself is let through. The count is the gate's own, "
                "from the round trip that logs the call."
            ),
            order=10,
            condition=lambda: (
                "caller.calls_recent == voice.repeated_call_threshold + 1"
            ),
            effect=lambda: {"event": {"kind": "repeated_calls"}},
        ),
        Default(
            key="harassment_limit",
            name="Harassment limit",
            channel="outbound_check",
            description=(
                "Refuses a call (violation harassment) once the account, or the "
                "organisation without one, has made the harassment limit's number "
                "of calls to the destination within the window (Voice → Outbound "
                "policy → Settings). Refused checks do not count."
            ),
            order=10,
            condition=lambda: "destination.calls_made >= policy.harassment_limit",
            effect=lambda: {"refuse": {"code": "harassment"}},
        ),
    )
