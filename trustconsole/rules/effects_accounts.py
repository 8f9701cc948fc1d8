"""The `account_signal` effect: a risk signal on a customer account.

`{"type": <account signal type>, "level": low|medium|high|extreme, "note": "…",
"expires_hours": <1–8760, optional>}`.
The weight is the level's on the one scale (`trustconsole.policy.vocabulary.Weight`:
Low +10, Medium +20, High +40, Extreme +70). The note reads as words: it may name
facts of the channel in braces, filled in from the event
(`"{account.email_domain} is a disposable domain."`); without a note the signal
says which rule added it and the facts the rule read. Some channels offer a level
taken from a setting (`LEVEL_FACTS`). The caller adds the signal through
`accounts.services.account_signal_add` with its own source (signup, usage review,
outbound check), so it is audited and counts like every other signal; with
`expires_hours` the signal stops counting that many hours after it was added.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from trustconsole.policy.vocabulary import DEFAULT_WEIGHTS
from trustconsole.rules.facts import RuleChannel, channel_facts

# A level read from a fact of the event (a setting the channel carries).
LEVEL_FACTS: dict[str, tuple[str, ...]] = {
    RuleChannel.OUTBOUND_DENIAL: ("denials.signal_level",),
}
NOTE_MAX = 500
EXPIRES_HOURS_MAX = 24 * 365
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _types() -> dict[str, str]:
    from accounts.choices import SignalType

    return dict(SignalType.choices)


def account_signal_types() -> list[tuple[str, str]]:
    """The account signal types a rule may add, for the edit form."""
    return list(_types().items())


def account_signal_clean(
    channel: str, raw: Any, errors: dict[str, str]
) -> dict[str, Any]:
    """The effect as stored; each bad part noted in `errors`."""
    if not isinstance(raw, dict):
        errors["effect.account_signal"] = 'Write {"type": …, "level": …}.'
        return {}
    kind, level, note = raw.get("type"), raw.get("level"), raw.get("note", "")
    levels = (*DEFAULT_WEIGHTS, *LEVEL_FACTS.get(channel, ()))
    if kind not in _types():
        errors["effect.account_signal.type"] = (
            f"Unknown account signal type {kind!r}; use one of "
            f"{', '.join(sorted(_types()))}."
        )
    if level not in levels:
        errors["effect.account_signal.level"] = f"Choose a level: {', '.join(levels)}."
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        errors["effect.account_signal.note"] = f"Words, at most {NOTE_MAX} characters."
        return {}
    known = {
        f"{g.name}.{f.name}" for g in channel_facts(channel).groups for f in g.fields
    }
    unknown = [name for name in _PLACEHOLDER.findall(note) if name not in known]
    if unknown or note.count("{") != note.count("}"):
        errors["effect.account_signal.note"] = (
            "Name facts of this channel in braces, e.g. {account.email_domain}"
            + (f"; not {', '.join(unknown)}." if unknown else "; a brace is unpaired.")
        )
    out: dict[str, Any] = {"type": kind, "level": level}
    if note.strip():
        out["note"] = note.strip()
    expires = raw.get("expires_hours")
    if expires is not None:
        if (
            isinstance(expires, bool)
            or not isinstance(expires, int)
            or not 1 <= expires <= EXPIRES_HOURS_MAX
        ):
            errors["effect.account_signal.expires_hours"] = (
                f"A whole number of hours, 1–{EXPIRES_HOURS_MAX} (or leave it out)."
            )
        else:
            out["expires_hours"] = expires
    return out


def account_signal_describe(effect: dict[str, Any]) -> str:
    """ "add a High account risk signal (Disposable email domain)"."""
    label = _types().get(effect.get("type", ""), effect.get("type", ""))
    level = str(effect.get("level", ""))
    hours = effect.get("expires_hours")
    tail = f" for {hours} h" if hours else ""
    if level in DEFAULT_WEIGHTS:
        return f"add a {level.title()} account risk signal ({label}){tail}"
    return f"add an account risk signal ({label}) at the level {level} says{tail}"


def _fact(facts: dict[str, Any], name: str) -> Any:
    group, _, field = name.partition(".")
    return (facts.get(group) or {}).get(field)


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_words(v) for v in value)
    return "" if value is None else str(value)


def note_render(note: str, facts: dict[str, Any]) -> str:
    """The note with each `{group.field}` replaced by the event's value."""
    return _PLACEHOLDER.sub(lambda m: _words(_fact(facts, m.group(1))), note)


@dataclass(frozen=True)
class AccountSignalSpec:
    """What a matching rule adds: the signal's type, weight and note."""

    signal_type: str
    weight: int
    note: str
    rule: str  # "Name (version n)"
    expires_at: dt.datetime | None = None


def account_signal_of(rule: Any, facts: dict[str, Any]) -> AccountSignalSpec | None:
    """The signal a live rule's `account_signal` effect adds on this event (None:
    the effect has none, or its level fact holds no level)."""
    effect = rule.effect.get("account_signal")
    if not effect:
        return None
    level = effect.get("level", "")
    if level not in DEFAULT_WEIGHTS:
        level = str(_fact(facts, level) or "")
    if level not in DEFAULT_WEIGHTS:
        return None
    label = f"{rule.name} (version {rule.version})"
    if effect.get("note"):
        note = note_render(effect["note"], facts)
    else:
        read = "; ".join(
            f"{name} = {_words(_fact(facts, name))}" for name in sorted(rule.fields)
        )
        note = f"Rule {label}" + (f": {read}." if read else ".")
    hours = effect.get("expires_hours")
    expires_at = timezone.now() + dt.timedelta(hours=hours) if hours else None
    return AccountSignalSpec(
        effect["type"], DEFAULT_WEIGHTS[level], note, label, expires_at
    )


def account_signals_of(outcome: Any) -> list[AccountSignalSpec]:
    """The signals of the live rules that matched, in rule order."""
    if outcome is None:
        return []
    found = (account_signal_of(rule, outcome.facts) for rule in outcome.live)
    return [spec for spec in found if spec is not None]
