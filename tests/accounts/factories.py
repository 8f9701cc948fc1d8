"""Factories for customer accounts and their reviews."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.business_days import add_business_days
from accounts.choices import AccountStatus, RequestStatus
from accounts.models import Account, AccountNumber, ReassessmentRequest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def png_upload(name: str = "card.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def pdf_upload(name: str = "incorporation.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


class AccountFactory(factory.django.DjangoModelFactory):
    """An active customer account with a matching website and email."""

    class Meta:
        model = Account

    company_name = factory.Sequence(lambda n: f"Company {n} Ltd")
    email = factory.Sequence(lambda n: f"ops@company{n}.example")
    website = factory.Sequence(lambda n: f"https://company{n}.example")
    country = "GB"
    balance = Decimal("120.00")
    status = AccountStatus.ACTIVE


class HeldAccountFactory(AccountFactory):
    """An account on the hold list."""

    status = AccountStatus.ON_HOLD
    restricted_services = ["numbers", "sip_trunking", "sms", "voice"]


class AccountNumberFactory(factory.django.DjangoModelFactory):
    """An owned number."""

    class Meta:
        model = AccountNumber

    account = factory.SubFactory(AccountFactory)
    organisation = factory.SelfAttribute("account.organisation")
    e164 = factory.Sequence(lambda n: f"+4420794600{n % 100:02d}")


class RequestFactory(factory.django.DjangoModelFactory):
    """A pending reassessment request submitted `age_days` calendar days ago."""

    class Meta:
        model = ReassessmentRequest

    class Params:
        submitted = factory.LazyFunction(timezone.now)

    account = factory.SubFactory(HeldAccountFactory)
    organisation = factory.SelfAttribute("account.organisation")
    company_name = factory.SelfAttribute("account.company_name")
    company_website = factory.SelfAttribute("account.website")
    use_case = "OTP for our app's logins"
    services_wanted = ["sms"]
    sample_message = "Your code is 123456"
    destination_countries = ["GB"]
    estimated_units_per_month = 10000
    estimated_spend_per_month = Decimal("300.00")
    submitted_by = "test"
    submitted_at = factory.SelfAttribute("submitted")
    status = RequestStatus.PENDING
    warn_on = factory.LazyAttribute(
        lambda o: add_business_days(timezone.localdate(o.submitted), 5)
    )
    due_on = factory.LazyAttribute(
        lambda o: add_business_days(timezone.localdate(o.submitted), 7)
    )


def days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def request_data(**overrides: object) -> dict:
    """A complete, valid reassessment request body."""
    data = {
        "company_name": "Acme Messaging Ltd",
        "company_website": "https://acme.example",
        "use_case": "OTP and order tracking",
        "services_wanted": ["sms", "voice"],
        "sample_message": "Your Acme code is 123456",
        "destination_countries": ["GB", "US"],
        "estimated_units_per_month": 20000,
        "estimated_spend_per_month": "450.00",
    }
    data.update(overrides)
    return data


def status_saved(account: Account) -> Account:
    """Save a status set up by hand in a test and take the services' explicit step
    after a status write (every decision reads the account again)."""
    from accounts.services.common import account_status_changed

    account.save()
    account_status_changed(account)
    return account
