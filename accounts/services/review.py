"""Continuous review: the usage-review rules turn anomalies in usage into signals."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.choices import AccountStatus, SignalSource
from accounts.models import Account, AccountNumber, AccountSettings, AccountUsageDay
from accounts.selectors import account_rule_facts, account_settings_for
from accounts.services.signals import account_signal_add
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.rules import hooks as rule_hooks
from trustconsole.rules.effects_accounts import account_signals_of
from trustconsole.rules.facts import RuleChannel


def _recent_signal(account: Account, signal_type: str, since: dt.datetime) -> bool:
    # An expired signal no longer stands for the anomaly: a new one may be added.
    return (
        account.signals.active()
        .filter(signal_type=signal_type, created_at__gte=since)
        .exists()
    )


def account_review_run(
    *, organisation: Organisation, today: dt.date | None = None
) -> list[str]:
    """Run the organisation's usage-review rules on each active account.

    The default rule set's anomalies (thresholds from AccountSettings, read as
    `review` facts): many numbers without proportionate outbound usage, carrier
    complaints, and a day's calls or SMS far above the account's own daily
    average; each adds its signal, whose restriction rule may restrict the
    account. Returns the public ids of the accounts restricted.
    """
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
        found = review_facts(
            config=config,
            rows=usage[account_id],
            today=today,
            window_start=window_start,
        )
        _review_rules(
            organisation,
            account,
            today,
            config=config,
            numbers=numbers[account_id],
            found=found,
            since=since,
        )
        if account.status == AccountStatus.RESTRICTED:
            restricted.append(str(account.public_id))
    rule_hooks.flush()  # a run is a batch: its hit counts and matches go now
    return restricted


def _review_rules(  # noqa: PLR0913
    organisation: Organisation,
    account: Account,
    today: dt.date,
    *,
    config: AccountSettings,
    numbers: int,
    found: dict[str, Any],
    since: dt.datetime,
) -> None:
    """The organisation's usage-review rules (trustconsole.rules) on one account:
    the default rule set's anomaly rules add their signals (not again while one of
    the type is younger than the review window), then a live rule may hold or
    restrict it; shadow rules are only logged."""
    outcome = rule_hooks.account_event(
        organisation_id=organisation.pk,
        channel=RuleChannel.ACCOUNT_REVIEW,
        facts=lambda: account_rule_facts(
            account=account, today=today, config=config, numbers_owned=numbers
        ),
        more={"review": found},
    )
    if outcome is None:
        return
    actor = Actor.system_for(organisation, "accounts continuous review")
    for finding in account_signals_of(outcome):
        if _recent_signal(account, finding.signal_type, since):
            continue
        with transaction.atomic():
            account_signal_add(
                actor=actor,
                account=account,
                signal_type=finding.signal_type,
                weight=finding.weight,
                source=SignalSource.CONTINUOUS_REVIEW,
                note=finding.note,
                expires_at=finding.expires_at,
            )
    if any(r.effect.get("account") for r in outcome.live):
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


def review_facts(
    *,
    config: AccountSettings,
    rows: list[AccountUsageDay],
    today: dt.date,
    window_start: dt.date,
) -> dict[str, Any]:
    """The `review` facts of one account (`trustconsole.rules.facts_accounts`):
    its usage in the review window, its latest day against its own daily average,
    and the organisation's review settings. `rows`: its usage days from the
    earlier of the window's and the average's first day up to `today`."""
    window = [r for r in rows if r.day >= window_start]
    out: dict[str, Any] = {
        "window_days": config.review_window_days,
        "outbound": sum(r.outbound_calls + r.outbound_sms for r in window),
        "complaints": sum(r.carrier_complaints for r in window),
        "latest_day": "",
        "history_days": 0,
        "numbers_min_for_usage_check": config.numbers_min_for_usage_check,
        "min_outbound_per_number": config.min_outbound_per_number,
        "complaints_threshold": config.complaints_threshold,
        "spike_factor": float(config.spike_factor),
        "spike_min_volume": config.spike_min_volume,
        "spike_history_days": config.spike_history_days,
    }
    latest = max((r for r in rows if r.day >= today - dt.timedelta(days=1)),
                 key=lambda r: r.day, default=None)  # fmt: skip
    history = [r for r in rows if latest is not None and r.day < latest.day]
    for name, field in (("calls", "outbound_calls"), ("sms", "outbound_sms")):
        value = getattr(latest, field) if latest is not None else 0
        average = sum(getattr(r, field) for r in history) / config.spike_history_days
        out[f"{name}_latest"] = value
        out[f"{name}_average"] = int(f"{average:.0f}")
        out[f"{name}_ratio"] = value / max(average, 1)
    if latest is not None:
        out["latest_day"] = latest.day.isoformat()
        out["history_days"] = len(history)
    return out
