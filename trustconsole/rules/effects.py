"""What a matching rule does: its effect, validated per channel and applied.

An effect is a JSON object with any of:

- `signal`: `{"type": <signal type>, "level": low|medium|high|extreme,
  "expires_hours": <int, optional>}` — a risk signal on the visitor (chat, inbound
  calls: the caller's visitor, created if needed), weighted on the one scale
  (`trustconsole.policy.vocabulary.Weight`, the organisation's overrides apply);
- `flag`: true — the visitor is flagged and lands in the review queue;
- `block`: true — the chat message is blocked (chat message channel);
- `reject`: true — the call is rejected (inbound call channel);
- `refuse`: `{"code": <violation code>}` — the outbound call is refused;
- `account`: `{"action": hold|restrict, "services": [...], "email_customer": bool}`;
- `account_signal`: `{"type": <account signal type>, "level": low|medium|high|extreme,
  "note": <optional>, "expires_hours": <int, optional>}` — a risk signal on the
  customer account (its weight on the one scale), through
  `accounts.services.account_signal_add` (audited; it counts in the account's risk
  score and its type's restriction rules follow). The note
  may name facts in braces (`"{account.email_domain} is a disposable domain."`);
  without one it names the rule and the facts it read. On a refused outbound call
  the level may be `denials.signal_level` (the Voice → Policy setting). Not on the
  account-signal channel itself (a signal's rules adding signals would feed
  themselves); with `expires_hours` the account signal stops counting after that
  many hours;
- `event`: `{"kind": <event kind>, "once_per_seconds": <int, optional>}` — record
  an event of a registered kind on the visitor (chat messages; inbound calls: the
  caller's visitor, created if needed): the kind's own signal follows
  (`visitors.rules`), and the event shows on the visitor's profile; with
  `once_per_seconds`, at most once per visitor (per calling number) in that time.

Several may be given; a shadow rule's effect is only logged.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from django.core.exceptions import ValidationError

from trustconsole.policy.vocabulary import DEFAULT_WEIGHTS, Reason
from trustconsole.rules.facts import RuleChannel

RULE_SIGNAL = "rule_match"
KEYS = (
    "signal",
    "flag",
    "block",
    "reject",
    "refuse",
    "account",
    "account_signal",
    "event",
)
ACTING = {
    "block": (RuleChannel.CHAT_MESSAGE,),
    "reject": (RuleChannel.INBOUND_CALL,),
    "refuse": (RuleChannel.OUTBOUND_CHECK,),
    "account": (
        RuleChannel.OUTBOUND_CHECK,
        RuleChannel.ACCOUNT_SIGNUP,
        RuleChannel.ACCOUNT_REVIEW,
        RuleChannel.ACCOUNT_SIGNAL,
        RuleChannel.OUTBOUND_DENIAL,
    ),
    "account_signal": (
        RuleChannel.OUTBOUND_CHECK,
        RuleChannel.ACCOUNT_SIGNUP,
        RuleChannel.ACCOUNT_REVIEW,
        RuleChannel.OUTBOUND_DENIAL,
    ),
    "event": (RuleChannel.CHAT_MESSAGE, RuleChannel.INBOUND_CALL),
}
VISITOR_CHANNELS = (
    RuleChannel.CHAT_MESSAGE,
    RuleChannel.CHAT_EVENT,
    RuleChannel.INBOUND_CALL,
)
SERVICES = ("sms", "voice", "numbers", "sip_trunking")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _signal_types() -> dict[str, str]:
    from visitors.choices import BLACKLISTED_SIGNAL, SIGNAL_TYPE_LABELS

    return {k: v for k, v in SIGNAL_TYPE_LABELS.items() if k != BLACKLISTED_SIGNAL}


def effect_clean(channel: str, raw: Any) -> dict[str, Any]:  # noqa: C901, PLR0912
    """The effect as stored, or a ValidationError naming each bad part."""
    errors: dict[str, str] = {}
    if not isinstance(raw, dict) or not raw:
        raise ValidationError({"effect": "Give at least one effect (a JSON object)."})
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        errors["effect"] = (
            f"Unknown effect {', '.join(unknown)}; use {', '.join(KEYS)}."
        )
    out: dict[str, Any] = {}
    for key, channels in ACTING.items():
        if key in raw and raw[key] not in (None, False) and channel not in channels:
            errors[f"effect.{key}"] = (
                f"{key!r} does not apply to {RuleChannel(channel).label.lower()} rules."
            )
    if "signal" in raw:
        signal = raw["signal"]
        if channel not in VISITOR_CHANNELS:
            errors["effect.signal"] = "Risk signals apply to visitors (chat, calls)."
        elif not isinstance(signal, dict):
            errors["effect.signal"] = 'Write {"type": …, "level": …}.'
        else:
            kind = signal.get("type", RULE_SIGNAL)
            level = signal.get("level")
            expires = signal.get("expires_hours")
            kind = kind if isinstance(kind, str) else repr(kind)
            level = level if isinstance(level, str) else repr(level)
            if kind not in _signal_types():
                errors["effect.signal.type"] = (
                    f"Unknown signal type {kind!r}; use one of "
                    f"{', '.join(sorted(_signal_types()))}."
                )
            if level not in DEFAULT_WEIGHTS:
                errors["effect.signal.level"] = (
                    f"Choose a level: {', '.join(DEFAULT_WEIGHTS)}."
                )
            if expires is not None and (
                isinstance(expires, bool)
                or not isinstance(expires, int)
                or not 1 <= expires <= 24 * 365
            ):
                errors["effect.signal.expires_hours"] = (
                    "A whole number of hours, 1–8760 (or leave it out)."
                )
            out["signal"] = {"type": kind, "level": level}
            if expires is not None:
                out["signal"]["expires_hours"] = expires
    for flag in ("flag", "block", "reject"):
        if flag in raw:
            if not isinstance(raw[flag], bool):
                errors[f"effect.{flag}"] = "true or false."
            elif raw[flag]:
                out[flag] = True
    if "flag" in out and channel not in VISITOR_CHANNELS:
        errors["effect.flag"] = "Flagging applies to visitors (chat, calls)."
    if "refuse" in raw and channel == RuleChannel.OUTBOUND_CHECK:
        refuse = raw["refuse"]
        code = refuse.get("code") if isinstance(refuse, dict) else None
        if not isinstance(code, str) or not _CODE.match(code):
            errors["effect.refuse.code"] = (
                "A violation code: lower-case letters, digits and _, e.g. "
                f"{Reason.HARASSMENT.value}."
            )
        else:
            out["refuse"] = {"code": code}
    if "account" in raw and channel in ACTING["account"]:
        account = raw["account"]
        action = account.get("action") if isinstance(account, dict) else None
        services = account.get("services", []) if isinstance(account, dict) else []
        if action not in ("hold", "restrict"):
            errors["effect.account.action"] = "hold or restrict."
        elif action == "restrict" and (
            not isinstance(services, list)
            or not services
            or any(s not in SERVICES for s in services)
        ):
            errors["effect.account.services"] = (
                f"Name the services to restrict: {', '.join(SERVICES)}."
            )
        else:
            out["account"] = {
                "action": action,
                "services": list(services) if action == "restrict" else [],
                "email_customer": bool(account.get("email_customer", True)),
            }
    if "event" in raw and channel in ACTING["event"]:
        found = _event_clean(raw["event"], errors)
        if found:
            out["event"] = found
    if "account_signal" in raw and channel in ACTING["account_signal"]:
        from trustconsole.rules.effects_accounts import account_signal_clean

        found = account_signal_clean(channel, raw["account_signal"], errors)
        if found:
            out["account_signal"] = found
    if errors:
        raise ValidationError(errors)
    if not out:
        raise ValidationError({"effect": "Give at least one effect."})
    return out


def _event_kinds() -> dict[str, str]:
    from visitors.rules import rule_list

    return {rule.kind: rule.label for rule in rule_list()}


def _event_clean(event: Any, errors: dict[str, str]) -> dict[str, Any]:
    kind = event.get("kind") if isinstance(event, dict) else None
    if kind not in _event_kinds():
        errors["effect.event.kind"] = (
            f"An event kind: {', '.join(sorted(_event_kinds()))}."
        )
        return {}
    out: dict[str, Any] = {"kind": kind}
    once = event.get("once_per_seconds")
    if once is not None:
        whole = isinstance(once, int) and not isinstance(once, bool)
        if not whole or not 1 <= once <= 86400:
            errors["effect.event.once_per_seconds"] = (
                "A whole number of seconds, 1–86400 (or leave it out)."
            )
            return {}
        out["once_per_seconds"] = once
    return out


def acts(effect: dict[str, Any]) -> bool:
    """Does the effect change the decision (block, reject, refuse, hold)?"""
    return any(effect.get(key) for key in ("block", "reject", "refuse", "account"))


def describe(effect: dict[str, Any]) -> str:
    """The effect in words ("add a High risk signal (Spam), reject the call")."""
    parts = []
    signal = effect.get("signal")
    if signal:
        label = _signal_types().get(signal.get("type", ""), signal.get("type", ""))
        words = f"add a {str(signal.get('level', '')).title()} risk signal ({label})"
        if signal.get("expires_hours"):
            words += f" for {signal['expires_hours']} h"
        parts.append(words)
    if effect.get("flag"):
        parts.append("flag for review")
    if effect.get("block"):
        parts.append("block the message")
    if effect.get("reject"):
        parts.append("reject the call")
    if effect.get("refuse"):
        parts.append(f"refuse the call ({effect['refuse'].get('code')})")
    event = effect.get("event")
    if event:
        label = _event_kinds().get(event.get("kind", ""), event.get("kind", ""))
        words = f"record a {label} event"
        if event.get("once_per_seconds"):
            words += f" (at most once per {event['once_per_seconds']} s per visitor)"
        parts.append(words)
    if effect.get("account_signal"):
        from trustconsole.rules.effects_accounts import account_signal_describe

        parts.append(account_signal_describe(effect["account_signal"]))
    account = effect.get("account")
    if account:
        if account.get("action") == "hold":
            parts.append("hold the account")
        else:
            parts.append("restrict " + ", ".join(account.get("services", [])))
    return ", ".join(parts) or "nothing"


def visitor_effects_apply(
    *,
    actor: Any,
    visitor: Any,
    effect: dict[str, Any],
    rule_label: str,
    conversation: Any = None,
    event: Any = None,
) -> None:
    """A live rule's signal and flag on `visitor` (inside the caller's transaction).

    A signal from a chat-event rule carries its event (the review queue shows it).
    A whitelisted visitor collects signals but is never flagged."""
    from visitors import services
    from visitors.choices import VisitorStatus

    signal = effect.get("signal")
    if signal:
        hours = signal.get("expires_hours")
        kind = signal.get("type", RULE_SIGNAL)
        source, note = "rule", f"Rule {rule_label}"
        if event is not None and kind == event.kind:
            # The event's own weight (the default rule set's event rules): the
            # signal keeps where the event came from and what it said.
            from visitors.rules import event_note

            source, note = event.source, f"{event_note(event)}; rule {rule_label}"
        services.risk_signal_add(
            actor=actor,
            visitor=visitor,
            signal_type=kind,
            level=signal["level"],
            source=source,
            note=note,
            expires_at=(
                dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours) if hours else None
            ),
            conversation=conversation,
            event=event,
        )
        visitor.refresh_from_db()
    if effect.get("flag") and visitor.status != VisitorStatus.WHITELISTED:
        from visitors.services import visitor_flag

        visitor_flag(
            actor=actor,
            visitor=visitor,
            cause=f"Rule {rule_label}",
            conversation=conversation,
        )


def account_effects_apply(
    *, actor: Any, account: Any, effect: dict[str, Any], rule_label: str, why: str
) -> bool:
    """A live rule's hold or restriction of a customer account, through the
    accounts services (audited, the customer emailed unless the effect says not).
    False when the account's status already covers it."""
    from accounts.choices import AccountStatus
    from accounts.services import account_hold, account_restrict

    action = effect.get("account")
    if not action:
        return False
    notify = bool(action.get("email_customer", True))
    reason = f"Rule {rule_label}: {why}"
    decided_by = f"the rule {rule_label}"
    if action.get("action") == "hold":
        if account.status not in (AccountStatus.ACTIVE, AccountStatus.RESTRICTED):
            return False
        account_hold(
            actor=actor,
            account=account,
            reason=reason,
            notify_customer=notify,
            decided_by=decided_by,
        )
        return True
    services = list(action.get("services") or ())
    if account.status not in (AccountStatus.ACTIVE, AccountStatus.RESTRICTED) or (
        account.status == AccountStatus.RESTRICTED
        and set(services) <= set(account.restricted_services)
    ):
        return False
    account_restrict(
        actor=actor,
        account=account,
        services=services,
        reason=reason,
        notify_customer=notify,
        decided_by=decided_by,
    )
    return True


def first_in(key: str, seconds: int) -> bool:
    """True for the first caller in `seconds` (shared across processes)."""
    from django.core.cache import cache

    try:
        return bool(cache.add(key, 1, timeout=seconds))
    except Exception:  # noqa: BLE001 - the cache is down: no event rather than many
        return False


@functools.lru_cache(maxsize=4096)
def _keywords_of(version_pk: int) -> tuple[str, ...]:
    from trustconsole.rules.models import RuleVersion
    from trustconsole.rules.rewrite import keyword_lists

    source = (
        RuleVersion.objects.filter(pk=version_pk)
        .values_list("condition", flat=True)
        .first()
    )
    return tuple(w for words in keyword_lists(source or "true") for w in words)


def event_detail(rule: Any, facts: dict[str, Any], text: str) -> dict[str, Any]:
    """What an event recorded by a rule carries: the rule, the listed word the
    message contains (if the rule lists words), and the counts the rule read."""
    detail: dict[str, Any] = {"rule": f"{rule.name} (version {rule.version})"}
    lowered = text.lower()
    for word in _keywords_of(rule.version_pk):
        if word.lower() in lowered:
            detail["keyword"] = word
            break
    for name in sorted(rule.fields):
        group, _, field = name.partition(".")
        value = (facts.get(group) or {}).get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            detail[field] = value
    return detail


def event_effect_apply(  # noqa: PLR0913
    *,
    actor: Any,
    visitor: Any,
    rule: Any,
    facts: dict[str, Any],
    text: str,
    message: Any = None,
    conversation: Any = None,
) -> bool:
    """A live rule's `event` effect: the event recorded on the visitor (its kind's
    signal follows). False when `once_per_seconds` says it was recorded already."""
    from visitors.rules import event_record

    event = rule.effect["event"]
    once = event.get("once_per_seconds")
    if once and not first_in(f"rules:once:{rule.pk}:{visitor.public_id.hex}", once):
        return False
    detail = event_detail(rule, facts, text)
    if once:
        detail["window_seconds"] = once
    if message is not None:
        detail["message_id"] = str(message.public_id)
    event_record(
        actor=actor,
        visitor=visitor,
        kind=event["kind"],
        detail=detail,
        source="widget",
        conversation=conversation,
    )
    return True
