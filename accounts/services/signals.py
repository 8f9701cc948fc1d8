"""Risk signals and the rule table that turns their weights into restrictions."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from accounts.choices import (
    ALL_SERVICES,
    AccountStatus,
    Service,
    SignalSource,
    SignalType,
)
from accounts.models import Account, AccountSignal
from accounts.services.common import ACT
from accounts.services.status import account_restrict
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record


@dataclass(frozen=True)
class RestrictionRule:
    """When the weights of one signal type add up to `min_weight`, restrict services."""

    min_weight: int
    services: tuple[str, ...]


# Automatic restrictions of customer accounts, by signal type: once the weights of
# one type add up to `min_weight`, these services are restricted. (The chat and call
# side's event rules are `visitors.rules`.) The outbound call policy check adds
# OUTBOUND_DENIALS signals (Low, +10 each): four repeated denials restrict voice.
RESTRICTION_RULES: dict[str, RestrictionRule] = {
    SignalType.CARRIER_COMPLAINTS: RestrictionRule(40, (Service.SMS, Service.VOICE)),
    SignalType.NUMBERS_WITHOUT_USAGE: RestrictionRule(40, (Service.NUMBERS,)),
    SignalType.VOLUME_SPIKE: RestrictionRule(20, (Service.SMS, Service.VOICE)),
    SignalType.PAYMENT_FLAGGED: RestrictionRule(70, ALL_SERVICES),
    SignalType.PHISHING_SPAM: RestrictionRule(40, ALL_SERVICES),
    SignalType.OUTBOUND_DENIALS: RestrictionRule(40, (Service.VOICE,)),
}


def _refresh_score(account: Account) -> None:
    total = account.signals.aggregate(total=Sum("weight"))["total"] or 0
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
    apply_rules: bool = True,
) -> AccountSignal:
    """Record a risk signal on an account and apply the restriction rule of its type.

    The account's risk score is the sum of its signal weights. With `apply_rules`,
    once the weights of this type reach the rule's threshold, the rule's services are
    restricted (customer emailed) with the signals as the recorded reason.
    """
    actor.require(*ACT)
    if signal_type not in SignalType.values:
        raise ValidationError({"signal_type": f"Unknown signal type {signal_type!r}."})
    if source not in SignalSource.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        raise ValidationError({"weight": "A weight is a whole number from 1 to 100."})
    signal = AccountSignal(
        organisation=account.organisation,
        account=account,
        signal_type=signal_type,
        weight=weight,
        source=source,
        note=(note or "").strip(),
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
        },
        reason=signal.note,
    )
    rule = RESTRICTION_RULES.get(signal_type)
    if apply_rules and rule is not None:
        _apply_rule(actor=actor, account=account, signal=signal, rule=rule)
    return signal


def _apply_rule(
    *, actor: Actor, account: Account, signal: AccountSignal, rule: RestrictionRule
) -> None:
    if account.status not in (AccountStatus.ACTIVE, AccountStatus.RESTRICTED):
        return
    total = (
        account.signals.filter(signal_type=signal.signal_type).aggregate(
            total=Sum("weight")
        )["total"]
        or 0
    )
    if total < rule.min_weight:
        return
    if account.status == AccountStatus.RESTRICTED and set(rule.services) <= set(
        account.restricted_services
    ):
        return
    account_restrict(
        actor=actor,
        account=account,
        services=rule.services,
        reason=(
            f"Automatic rule: {signal.get_signal_type_display()} "
            f"(weight {total} ≥ {rule.min_weight}). {signal.note}"
        ).strip(),
        decided_by=f"the restriction rule for {signal.get_signal_type_display()}",
    )
