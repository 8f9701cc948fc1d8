"""Demo data: an approved enterprise with owned and flagged numbers, one in flight,
and two weeks of reputation monitoring history kept in step with the sandbox."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.utils import timezone

from remediation import providers, sandbox_reputation, selectors, services
from remediation.choices import CheckFrequency, GateStatus, SpamRisk
from remediation.models import (
    Enterprise,
    OwnedNumber,
    ReputationObservation,
    SandboxNumber,
    SandboxReputation,
)
from trustconsole.core.actor import Actor
from voicegate.policy.owned import enterprise_numbers_changed

# Last digits spread over the sandbox's outcomes (see remediation.sandbox).
HIGH = [f"+1202555{n:04d}" for n in range(140, 150)]
MEDIUM = [f"+1312555{n:04d}" for n in range(170, 178)]
LOW = [f"+1415555{n:04d}" for n in range(100, 112)]
NO_DATA = [f"+1617555{n:04d}" for n in range(100, 104)]


def seed(*, actor: Actor) -> None:
    """Idempotent: does nothing when the organisation already has enterprises."""
    if Enterprise.objects.filter(organisation=actor.organisation).exists():
        return
    clinic = services.enterprise_create(
        actor=actor,
        name="Northwind Dental Group LLC",
        reputation_status=GateStatus.APPROVED,
        loa_status=GateStatus.APPROVED,
        terms_accepted=True,
    )
    for numbers, risk in (
        (HIGH, SpamRisk.HIGH),
        (MEDIUM, SpamRisk.MEDIUM),
        (LOW, SpamRisk.LOW),
        (NO_DATA, None),
    ):
        services.numbers_add(
            actor=actor, enterprise=clinic, phone_numbers=numbers, spam_risk=risk
        )
    # Two flagged numbers were cleared recently: they show the cooldown window.
    OwnedNumber.objects.filter(enterprise=clinic, e164__in=MEDIUM[-2:]).update(
        last_remediated_at=timezone.now() - dt.timedelta(days=12)
    )
    # One request in flight: the worker forwards it to the sandbox once running.
    services.remediation_submit(
        actor=actor,
        enterprise=clinic,
        # Last digits 0, 5, 7, 9: one of each sandbox outcome; the last is cooling.
        phone_numbers=[HIGH[0], HIGH[5], HIGH[7], HIGH[9], MEDIUM[-1]],
        call_purpose="Outbound appointment reminders for our dental clinics.",
        contact_email="ops@northwind-dental.example",
    )
    _seed_monitoring(actor=actor, enterprise=clinic)
    pending = services.enterprise_create(
        actor=actor,
        name="Northwind Telehealth Inc",
        reputation_status=GateStatus.APPROVED,
    )
    services.numbers_add(
        actor=actor,
        enterprise=pending,
        phone_numbers=["+12125550180", "+12125550181"],
        spam_risk=SpamRisk.HIGH,
    )


HISTORY_DAYS = 14


def _seed_monitoring(*, actor: Actor, enterprise: Enterprise) -> None:
    """Monitoring enabled two weeks ago: the sandbox holds the same record and
    numbers, so the first scheduled check continues this history seamlessly."""
    now = timezone.now()
    start = now - dt.timedelta(days=HISTORY_DAYS)
    row = selectors.settings_for(organisation=actor.organisation)
    account = hashlib.sha256(providers.sandbox_api_key(row).encode()).hexdigest()
    SandboxReputation.objects.get_or_create(
        account_key=account,
        enterprise_id=enterprise.upstream_id,
        defaults={
            "loa_document_id": "doc_demo_loa_northwind",
            "check_frequency": CheckFrequency.BUSINESS_DAILY,
            "created_at": start,
        },
    )
    Enterprise.objects.filter(pk=enterprise.pk).update(
        reputation_enabled_at=start,
        loa_document_id="doc_demo_loa_northwind",
        check_frequency=CheckFrequency.BUSINESS_DAILY,
        reputation_synced_at=now - dt.timedelta(hours=20),
        # The worker's first tick checks again, against the sandbox.
        next_sync_at=now + dt.timedelta(minutes=2),
    )
    # Numbers flagged at the provider: high ones 9 days ago (the first two only
    # yesterday: "newly flagged"), medium ones 5 days ago.
    flags: dict[str, tuple[dt.datetime, str]] = {}
    for index, e164 in enumerate(HIGH):
        days = 1 if index in (1, 2) else 9
        flags[e164] = (now - dt.timedelta(days=days, hours=3), SpamRisk.HIGH)
    for e164 in MEDIUM:
        flags[e164] = (now - dt.timedelta(days=5, hours=3), SpamRisk.MEDIUM)
    monitored = [*HIGH, *MEDIUM, *LOW]
    sandbox_rows = []
    for e164 in monitored:
        flagged_at, risk = flags.get(e164, (None, ""))
        sandbox_rows.append(
            SandboxNumber(
                account_key=account,
                enterprise_id=enterprise.upstream_id,
                e164=e164,
                registered_at=start,
                flagged_at=flagged_at,
                flag_risk=risk,
                flag_category="robocall" if risk else "",
            )
        )
    SandboxNumber.objects.bulk_create(sandbox_rows, ignore_conflicts=True)
    numbers = {
        n.e164: n
        for n in OwnedNumber.objects.filter(enterprise=enterprise, e164__in=monitored)
    }
    observations = []
    for sandbox_row in sandbox_rows:
        number = numbers[sandbox_row.e164]
        latest = None
        for day in range(1, HISTORY_DAYS + 1):
            at = start + dt.timedelta(days=day)
            if at > now:
                break
            data = sandbox_reputation.reputation_data(sandbox_row, at)
            if data is None:
                continue
            latest = (at, data)
            observations.append(
                ReputationObservation(
                    organisation=actor.organisation,
                    enterprise=enterprise,
                    number=number,
                    observed_at=at,
                    source="scheduled",
                    data=data,
                    spam_risk=data["spam_risk"],
                    spam_category=data["spam_category"],
                    maturity_score=data["maturity_score"],
                    connection_score=data["connection_score"],
                    engagement_score=data["engagement_score"],
                    sentiment_score=data["sentiment_score"],
                    last_refreshed_at=sandbox_reputation.observed_at(sandbox_row, at),
                )
            )
        if latest is not None:
            at, data = latest
            number.spam_risk = data["spam_risk"]
            number.spam_category = data["spam_category"] or ""
            number.spam_risk_checked_at = at
            number.reputation_refreshed_at = at
        number.registered_at = start
        flagged = flags.get(number.e164)
        number.elevated_at = flagged[0] if flagged else None
    ReputationObservation.objects.bulk_create(observations, batch_size=500)
    enterprise_numbers_changed(enterprise.organisation_id)
    OwnedNumber.objects.bulk_update(
        numbers.values(),
        [
            "spam_risk",
            "spam_category",
            "spam_risk_checked_at",
            "reputation_refreshed_at",
            "registered_at",
            "elevated_at",
        ],
    )
