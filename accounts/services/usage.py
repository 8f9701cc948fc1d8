"""The usage feed and the account's owned numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import risk
from accounts.choices import SignalSource, SignalType
from accounts.models import Account, AccountNumber, AccountUsageDay
from accounts.services.common import ACT, account_numbers_changed
from accounts.services.signals import account_signal_add
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from trustconsole.lib.confirm import reason_required
from trustconsole.lib.phones import PhoneNumberError, phone_normalise


@transaction.atomic
def account_usage_record(
    *,
    actor: Actor,
    account: Account,
    day: dt.date,
    numbers_bought: int = 0,
    outbound_calls: int = 0,
    outbound_sms: int = 0,
    carrier_complaints: int = 0,
    payment_flagged: bool | None = None,
) -> AccountUsageDay:
    """Store one day's usage totals (a repeated report replaces the day's figures)."""
    actor.require(*ACT)
    counters = {
        "numbers_bought": numbers_bought,
        "outbound_calls": outbound_calls,
        "outbound_sms": outbound_sms,
        "carrier_complaints": carrier_complaints,
    }
    for name, value in counters.items():
        if not isinstance(value, int) or value < 0:
            raise ValidationError({name: "A count is a whole number, 0 or more."})
    row, _ = AccountUsageDay.objects.update_or_create(
        account=account, day=day, defaults=counters
    )
    audit_record(
        actor=actor,
        action="account.usage_record",
        target=account,
        after={"day": day.isoformat(), **counters, "payment_flagged": payment_flagged},
    )
    if payment_flagged and not account.payment_flagged:
        Account.objects.filter(pk=account.pk).update(payment_flagged=True)
        account.payment_flagged = True
        account_signal_add(
            actor=actor,
            account=account,
            signal_type=SignalType.PAYMENT_FLAGGED,
            weight=risk.EXTREME,
            source=SignalSource.USAGE_FEED,
            note="The payment provider flagged a payment.",
        )
    return row


@transaction.atomic
def account_numbers_add(
    *, actor: Actor, account: Account, numbers: Sequence[str]
) -> list[str]:
    """Add owned phone numbers (normalised to E.164) to an account.

    Numbers without `+` are read in PHONE_DEFAULT_REGION, as everywhere else.
    """
    actor.require(*ACT)
    if not numbers:
        raise ValidationError({"numbers": "Give at least one number."})
    clean: list[str] = []
    for index, raw in enumerate(numbers):
        try:
            clean.append(phone_normalise(str(raw)))
        except PhoneNumberError as exc:
            raise ValidationError(
                {f"numbers.{index}": f"{str(raw)!r} {exc.reason}."}
            ) from None
    taken = set(
        AccountNumber.objects.filter(organisation=account.organisation, e164__in=clean)
        .exclude(account=account)
        .values_list("e164", flat=True)
    )
    if taken:
        raise ValidationError(
            {"numbers": f"Owned by another account: {', '.join(sorted(taken))}."}
        )
    have = set(account.numbers.values_list("e164", flat=True))
    new = sorted(set(clean) - have)
    AccountNumber.objects.bulk_create(
        AccountNumber(organisation=account.organisation, account=account, e164=n)
        for n in new
    )
    if new:
        audit_record(
            actor=actor,
            action="account.numbers_add",
            target=account,
            after={"added": new},
        )
        account_numbers_changed(account)
    return new


@transaction.atomic
def account_numbers_remove(
    *, actor: Actor, account: Account, numbers: Sequence[str], reason: str
) -> list[str]:
    """Remove owned phone numbers from an account (each must be one of its own);
    the reason is required (trustconsole/lib/confirm.py)."""
    actor.require(*ACT)
    reason = reason_required(reason)
    if not numbers:
        raise ValidationError({"numbers": "Choose at least one number."})
    owned = set(account.numbers.values_list("e164", flat=True))
    unknown = sorted(set(numbers) - owned)
    if unknown:
        raise ValidationError(
            {"numbers": f"Not a number of this account: {', '.join(unknown)}."}
        )
    removed = sorted(set(numbers))
    account.numbers.filter(e164__in=removed).delete()
    audit_record(
        actor=actor,
        action="account.numbers_remove",
        target=account,
        before={"numbers": sorted(owned)},
        after={"numbers": sorted(owned - set(removed)), "removed": removed},
        reason=reason,
    )
    account_numbers_changed(account)
    return removed
