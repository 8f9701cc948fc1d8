"""Factories for remediation: enterprises and the numbers they own."""

from __future__ import annotations

import datetime as dt

import factory

from remediation.choices import GateStatus, SpamRisk
from remediation.models import Enterprise, OwnedNumber


class EnterpriseFactory(factory.django.DjangoModelFactory):
    """An approved enterprise (both gates approved, terms accepted); pass
    `organisation`."""

    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"Enterprise {n} LLC")
    reputation_status = GateStatus.APPROVED
    loa_status = GateStatus.APPROVED
    terms_accepted_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))
    terms_accepted_by = "alice@alpha.test"


class PendingEnterpriseFactory(EnterpriseFactory):
    """An enterprise waiting for both gates, terms not accepted."""

    reputation_status = GateStatus.PENDING
    loa_status = GateStatus.PENDING
    terms_accepted_at = None
    terms_accepted_by = ""


class OwnedNumberFactory(factory.django.DjangoModelFactory):
    """A number an enterprise owns, flagged high risk."""

    class Meta:
        model = OwnedNumber

    enterprise = factory.SubFactory(EnterpriseFactory)
    organisation = factory.SelfAttribute("enterprise.organisation")
    e164 = factory.Sequence(lambda n: f"+1202555{n % 10_000:04d}")
    spam_risk = SpamRisk.HIGH
