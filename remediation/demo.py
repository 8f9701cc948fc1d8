"""Demo data: an approved enterprise with owned and flagged numbers, one in flight."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from remediation import services
from remediation.choices import GateStatus, SpamRisk
from remediation.models import Enterprise, OwnedNumber
from trustconsole.core.actor import Actor

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
