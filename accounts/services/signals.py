"""Risk signals, and the account-signal rules that turn their weights into
restrictions (the default rule set's, `trustconsole.rules.defaults_accounts`)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.choices import (
    SignalSource,
    SignalType,
)
from accounts.models import Account, AccountSignal
from accounts.services.common import ACT
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record

EXPIRY_BATCH = 500


def _refresh_score(account: Account) -> None:
    total = account.signals.active().aggregate(total=Sum("weight"))["total"] or 0
    Account.objects.filter(pk=account.pk).update(risk_score=total)
    account.risk_score = total


@transaction.atomic
def account_signal_add(
    *,
    actor: Actor,
    account: Account,
    signal_type: str,
    weight: int,
    source: str,
    note: str = "",
    expires_at: dt.datetime | None = None,
    apply_rules: bool = True,
) -> AccountSignal:
    """Record a risk signal on an account and run the account-signal rules on it.

    The account's risk score is the sum of its live signals' weights; a signal
    with `expires_at` stops counting then (`account_signals_expire_due` recomputes
    the score and audits it). With `apply_rules`,
    the organisation's account-signal rules run: the default rule set's restriction
    rule of this type restricts its services (customer emailed) once the weights of
    the type reach its threshold, with the rule and the signals as the reason.
    """
    actor.require(*ACT)
    if signal_type not in SignalType.values:
        raise ValidationError({"signal_type": f"Unknown signal type {signal_type!r}."})
    if source not in SignalSource.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        raise ValidationError({"weight": "A weight is a whole number from 1 to 100."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "An expiry must be in the future."})
    signal = AccountSignal(
        organisation=account.organisation,
        account=account,
        signal_type=signal_type,
        weight=weight,
        source=source,
        note=(note or "").strip(),
        expires_at=expires_at,
    )
    signal.full_clean()
    signal.save()
    before_score = account.risk_score
    _refresh_score(account)
    audit_record(
        actor=actor,
        action="account.signal_add",
        target=account,
        before={"risk_score": before_score},
        after={
            "risk_score": account.risk_score,
            "signal_type": signal_type,
            "weight": weight,
            "source": source,
            **({"expires_at": expires_at.isoformat()} if expires_at else {}),
        },
        reason=signal.note,
    )
    if apply_rules:
        _signal_rules(actor=actor, account=account, signal=signal)
    return signal


def _signal_rules(*, actor: Actor, account: Account, signal: AccountSignal) -> None:
    """The organisation's account-signal rules on the signal just added (the
    default rule set's restriction rules: once the weights of one type add up to
    their threshold, restrict services); shadow rules are only logged. A hold or
    restriction is made by the actor who added the signal, the rule and version
    named as its reason."""
    from accounts.selectors import account_rule_facts
    from trustconsole.rules import hooks as rule_hooks
    from trustconsole.rules.facts import RuleChannel

    found = (
        account.signals.active()
        .filter(signal_type=signal.signal_type)
        .aggregate(total=Sum("weight"), count=Count("id"))
    )
    outcome = rule_hooks.account_event(
        organisation_id=account.organisation_id,
        channel=RuleChannel.ACCOUNT_SIGNAL,
        facts=lambda: account_rule_facts(account=account),
        more={
            "signal": {
                "type": signal.signal_type,
                "weight": signal.weight,
                "source": signal.source,
                "note": signal.note,
                "type_total": found["total"] or 0,
                "type_count": found["count"] or 0,
            }
        },
    )
    label = signal.get_signal_type_display()
    rule_hooks.account_effects(
        actor=actor,
        account=account,
        outcome=outcome,
        why=(f"{label} signals add up to {found['total'] or 0}. {signal.note}").strip(),
    )
    rule_hooks.account_matched(
        channel=RuleChannel.ACCOUNT_SIGNAL, account=account, outcome=outcome
    )


def account_signals_expire_due(*, now: dt.datetime | None = None) -> int:
    """Beat: for signals whose expiry has passed and is not yet recorded, recompute
    their accounts' risk scores and audit each expiry (once; in batches)."""
    now = now or timezone.now()
    recorded = 0
    while True:
        batch = list(
            AccountSignal.objects.filter(
                expiry_recorded_at__isnull=True, expires_at__lte=now
            )
            .order_by("expires_at", "pk")
            .values_list("pk", "account_id")[:EXPIRY_BATCH]
        )
        if not batch:
            return recorded
        for account_id in sorted({account_id for _, account_id in batch}):
            ids = [pk for pk, owner in batch if owner == account_id]
            recorded += _expire_for_account(account_id, ids, now)


@transaction.atomic
def _expire_for_account(
    account_id: int, signal_ids: list[int], now: dt.datetime
) -> int:
    account = (
        Account.objects.select_for_update()
        .select_related("organisation")
        .filter(pk=account_id)
        .first()
    )
    if account is None:
        return 0
    # Claimed in one UPDATE: a second run (or a second worker) finds nothing to do.
    signals = list(
        AccountSignal.objects.filter(pk__in=signal_ids, expiry_recorded_at__isnull=True)
    )
    claimed = AccountSignal.objects.filter(
        pk__in=[s.pk for s in signals], expiry_recorded_at__isnull=True
    ).update(expiry_recorded_at=now)
    if not claimed:
        return 0
    before_score = account.risk_score
    _refresh_score(account)
    actor = Actor.system_for(account.organisation, "account signal expiry")
    for signal in signals:
        audit_record(
            actor=actor,
            action="account.signal_expire",
            target=account,
            before={"risk_score": before_score},
            after={
                "risk_score": account.risk_score,
                "signal_type": signal.signal_type,
                "weight": signal.weight,
                "expires_at": signal.expires_at.isoformat()
                if signal.expires_at
                else None,
            },
            reason=signal.note,
        )
    return claimed
