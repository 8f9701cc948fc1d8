"""Demo customer accounts in every status and a review queue with overdue items."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from accounts import services
from accounts.business_days import add_business_days
from accounts.choices import SignalSource, SignalType
from accounts.models import Account, ReassessmentRequest
from accounts.services import EvidenceInput
from trustconsole.core.actor import Actor

LINK = "https://www.linkedin.com/company/example"


def _request(actor: Actor, account: Account, *, age_days: int) -> None:
    """A request as if submitted `age_days` ago (due dates follow the submission)."""
    request = services.reassessment_submit(
        actor=actor,
        account=account,
        data={
            "company_name": account.company_name,
            "company_website": account.website or "https://example.com",
            "use_case": "OTP and order tracking",
            "services_wanted": ["sms", "voice"],
            "sample_message": "Your verification code is 482913",
            "destination_countries": ["GB", "US"],
            "estimated_units_per_month": 25000,
            "estimated_spend_per_month": "600.00",
        },
        evidence=[EvidenceInput(kind="profile_page", url=LINK)],
    )
    submitted = timezone.now() - dt.timedelta(days=age_days)
    day = timezone.localdate(submitted)
    ReassessmentRequest.objects.filter(pk=request.pk).update(
        submitted_at=submitted,
        warn_on=add_business_days(day, services.WARN_BUSINESS_DAYS),
        due_on=add_business_days(day, services.DUE_BUSINESS_DAYS),
    )


def seed(*, actor: Actor) -> None:
    """Idempotent: does nothing when the organisation already has accounts."""
    if Account.objects.filter(organisation=actor.organisation).exists():
        return
    create = services.account_create
    create(
        actor=actor,
        company_name="Northwind Logistics",
        email="ops@northwind.example",
        website="https://northwind.example",
        country="GB",
        balance=Decimal("250.00"),
    )
    held = [
        create(
            actor=actor,
            company_name=name,
            email=email,
            website=site,
            country="US",
        )
        for name, email, site in (
            ("Quick Leads", "boss@mailinator.com", "https://quick-leads.example"),
            ("Bright OTP", "founder@yopmail.com", "https://bright-otp.example"),
            ("Parcel Ping", "hello@trashmail.com", "https://parcelping.example"),
            ("Acme Alerts", "team@tempmail.com", "https://acme-alerts.example"),
        )
    ]
    _request(actor, held[0], age_days=12)  # overdue
    _request(actor, held[1], age_days=11)  # overdue
    _request(actor, held[2], age_days=1)  # on time
    _request(actor, held[3], age_days=7)  # due soon or overdue, by weekday
    restricted = create(
        actor=actor,
        company_name="Volume Voice",
        email="noc@volumevoice.example",
        website="https://volumevoice.example",
        country="DE",
    )
    services.account_numbers_add(
        actor=actor,
        account=restricted,
        numbers=[f"+4930901820{n:02d}" for n in range(12)],
    )
    services.account_signal_add(
        actor=actor,
        account=restricted,
        signal_type=SignalType.NUMBERS_WITHOUT_USAGE,
        weight=40,
        source=SignalSource.CONTINUOUS_REVIEW,
        note="12 numbers owned but only 0 outbound calls/SMS in 7 days.",
    )
    blocked = create(
        actor=actor,
        company_name="Cold Call Co",
        email="sales@coldcall.example",
        website="https://coldcall.example",
        country="US",
    )
    services.account_block(
        actor=actor, account=blocked, reason="End-user complaints about robocalls"
    )
    closed = create(
        actor=actor,
        company_name="Prize Winner SMS",
        email="win@prizewinner.example",
        website="https://prizewinner.example",
        country="US",
        balance=Decimal("84.50"),
    )
    services.account_numbers_add(
        actor=actor, account=closed, numbers=["+12025550143", "+12025550178"]
    )
    services.account_block(
        actor=actor, account=closed, reason="Phishing SMS confirmed", permanent=True
    )
    services.port_away_grant(
        actor=actor,
        account=closed,
        expires_at=timezone.now() + dt.timedelta(days=14),
        reason="Customer asked to port numbers to another carrier",
    )
    services.refund_request_create(
        actor=actor, account=closed, amount=Decimal("84.50"), reason="Email request"
    )
    services.feedback_receive(
        actor=actor,
        subject="Feedback: win@prizewinner.example T-1042 Blocked Account",
        body="It would help to know which messages were reported.",
    )
