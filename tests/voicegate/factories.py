"""Factories for the call gate and the outbound policy: connections, decisions,
block-list entries, Do-Not-Call lists, verified caller IDs, consent, denials.

Pass `organisation` (as the other apps' factories expect). Rows made here skip the
services, so they bump no version key: use them for what a test reads, and the
services for what the gate must see change.
"""

from __future__ import annotations

import datetime as dt

import factory

from voicegate.choices import Decision, Provider, Reason
from voicegate.models import BlockedNumber, CallDecision, VoiceConnection
from voicegate.policy.choices import VerificationMethod
from voicegate.policy.models import (
    ConsentRecord,
    DncList,
    OutboundDenial,
    VerifiedCallerId,
)


class VoiceConnectionFactory(factory.django.DjangoModelFactory):
    """A generic (PBX) connection with a shared token."""

    class Meta:
        model = VoiceConnection

    name = factory.Sequence(lambda n: f"PBX {n}")
    provider = Provider.GENERIC
    secret = factory.Sequence(lambda n: f"shared-token-{n:06d}")


class CallDecisionFactory(factory.django.DjangoModelFactory):
    """One logged call decision: allowed, caller not listed."""

    class Meta:
        model = CallDecision

    provider = Provider.GENERIC
    caller = factory.Sequence(lambda n: f"+1202555{n % 10_000:04d}")
    caller_e164 = factory.SelfAttribute("caller")
    decision = Decision.ALLOW
    reason = Reason.NOT_LISTED


class BlockedNumberFactory(factory.django.DjangoModelFactory):
    """A number on the organisation's block list."""

    class Meta:
        model = BlockedNumber

    number = factory.Sequence(lambda n: f"+1415555{n % 10_000:04d}")
    reason = "Robocalls"
    added_by = "alice@alpha.test"


class DncListFactory(factory.django.DjangoModelFactory):
    """An empty hand-kept (internal) Do-Not-Call list."""

    class Meta:
        model = DncList

    name = factory.Sequence(lambda n: f"Do not call {n}")


class VerifiedCallerIdFactory(factory.django.DjangoModelFactory):
    """A caller ID of the organisation, verified by hand."""

    class Meta:
        model = VerifiedCallerId

    number = factory.Sequence(lambda n: f"+1646555{n % 10_000:04d}")
    method = VerificationMethod.DOCUMENT
    verified_by = "alice@alpha.test"
    verified_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))


class ConsentRecordFactory(factory.django.DjangoModelFactory):
    """A destination's consent to be called by anyone calling for the organisation."""

    class Meta:
        model = ConsentRecord

    number = factory.Sequence(lambda n: f"+1718555{n % 10_000:04d}")
    evidence = "Opt-in form"
    given_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))
    recorded_by = "alice@alpha.test"


class OutboundDenialFactory(factory.django.DjangoModelFactory):
    """A refused outbound call: the destination is on a Do-Not-Call list."""

    class Meta:
        model = OutboundDenial

    from_number = "+12025550100"
    to_number = factory.Sequence(lambda n: f"+1202555{n % 10_000:04d}")
    violations = factory.LazyAttribute(
        lambda o: [{"code": c} for c in o.codes.split(",")]
    )
    codes = "dnc"
