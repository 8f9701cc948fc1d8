"""The organisation's settings as facts: the numbers the voice side of the
default rule set reads (`voice.*` on inbound calls, `policy.*` on outbound
checks), so Voice → Settings and the outbound policy settings keep setting them.
Imported by `facts` for its registry."""

from __future__ import annotations

from collections.abc import Callable

from trustconsole.rules.facts import EventContext, Fact, Group, _int, _part


def _settings(
    ctx: EventContext, name: str, load: Callable[[int], dict[str, int]]
) -> dict[str, int]:
    """An organisation's settings as facts: as the hook (or a pasted event) gave
    them, the others read (tests, backtests)."""
    given = _part(ctx, name)
    names = [f.name for f in (VOICE if name == "voice" else POLICY).fields]
    found = load(ctx.organisation_id) if any(n not in given for n in names) else {}
    return {n: _int(given, n, found.get(n, 0)) for n in names}


def _voice_settings(organisation_id: int) -> dict[str, int]:
    from trustconsole.policy import state as core_state

    voice = core_state.current(organisation_id).voice
    return {
        "repeated_call_threshold": voice.repeated_call_threshold,
        "repeated_call_window_seconds": voice.repeated_call_window_seconds,
    }


VOICE = Group(
    "voice",
    "The organisation's voice gate settings (Voice → Settings); the default rule "
    "“Repeated calls” reads them.",
    (
        Fact(
            "repeated_call_threshold",
            "int",
            "Calls from one number in the window before the next is repeated.",
            5,
        ),
        Fact(
            "repeated_call_window_seconds",
            "int",
            "The repeated-call window, in seconds (caller.calls_recent counts in it).",
            600,
        ),
    ),
    lambda ctx: _settings(ctx, "voice", _voice_settings),
)


def _policy_settings(organisation_id: int) -> dict[str, int]:
    from voicegate.policy.memory import settings_row

    row = settings_row(organisation_id)
    return {
        "harassment_limit": row.harassment_limit,
        "harassment_window_seconds": row.harassment_window_seconds,
    }


POLICY = Group(
    "policy",
    "The organisation's outbound policy settings (Voice → Outbound policy → "
    "Settings); the default rule “Harassment limit” reads them.",
    (
        Fact(
            "harassment_limit",
            "int",
            "Calls to one number in the window before the next is refused.",
            3,
        ),
        Fact(
            "harassment_window_seconds",
            "int",
            "The harassment window, in seconds (destination.calls_made counts in it).",
            86400,
        ),
    ),
    lambda ctx: _settings(ctx, "policy", _policy_settings),
)
