"""What the gates call: the organisation's rules on a chat message or an inbound call.

Rules run after the identity steps of the precedence (blacklist, whitelist, IP
block, block list): only an event those steps allowed, and not by the whitelist,
is evaluated (a whitelisted visitor is never blocked or flagged by automation).
A live rule that blocks or rejects decides (`Step.RULE`); shadow rules only appear
in the explanation (`shadow_rules`), the log and the hit counts. Inbound-call rules
reading the gate's own count (`caller.calls_recent`) run once the call is logged
(`inbound_call_count`): they never decide, and the match log keeps their matches.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trustconsole.policy import decide as core
from trustconsole.policy import state as core_state
from trustconsole.policy.vocabulary import Reason, Step
from trustconsole.rules import engine, matchlog
from trustconsole.rules.facts import EventContext, RuleChannel

logger = logging.getLogger(__name__)


def _decided(verdict: core.Verdict, outcome: engine.Outcome) -> core.Verdict:
    shadow = tuple(r.ref() for r in outcome.shadow)
    rule = outcome.decided_by
    if rule is not None:
        return dataclasses.replace(
            verdict,
            allowed=False,
            reason=Reason.RULE,
            step=Step.RULE,
            identity=verdict.identity,
            rule=rule.ref(),
            shadow_rules=shadow,
        )
    if shadow:
        return dataclasses.replace(verdict, shadow_rules=shadow)
    return verdict


def _applies(verdict: core.Verdict) -> bool:
    return verdict.allowed and verdict.step != Step.WHITELIST


def _label(rule: engine.CompiledRule) -> str:
    return f"rule {rule.name} (version {rule.version})"


def flush() -> None:
    """Write this process's hit counts and match log now (after a batch of events,
    such as a usage review run, rather than at the next event)."""
    engine.hits_flush()


# --- Chat ---------------------------------------------------------------------------


@dataclasses.dataclass
class ChatRules:
    """The rules' answer for one chat message."""

    verdict: core.Verdict
    outcome: engine.Outcome | None

    @property
    def blocked(self) -> bool:
        return not self.verdict.allowed and self.verdict.step == Step.RULE


def chat_message_event(
    visitor: dict[str, Any],
    *,
    body: str,
    widget: str,
    pairs: list[tuple[str, str]],
    messages_recent: int | None,
) -> dict[str, Any]:
    """A chat message's event for the rules: the visitor's facts given, with the
    identifiers the message carried and the velocity count when taken."""
    given = dict(pairs)
    event: dict[str, Any] = {
        "visitor": {
            **visitor,
            "email": given.get("email", ""),
            "phone": given.get("phone", ""),
            "ip": given.get("ip", ""),
        },
        "message": {"text": body, "widget": widget},
    }
    if messages_recent is not None:
        event["visitor"]["messages_recent"] = messages_recent
    return event


def chat_message(
    *,
    organisation_id: int,
    verdict: core.Verdict,
    visitor: Any,
    body: str,
    widget: str,
    pairs: list[tuple[str, str]],
    is_new: bool = False,
    messages_recent: int | None = None,
) -> ChatRules:
    """Evaluate the chat-message rules for a message the identity steps allowed
    (`messages_recent`: the velocity count the gate already took, else the
    facts take it when a rule reads it)."""
    if not _applies(verdict):
        return ChatRules(verdict, None)
    state = core_state.state_get(organisation_id) or core_state.current(organisation_id)
    rules = engine.rule_set(state, RuleChannel.CHAT_MESSAGE)
    if not rules.rules:
        return ChatRules(verdict, None)
    event = chat_message_event(
        {
            "id": str(visitor.public_id),
            "status": visitor.status,
            "trust_score": visitor.trust_score,
            "is_new": is_new,
        },
        body=body, widget=widget, pairs=pairs, messages_recent=messages_recent,
    )  # fmt: skip
    outcome = engine.evaluate(
        rules, EventContext(organisation_id, rules.channel, event)
    )
    rules_said = ChatRules(_decided(verdict, outcome), outcome)
    chat_matches_record(
        organisation_id=organisation_id, rules=rules_said, visitor_pk=visitor.pk,
        subject_label=visitor.display_name, body=body,
    )  # fmt: skip
    engine.hits_flush_due()
    return rules_said


def chat_matches_record(
    *,
    organisation_id: int,
    rules: ChatRules,
    visitor_pk: int,
    subject_label: str,
    body: str,
) -> None:
    """Keep the chat-message rules' matches in the match log (in memory): those
    of `chat_message`, and of the rules evaluated before the visitor's lookup
    (`hooks_chat`) once the gate knows the visitor."""
    outcome = rules.outcome
    if outcome is None or not outcome.matched:
        return
    decided = outcome.decided_by
    matchlog.record(
        organisation_id=organisation_id,
        channel=RuleChannel.CHAT_MESSAGE,
        rules=[*outcome.live, *outcome.shadow],
        real="blocked" if decided else "stored",
        real_by=_label(decided) if decided else "",
        acted=decided is not None,
        visitor_pk=visitor_pk,
        subject_label=subject_label,
        excerpt=body,
    )


def chat_effects(  # noqa: PLR0913
    *,
    actor: Any,
    visitor: Any,
    conversation: Any,
    rules: ChatRules,
    message: Any = None,
    event: Any = None,
) -> None:
    """The signals, flags and events of the live rules that matched (in the
    gate's transaction). Shadow rules never act."""
    outcome = rules.outcome
    if outcome is None:
        return
    from django.db import transaction

    from trustconsole.rules.effects import event_effect_apply, visitor_effects_apply

    for rule in outcome.live:
        effect = rule.effect
        if not (effect.get("signal") or effect.get("flag") or effect.get("event")):
            continue
        try:
            with transaction.atomic():  # a savepoint: the message stays
                if effect.get("signal") or effect.get("flag"):
                    visitor_effects_apply(
                        actor=actor,
                        visitor=visitor,
                        effect=effect,
                        rule_label=f"{rule.name} (version {rule.version})",
                        conversation=conversation,
                        event=event,
                    )
                if effect.get("event"):
                    event_effect_apply(
                        actor=actor,
                        visitor=visitor,
                        rule=rule,
                        facts=outcome.facts,
                        text=getattr(message, "body", "") or "",
                        message=message,
                        conversation=conversation,
                    )
        except Exception:  # noqa: BLE001 - an effect never loses the message
            logger.exception(
                "rule %s v%s: its effect could not be applied",
                rule.name,
                rule.version,
            )


# --- Inbound calls ------------------------------------------------------------------


def inbound_call(state: Any, facts: Any, verdict: Any) -> Any:
    """The call gate's verdict after the inbound-call rules (`voicegate.gate`).

    `facts` is the gate's CallFacts, `verdict` its Verdict (with `.core`). Pure
    and in memory, apart from the shared-cache counts a rule reads; signals and
    flags of live rules are queued for a worker.
    """
    found = verdict.core
    if state is None or found is None or not _applies(found):
        return verdict
    rules = engine.rule_set(state, RuleChannel.INBOUND_CALL)
    if not rules.rules:
        return verdict
    # Deferred: the gate may decide one event twice (fresher state, a redelivery);
    # its counts move once, when the claim shows it new (`inbound_call_counted`).
    outcome = engine.evaluate(
        rules,
        EventContext(
            state.organisation_id, rules.channel, _call_event(state, facts, verdict),
            defer=True,
        ),
    )  # fmt: skip
    _queue_call_effects(state.organisation_id, facts, verdict.caller_e164, outcome)
    engine.hits_flush_due()
    decided = _decided(found, outcome)
    if decided is found:
        return dataclasses.replace(verdict, rules=outcome)
    if not decided.allowed:
        return dataclasses.replace(
            verdict, decision="reject", reason=Reason.RULE, core=decided, rules=outcome
        )
    return dataclasses.replace(verdict, core=decided, rules=outcome)


def _call_event(state: Any, facts: Any, verdict: Any) -> dict[str, Any]:
    return {
        "caller": {"number": facts.caller, "e164": verdict.caller_e164},
        "callee": {
            "number": facts.callee,
            "e164": core.caller_normalised(facts.callee) or "" if facts.callee else "",
        },
        "call": {
            "provider": facts.provider,
            "attestation": getattr(facts, "attestation", ""),
            "verstat": getattr(facts, "verstat", ""),
            "stir_validated": getattr(facts, "stir_validated", False),
        },
        "voice": _voice(state),
    }


def _voice(state: Any) -> dict[str, int]:
    """The voice settings as the `voice` facts (what the counted rules compare)."""
    voice = state.voice
    return {
        "repeated_call_threshold": voice.repeated_call_threshold,
        "repeated_call_window_seconds": voice.repeated_call_window_seconds,
    }


def inbound_call_counted(verdict: Any) -> None:
    """The call was new: count it in the rules' windows and hit counts."""
    outcome = getattr(verdict, "rules", None)
    if outcome is not None:
        engine.commit(outcome)


def inbound_call_count(state: Any, facts: Any, verdict: Any, count: int) -> None:
    """The rules reading the caller's count (`caller.calls_recent`: the default
    "Repeated calls"), once the gate logged and counted a new call; `count` is
    the one its round trip returned. They run on the calls the identity steps and
    the other rules allowed (never a whitelisted caller) and cannot reject: live
    rules' events, signals and flags are queued for a worker; every match (shadow
    too) goes into the match log.

    When every such rule compares the count with a number or a voice setting in
    a conjunct (`pins.count_pin`: "Repeated calls" is `caller.calls_recent ==
    voice.repeated_call_threshold + 1`) and none of these comparisons holds for
    this count, none can match: the engine is not run (no facts built), exactly
    as if it had said "no match"."""
    found = verdict.core
    if state is None or found is None or not _applies(found):
        return
    rules = engine.rule_set(state, RuleChannel.INBOUND_CALL, counted=True)
    if not rules.rules:
        return
    if not engine.count_can_match(rules, count, _voice(state)):
        engine.hits_flush_due()
        return
    event = _call_event(state, facts, verdict)
    event["caller"]["calls_recent"] = count
    # Windows the other rules already counted this call in: read again with a
    # hit, the call would be counted twice.
    counted = getattr(getattr(verdict, "rules", None), "counted", None) or {}
    for group in ("caller", "callee"):
        key = f"{state.organisation_id}:{group}:{event[group]['e164']}"
        event[group].update(counted.get(key, {}))
    outcome = engine.evaluate(
        rules, EventContext(state.organisation_id, rules.channel, event)
    )
    if outcome.matched:
        window = state.voice.repeated_call_window_seconds
        e164 = verdict.caller_e164
        detail = {"number": e164, "calls": count, "window_seconds": window}
        acting = _queue_call_effects(
            state.organisation_id, facts, verdict.caller_e164, outcome, detail=detail,
            suffix=":counted",
        )  # fmt: skip
        matchlog.record(
            organisation_id=state.organisation_id,
            channel=RuleChannel.INBOUND_CALL,
            rules=[*outcome.live, *outcome.shadow],
            real="allowed, " + ("acted on" if acting else "untouched"),
            real_by=", ".join(_label(r) for r in acting),
            acted=bool(acting),
            subject_label=verdict.caller_e164 or facts.caller,
            excerpt=f"{count} calls in {window} s",
        )
    engine.hits_flush_due()


def _queue_call_effects(  # noqa: PLR0913
    organisation_id: int,
    facts: Any,
    e164: str,
    outcome: engine.Outcome,
    *,
    detail: dict[str, Any] | None = None,
    suffix: str = "",
) -> list[engine.CompiledRule]:
    """Queue the live rules' signals, flags and events on the caller; the rules
    whose effects were queued. An event carries the number (and, from the rules
    reading the count, the calls and their window)."""
    acting = [
        r
        for r in outcome.live
        if r.effect.get("signal") or r.effect.get("flag") or r.effect.get("event")
    ]
    if not acting or not e164:
        return []
    effects = [
        {
            "effect": r.effect,
            "label": f"{r.name} (version {r.version})",
            "rule": r.pk,
            "detail": detail or {"number": e164},
        }
        for r in acting
    ]
    from trustconsole.rules import tasks

    key = (
        f"{organisation_id}:{facts.provider}:{facts.event_id}{suffix}"
        if facts.event_id
        else ""
    )
    try:
        tasks.call_effects.apply_async(
            (organisation_id, e164, effects, key), retry=False
        )
    except Exception as exc:  # noqa: BLE001 - the broker is down: not worth a 5xx
        logger.warning("could not queue a rule's effects on a caller: %s", exc)
    return acting


# --- Outbound checks ----------------------------------------------------------------

ACCOUNT_FACTS_SECONDS = 30.0  # account facts beyond its status may be this old


def outbound_check(
    *,
    state: Any,
    account: Mapping[str, Any] | None,
    account_facts: Callable[[], Mapping[str, Any]] | None,
    caller_id: Mapping[str, Any],
    destination: Mapping[str, Any],
    policy: Mapping[str, int] | None = None,
    skip: bool = False,
) -> engine.Outcome | None:
    """The outbound-check rules' outcome for a proposed call (None: no rules ran);
    `policy`: the organisation's policy settings the check read (`policy.*`).

    In memory apart from what a rule reads: the account's facts beyond its status
    (`account_facts`, kept ACCOUNT_FACTS_SECONDS per process) and the sliding-window
    counts in the shared cache. Counts are deferred: the service commits them for
    an allowed call (`outbound_counted`). `skip`: a whitelisted destination, never
    refused by automation.
    """
    if state is None or skip:
        return None
    rules = engine.rule_set(state, RuleChannel.OUTBOUND_CHECK)
    if not rules.rules:
        return None
    facts = dict(account or {})
    if account_facts is not None and any(
        f.startswith("account.") and f != "account.status" for f in rules.fields
    ):
        facts = {**_account_facts_cached(facts.get("id", ""), account_facts), **facts}
    event = {
        "account": facts,
        "caller_id": dict(caller_id),
        "destination": dict(destination),
        **({"policy": dict(policy)} if policy is not None else {}),
    }
    outcome = engine.evaluate(
        rules, EventContext(state.organisation_id, rules.channel, event, defer=True)
    )
    if any(r.effect.get("account_signal") for r in outcome.live):
        _facts_complete(state.organisation_id, outcome, event, account_facts)
    engine.hits_flush_due()
    return outcome


def _facts_complete(
    organisation_id: int,
    outcome: engine.Outcome,
    event: dict[str, Any],
    account_facts: Callable[[], Mapping[str, Any]] | None,
) -> None:
    """Every fact group on `outcome.facts` (an account signal's note may name any);
    the groups the rules read keep the values they were decided on."""
    from trustconsole.rules import facts as facts_registry

    groups = facts_registry.channel_facts(RuleChannel.OUTBOUND_CHECK).groups
    missing = {g.name for g in groups} - set(outcome.facts)
    if "account" in missing and account_facts is not None:
        key = str(event["account"].get("id", ""))
        event = {
            **event,
            "account": {
                **_account_facts_cached(key, account_facts),
                **event["account"],
            },
        }
    ctx = EventContext(organisation_id, RuleChannel.OUTBOUND_CHECK, event, count=False)
    outcome.facts = {**facts_registry.build(ctx, missing), **outcome.facts}


def outbound_counted(  # noqa: PLR0913
    outcome: engine.Outcome | None,
    *,
    allowed: bool,
    organisation_id: int,
    number: str,
    caller: str,
    codes: Sequence[str] = (),
    refused_by: str = "",
    account_pk: int | None = None,
) -> None:
    """Record a check once: rule hits always, window counts only for a call that
    will be made (a refused call is no call to count), and the rules that
    matched (live and shadow) in the match log with the real decision: allowed,
    or refused with its violation codes. In memory: no query."""
    if outcome is None:
        return
    if not allowed:
        outcome.windows = []
    engine.commit(outcome)
    if not outcome.matched:
        return
    refused = "refused: " + ", ".join(codes) if codes else "refused"
    matchlog.record(
        organisation_id=organisation_id,
        channel=RuleChannel.OUTBOUND_CHECK,
        rules=[*outcome.live, *outcome.shadow],
        real="allowed" if allowed else refused,
        real_by="" if allowed else refused_by,
        acted=not allowed,
        account_pk=account_pk,
        subject_label=number,
        excerpt=f"{caller} → {number}" + ("" if allowed else f" ({', '.join(codes)})"),
    )


def outbound_denied(organisation_id: int, account_key: str) -> None:
    """Count a denial in the window `destination.denials_24h` reads."""
    from trustconsole.rules import facts as facts_registry

    facts_registry.denial_count(organisation_id, account_key)


_ACCOUNT_FACTS: dict[str, tuple[float, Mapping[str, Any]]] = {}


def _account_facts_cached(
    key: str, load: Callable[[], Mapping[str, Any]]
) -> Mapping[str, Any]:
    now = time.monotonic()
    found = _ACCOUNT_FACTS.get(key) if key else None
    if found is not None and now - found[0] < ACCOUNT_FACTS_SECONDS:
        return found[1]
    facts = load()
    if key:
        if len(_ACCOUNT_FACTS) > 10_000:
            _ACCOUNT_FACTS.clear()
        _ACCOUNT_FACTS[key] = (now, facts)
    return facts


# --- Customer accounts: signup and continuous review --------------------------------


def account_event(
    *,
    organisation_id: int,
    channel: str,
    facts: Callable[[], Mapping[str, Any]],
    more: Mapping[str, Mapping[str, Any]] | None = None,
) -> engine.Outcome | None:
    """The rules' outcome for one account event (None: no rules; `facts`, the
    account's, is read only when some rule runs; `more`, the channel's other
    groups: the usage review's numbers, the signal added, the denials). Counted at
    once: these events are decided once. When a matching rule adds an account
    signal, `outcome.facts` holds every group (its note may name any fact)."""
    # current(): this process may have decided nothing for the organisation since
    # a rule changed (one cache read says whether it did).
    state = core_state.current(organisation_id)
    rules = engine.rule_set(state, channel)
    if not rules.rules:
        return None
    # The account's facts cost queries: read only when a rule names them.
    account = dict(facts()) if "account" in rules.variables else None
    ctx = EventContext(
        organisation_id, channel, {"account": account or {}, **dict(more or {})}
    )
    outcome = engine.evaluate(rules, ctx)
    if any(r.effect.get("account_signal") for r in outcome.live):
        from trustconsole.rules import facts as facts_registry

        if account is None:
            ctx.data = {**ctx.data, "account": dict(facts())}
        names = {g.name for g in facts_registry.channel_facts(channel).groups}
        outcome.facts = facts_registry.build(ctx, names)
    engine.hits_flush_due()
    return outcome


def account_effects(
    *, actor: Any, account: Any, outcome: engine.Outcome | None, why: str
) -> list[str]:
    """Apply the holds and restrictions of the live rules that matched, in order;
    the labels of the rules that changed the account. Shadow rules never act."""
    from trustconsole.rules.effects import account_effects_apply

    if outcome is None:
        return []
    done = []
    for rule in outcome.live:
        if not rule.effect.get("account"):
            continue
        label = f"{rule.name} (version {rule.version})"
        account.refresh_from_db()
        if account_effects_apply(
            actor=actor, account=account, effect=rule.effect, rule_label=label, why=why
        ):
            done.append(label)
    return done


def account_matched(
    *, channel: str, account: Any, outcome: engine.Outcome | None
) -> None:
    """Log the signup or review rules that matched `account`, with its standing
    after the event's effects ("untouched", or held/restricted and by whom)."""
    from accounts.choices import AccountStatus

    if outcome is None or not outcome.matched:
        return
    if any(r.effect.get("account") for r in outcome.live):
        account.refresh_from_db()  # the services saved their own copy
    untouched = account.status == AccountStatus.ACTIVE
    matchlog.record(
        organisation_id=account.organisation_id,
        channel=channel,
        rules=[*outcome.live, *outcome.shadow],
        real="untouched" if untouched else account.get_status_display().lower(),
        real_by="" if untouched else account.status_by,
        acted=not untouched,
        account_pk=account.pk,
        subject_label=account.company_name,
        excerpt=account.email,
    )


# --- Chat events (a user report, …) -------------------------------------------------


def chat_event(  # noqa: PLR0913
    *,
    actor: Any,
    visitor: Any,
    kind: str,
    note: str,
    conversation: Any = None,
    recorded: Any = None,
) -> engine.Outcome | None:
    """Run the chat-event rules on an event recorded on a visitor; apply the live
    ones' signals (carrying the event) and flags. A whitelisted visitor collects
    the signals, as events always gave them, but is never flagged."""
    state = core_state.current(visitor.organisation_id)  # as account_event
    rules = engine.rule_set(state, RuleChannel.CHAT_EVENT)
    if not rules.rules:
        return None
    known = dict(
        visitor.identifiers.filter(kind__in=("email", "phone", "ip")).values_list(
            "kind", "value"
        )
    )
    event = {
        "visitor": {
            "id": str(visitor.public_id),
            "status": visitor.status,
            "trust_score": visitor.trust_score,
            **known,
        },
        "event": {"kind": kind, "note": note},
    }  # `recorded` (the Event row) is not a fact: the signals carry it
    outcome = engine.evaluate(
        rules, EventContext(visitor.organisation_id, rules.channel, event)
    )
    engine.hits_flush_due()
    chat_effects(
        actor=actor,
        visitor=visitor,
        conversation=conversation,
        rules=ChatRules(core.Verdict("chat", True, "", ""), outcome),  # noqa: FBT003
        event=recorded,
    )
    if outcome.matched:
        acting = [
            r for r in outcome.live if r.effect.get("signal") or r.effect.get("flag")
        ]
        flagged = any(r.effect.get("flag") for r in acting)
        matchlog.record(
            organisation_id=visitor.organisation_id,
            channel=RuleChannel.CHAT_EVENT,
            rules=[*outcome.live, *outcome.shadow],
            real="flagged" if flagged else "signal added" if acting else "untouched",
            real_by=", ".join(_label(r) for r in acting),
            acted=bool(acting),
            visitor_pk=visitor.pk,
            subject_label=visitor.display_name,
            excerpt=f"{kind}: {note}" if note else kind,
        )
    return outcome
