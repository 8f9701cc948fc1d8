"""The outbound check as a write: count an allowed call, log a denial, keep every
check in the check log (`checklog`, for backtests), and raise an account risk
signal after repeated denials."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from trustconsole.core.actor import Actor
from trustconsole.rules import hooks as rule_hooks
from voicegate.policy import check, checklog, keys
from voicegate.policy.choices import Violation
from voicegate.policy.models import OutboundDenial
from voicegate.policy.services.common import ACT

logger = logging.getLogger(__name__)


def outbound_check(
    *,
    actor: Actor,
    from_number: str,
    to_number: str,
    account: str | None = None,
    region: str | None = None,
) -> check.CheckOutcome:
    """Check a proposed outbound call; count it if allowed, log it if denied.

    Invalid numbers raise ValidationError naming `from` or `to`; an account of
    another organisation is a 404.
    """
    actor.require(*ACT)
    request = check.check_request_parse(
        from_number=from_number, to_number=to_number, account_id=account, region=region
    )
    outcome = check.check_evaluate(actor=actor, request=request)
    snap = outcome.snapshot
    assert snap is not None
    _rules_counted(actor, outcome)
    # Every check, allowed or refused, for the outbound rules' backtests (in
    # memory; written in bulk every few seconds).
    checklog.record(outcome, organisation_id=actor.organisation.pk)
    checklog.flush_due()
    _rule_account_signals(actor, outcome)
    if outcome.allowed:
        # On Redis the call was already counted in the check's one round trip.
        if request.to_e164 is not None and snap.cache_ok and not snap.counted:
            _count_call(actor, outcome)
        return outcome
    if snap.counted:
        try:
            keys.counter_decr(snap.counted)
        except Exception:
            logger.exception("policy check: could not take back a refused call")
    _denial_log(actor=actor, outcome=outcome)
    rule_hooks.outbound_denied(actor.organisation.pk, outcome.caller_key)
    _rule_account_effects(actor, outcome)
    return outcome


def _rules_counted(actor: Actor, outcome: check.CheckOutcome) -> None:
    """The rules' hits and counts, and their matches in the match log next to the
    real decision (nothing when no rule ran or matched: no query either way)."""
    rules = outcome.rules
    if rules is None:
        return
    request = outcome.request
    decided = rules.decided_by
    refused_by = ""
    if not outcome.allowed:
        refused_by = (
            f"rule {decided.name} (version {decided.version})"
            if decided is not None
            else "; ".join(f.detail for f in outcome.findings[:2])
        )
    rule_hooks.outbound_counted(
        rules,
        allowed=outcome.allowed,
        organisation_id=actor.organisation.pk,
        number=request.to_e164 or request.to_raw[:64],
        caller=request.from_e164,
        codes=[f.code for f in outcome.findings],
        refused_by=refused_by,
        account_pk=outcome.account.pk if outcome.account else None,
    )


def _rule_account_effects(actor: Actor, outcome: check.CheckOutcome) -> None:
    """Holds and restrictions of the live outbound rules that matched (the call
    itself is already refused by them)."""
    rules, copy = outcome.rules, outcome.account
    if (
        rules is None
        or copy is None
        or not any(r.effect.get("account") for r in rules.live)
    ):
        return
    from accounts.models import Account

    account = Account.objects.select_related("organisation").get(pk=copy.pk)
    request = outcome.request
    rule_hooks.account_effects(
        actor=Actor.system_for(actor.organisation, "outbound call rules"),
        account=account,
        outcome=rules,
        why=f"outbound call {request.from_e164} → {request.to_e164 or request.to_raw}.",
    )


def _rule_account_signals(actor: Actor, outcome: check.CheckOutcome) -> None:
    """The account signals of the live outbound rules that matched (allowed call
    or not), through the accounts services."""
    rules, copy = outcome.rules, outcome.account
    if (
        rules is None
        or copy is None
        or not any(r.effect.get("account_signal") for r in rules.live)
    ):
        return
    from accounts.choices import SignalSource
    from accounts.models import Account
    from accounts.services import account_signal_add
    from trustconsole.rules.effects_accounts import account_signals_of

    account = Account.objects.select_related("organisation").get(pk=copy.pk)
    for found in account_signals_of(rules):
        account_signal_add(
            actor=Actor.system_for(actor.organisation, "outbound call rules"),
            account=account,
            signal_type=found.signal_type,
            weight=found.weight,
            source=SignalSource.OUTBOUND_CHECK,
            note=found.note,
            expires_at=found.expires_at,
        )


def _count_call(actor: Actor, outcome: check.CheckOutcome) -> None:
    snap = outcome.snapshot
    assert snap is not None  # outbound_check returned earlier without one
    key = keys.harassment_key(
        str(actor.organisation.public_id),
        outcome.caller_key,
        outcome.request.to_e164 or "",
    )
    try:
        keys.counter_incr(key, timeout=snap.settings.harassment_window_seconds)
    except Exception:
        logger.exception("policy check: could not count an allowed call")


def _denial_log(*, actor: Actor, outcome: check.CheckOutcome) -> OutboundDenial:
    """Keep the denial with its violations; repeated denials raise a risk signal.

    The row is one INSERT, committed before the answer (the record of refusals
    is durable); the count and the refused-call rules come after it, each write
    of theirs in its own transaction (a rule that fails cannot take the record
    of the refusal with it)."""
    request = outcome.request
    account = outcome.account
    codes = [f.code for f in outcome.findings]
    denial = OutboundDenial.objects.create(
        organisation=actor.organisation,
        account_id=account.pk if account else None,
        from_number=request.from_e164,
        to_number=request.to_e164 or request.to_raw[:64],
        violations=[f.as_dict() for f in outcome.findings],
        explanation=[f.explanation() for f in outcome.findings],
        codes=",".join(codes)[:200],
        requested_by=actor.label[:200],
    )
    logger.info(
        "outbound call refused: %s → %s (%s)",
        request.from_e164,
        denial.to_number,
        denial.codes,
    )
    # A restricted account is refused every call: that alone is not a new offence.
    if account is not None and set(codes) != {Violation.ACCOUNT_RESTRICTED}:
        _denials_count(actor=actor, outcome=outcome)
    return denial


def _denials_count(*, actor: Actor, outcome: check.CheckOutcome) -> None:
    snap = outcome.snapshot
    account = outcome.account
    assert snap is not None and account is not None  # see _denial_log
    rules = snap.settings
    key = keys.denials_key(str(actor.organisation.public_id), account.public_id)
    try:
        count, codes = keys.denial_counted(
            key,
            [f.code for f in outcome.findings],
            timeout=rules.denial_window_seconds,
        )
    except Exception:
        logger.exception("policy check: could not count a denial")
        return
    added = denial_rules_run(
        organisation=actor.organisation,
        account_pk=account.pk,
        count=count,
        codes=codes,
        threshold=rules.denial_threshold,
        window_seconds=rules.denial_window_seconds,
        weight=rules.denial_signal_weight,
        restrict=rules.auto_restrict_voice,
    )
    if added:  # the count starts again once the denials gave their signal
        keys.denials_reset(key)


def denial_rules_run(  # noqa: PLR0913
    *,
    organisation: Any,
    account_pk: int,
    count: int,
    codes: Sequence[str],
    threshold: int,
    window_seconds: int,
    weight: int,
    restrict: bool,
) -> list[Any]:
    """The organisation's refused-call rules on an account's `count`-th refusal in
    the denial window, `codes` the violation codes of those refusals (the default
    rule set's "Repeated outbound denials": at the threshold, an OUTBOUND_DENIALS
    signal at the policy's level). Signals go
    through the accounts services; with `restrict` (the policy's automatic voice
    restriction) the account-signal rules run on them, so the restriction rule may
    restrict voice and email the customer. The signals added."""
    from accounts.choices import SignalSource
    from accounts.models import Account
    from accounts.selectors import account_rule_facts
    from accounts.services import account_signal_add
    from trustconsole.policy.vocabulary import DEFAULT_WEIGHTS
    from trustconsole.rules.effects_accounts import account_signals_of
    from trustconsole.rules.facts import RuleChannel

    loaded: list[Account] = []

    def account() -> Account:
        """The account, read once and only when a rule needs it (its facts, or a
        match to act on and log): the common refusal matches no rule."""
        if not loaded:
            loaded.append(
                Account.objects.select_related("organisation").get(pk=account_pk)
            )
        return loaded[0]

    level = {w: name for name, w in DEFAULT_WEIGHTS.items()}.get(weight, "low")
    window = check.window_text(window_seconds)
    outcome = rule_hooks.account_event(
        organisation_id=organisation.pk,
        channel=RuleChannel.OUTBOUND_DENIAL,
        facts=lambda: account_rule_facts(account=account()),
        more={
            "denials": {
                "count": count,
                "threshold": threshold,
                "window_seconds": window_seconds,
                "window": window,
                "codes": sorted(codes),
                "signal_level": level,
            }
        },
    )
    if outcome is None or not outcome.matched:
        return []  # nothing to add, apply or log
    actor = Actor.system_for(organisation, "outbound policy check")
    added = [
        account_signal_add(
            actor=actor,
            account=account(),
            signal_type=found.signal_type,
            weight=found.weight,
            source=SignalSource.OUTBOUND_CHECK,
            note=found.note,
            expires_at=found.expires_at,
            apply_rules=restrict,
        )
        for found in account_signals_of(outcome)
    ]
    rule_hooks.account_effects(
        actor=Actor.system_for(organisation, "refused call rules"),
        account=account(),
        outcome=outcome,
        why=f"{count} outbound calls refused within {window}.",
    )
    rule_hooks.account_matched(
        channel=RuleChannel.OUTBOUND_DENIAL, account=account(), outcome=outcome
    )
    return added
