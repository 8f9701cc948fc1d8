"""Continuous review: anomalies in an organisation's usage become signals."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from accounts import risk
from accounts.choices import AccountStatus, SignalSource, SignalType
from accounts.models import Account, AccountNumber, AccountSettings, AccountUsageDay
from accounts.selectors import account_rule_facts, account_settings_for
from accounts.services.signals import account_signal_add
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.rules import hooks as rule_hooks
from trustconsole.rules.facts import RuleChannel


def _recent_signal(account: Account, signal_type: str, since: dt.datetime) -> bool:
    return account.signals.filter(
        signal_type=signal_type, created_at__gte=since
    ).exists()


def account_review_run(
    *, organisation: Organisation, today: dt.date | None = None
) -> list[str]:
    """Scan the organisation's active accounts for anomalies; restrict what fires.

    Anomalies (thresholds from AccountSettings): many numbers without proportionate
    outbound usage, carrier complaints, and a day's volume far above the account's
    own daily average. Returns the public ids of the accounts restricted.
    """
    actor = Actor.system_for(organisation, "accounts continuous review")
    config = account_settings_for(organisation=organisation)
    today = today or timezone.localdate()
    window_start = today - dt.timedelta(days=config.review_window_days - 1)
    history_start = today - dt.timedelta(days=config.spike_history_days)
    accounts = {
        a.pk: a
        for a in Account.objects.filter(
            organisation=organisation, status=AccountStatus.ACTIVE
        ).select_related("organisation")
    }
    if not accounts:
        return []
    numbers: dict[int, int] = defaultdict(int)
    for account_id in AccountNumber.objects.filter(account_id__in=accounts).values_list(
        "account_id", flat=True
    ):
        numbers[account_id] += 1
    usage: dict[int, list[AccountUsageDay]] = defaultdict(list)
    for row in AccountUsageDay.objects.filter(
        account_id__in=accounts,
        day__gte=min(window_start, history_start),
        day__lte=today,
    ):
        usage[row.account_id].append(row)

    restricted: list[str] = []
    since = timezone.now() - dt.timedelta(days=config.review_window_days)
    for account_id, account in accounts.items():
        findings = _anomalies(
            config=config,
            numbers=numbers[account_id],
            rows=usage[account_id],
            today=today,
            window_start=window_start,
        )
        for signal_type, weight, note in findings:
            if _recent_signal(account, signal_type, since):
                continue
            with transaction.atomic():
                account_signal_add(
                    actor=actor,
                    account=account,
                    signal_type=signal_type,
                    weight=weight,
                    source=SignalSource.CONTINUOUS_REVIEW,
                    note=note,
                )
        _review_rules(organisation, account, today)
        if account.status == AccountStatus.RESTRICTED:
            restricted.append(str(account.public_id))
    rule_hooks.flush()  # a run is a batch: its hit counts and matches go now
    return restricted


def _review_rules(organisation: Organisation, account: Account, today: dt.date) -> None:
    """The organisation's usage-review rules (trustconsole.rules) on one account:
    a live rule may hold or restrict it; shadow rules are only logged."""
    outcome = rule_hooks.account_event(
        organisation_id=organisation.pk,
        channel=RuleChannel.ACCOUNT_REVIEW,
        facts=lambda: account_rule_facts(account=account, today=today),
    )
    if outcome is None:
        return
    if outcome.live:
        with transaction.atomic():
            rule_hooks.account_effects(
                actor=Actor.system_for(organisation, "usage review rules"),
                account=account,
                outcome=outcome,
                why=f"usage review of {today:%Y-%m-%d}.",
            )
    rule_hooks.account_matched(
        channel=RuleChannel.ACCOUNT_REVIEW, account=account, outcome=outcome
    )


def _anomalies(
    *,
    config: AccountSettings,
    numbers: int,
    rows: list[AccountUsageDay],
    today: dt.date,
    window_start: dt.date,
) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    window = [r for r in rows if r.day >= window_start]
    outbound = sum(r.outbound_calls + r.outbound_sms for r in window)
    complaints = sum(r.carrier_complaints for r in window)
    days = config.review_window_days
    if (
        numbers >= config.numbers_min_for_usage_check
        and outbound < numbers * config.min_outbound_per_number
    ):
        found.append(
            (
                SignalType.NUMBERS_WITHOUT_USAGE,
                risk.HIGH,
                f"{numbers} numbers owned but only {outbound} outbound calls/SMS "
                f"in {days} days.",
            )
        )
    if complaints >= config.complaints_threshold:
        found.append(
            (
                SignalType.CARRIER_COMPLAINTS,
                risk.EXTREME,
                f"{complaints} carrier complaint(s) in {days} days.",
            )
        )
    latest = max((r for r in rows if r.day >= today - dt.timedelta(days=1)),
                 key=lambda r: r.day, default=None)  # fmt: skip
    if latest is not None:
        history = [r for r in rows if r.day < latest.day]
        # Too little history to know what is normal for this account.
        if len(history) >= 3:
            for label, value, past in (
                ("calls", latest.outbound_calls, [r.outbound_calls for r in history]),
                ("SMS", latest.outbound_sms, [r.outbound_sms for r in history]),
            ):
                average = sum(past) / config.spike_history_days
                if (
                    value >= config.spike_min_volume
                    and value >= config.spike_factor * max(average, 1)
                ):
                    found.append(
                        (
                            SignalType.VOLUME_SPIKE,
                            risk.MEDIUM,
                            f"{value} outbound {label} on {latest.day} against a "
                            f"daily average of {average:.0f}.",
                        )
                    )
                    break
    return found
