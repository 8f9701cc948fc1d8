"""Admins enable, re-time and disable monitoring, and register numbers."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from remediation.choices import (
    CheckFrequency,
    GateStatus,
    ObservationSource,
)
from remediation.errors import (
    BadRequest,
    GateClosed,
    InvalidParameters,
    RemediationError,
    problem,
)
from remediation.models import (
    Enterprise,
    OwnedNumber,
)
from remediation.monitoring.common import (
    batch_clean,
    enterprise_record_apply,
    gate_words,
    provider_call,
    webhook_url_for,
)
from remediation.monitoring.observations import apply_numbers
from remediation.monitoring.schedule import sync_schedule
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from trustconsole.lib.confirm import reason_required
from voicegate.policy.owned import enterprise_numbers_changed

logger = logging.getLogger(__name__)


def reputation_enable(
    *,
    actor: Actor,
    enterprise: Enterprise,
    loa_document_id: str,
    check_frequency: str = CheckFrequency.BUSINESS_DAILY,
) -> Enterprise:
    """Enable monitoring with the provider (billable); gates start pending (admin)."""
    actor.require()
    loa = (loa_document_id or "").strip()
    problems = []
    if not 1 <= len(loa) <= 255:
        problems.append(
            problem(
                422,
                "loa_document_id is required (1 to 255 characters).",
                pointer="/loa_document_id",
            )
        )
    if check_frequency not in CheckFrequency.values:
        problems.append(
            problem(
                422,
                f"check_frequency must be one of {', '.join(CheckFrequency.values)}.",
                pointer="/check_frequency",
            )
        )
    if problems:
        raise InvalidParameters(problems)
    if enterprise.terms_accepted_at is None:
        raise GateClosed(
            [problem(403, "Accept the Number Reputation Terms of Service first.")]
        )
    if enterprise.monitoring_enabled:
        raise BadRequest([problem(400, "Monitoring is already enabled for it.")])
    data = provider_call(
        enterprise,
        "reputation_enable",
        loa_document_id=loa,
        check_frequency=check_frequency,
    )
    url = webhook_url_for(enterprise)
    if url:
        try:
            provider_call(enterprise, "reputation_set_webhook", webhook_url=url)
        except RemediationError as exc:
            logger.warning("could not set the reputation webhook URL: %s", exc)
    now = timezone.now()
    with transaction.atomic():
        before = gate_words(enterprise)
        enterprise.reputation_enabled_at = now
        enterprise.loa_document_id = loa
        enterprise.check_frequency = check_frequency
        enterprise_record_apply(enterprise, data)
        enterprise.sync_error = ""
        enterprise.updated_at = now
        sync_schedule(enterprise, now)
        enterprise.save()
        audit_record(
            actor=actor,
            action="reputation.enable",
            target=enterprise,
            before=before,
            after=gate_words(enterprise),
            reason=f"Number reputation monitoring enabled, checked "
            f"{enterprise.get_check_frequency_display().lower()}; the provider "
            f"reports status {enterprise.reputation_status}, LOA "
            f"{enterprise.loa_status}.",
        )
    return enterprise


def reputation_frequency_update(
    *, actor: Actor, enterprise: Enterprise, check_frequency: str
) -> Enterprise:
    """Change how often the provider checks (only once approved, as it requires)."""
    actor.require()
    if check_frequency not in CheckFrequency.values:
        raise InvalidParameters(
            [
                problem(
                    422,
                    "check_frequency must be one of "
                    f"{', '.join(CheckFrequency.values)}.",
                    pointer="/check_frequency",
                )
            ]
        )
    if not enterprise.monitoring_enabled:
        raise BadRequest([problem(400, "Monitoring is not enabled for it.")])
    if enterprise.reputation_status != GateStatus.APPROVED:
        raise BadRequest(
            [
                problem(
                    400,
                    "The check frequency can change once the reputation status is "
                    f"approved (it is {enterprise.reputation_status}).",
                )
            ]
        )
    if check_frequency == enterprise.check_frequency:
        return enterprise
    data = provider_call(
        enterprise, "reputation_update_frequency", check_frequency=check_frequency
    )
    now = timezone.now()
    with transaction.atomic():
        before = {"check_frequency": enterprise.check_frequency}
        enterprise.check_frequency = check_frequency
        enterprise_record_apply(enterprise, data)
        enterprise.updated_at = now
        sync_schedule(enterprise, now)
        enterprise.save()
        audit_record(
            actor=actor,
            action="reputation.frequency_update",
            target=enterprise,
            before=before,
            after={"check_frequency": enterprise.check_frequency},
            reason="Numbers are now checked "
            f"{enterprise.get_check_frequency_display().lower()}.",
        )
    return enterprise


def reputation_disable(
    *, actor: Actor, enterprise: Enterprise, reason: str
) -> Enterprise:
    """Disable monitoring; the provider de-registers every number with it (admin).
    The reason is required (trustconsole/lib/confirm.py), checked before the
    provider is called."""
    actor.require()
    reason = reason_required(reason)
    if not enterprise.monitoring_enabled:
        raise BadRequest([problem(400, "Monitoring is not enabled for it.")])
    try:
        provider_call(enterprise, "reputation_disable")
    except RemediationError as exc:
        if exc.status != 404:  # already gone upstream: finish here too
            raise
    now = timezone.now()
    with transaction.atomic():
        before = gate_words(enterprise)
        registered = OwnedNumber.objects.filter(
            enterprise=enterprise, registered_at__isnull=False
        )
        count = registered.update(
            registered_at=None,
            monitored=False,
            removed_at=now,
            removed_reason="monitoring disabled",
        )
        enterprise.reputation_enabled_at = None
        enterprise.reputation_status = GateStatus.DELETED
        enterprise.next_sync_at = None
        enterprise.updated_at = now
        enterprise.save()
        audit_record(
            actor=actor,
            action="reputation.disable",
            target=enterprise,
            before=before,
            after={**gate_words(enterprise), "numbers_deregistered": count},
            reason=reason,
        )
    return enterprise


def reputation_numbers_register(
    *, actor: Actor, enterprise: Enterprise, phone_numbers: object
) -> list[OwnedNumber]:
    """Register 1–100 owned numbers for monitoring (billable, all or nothing)."""
    actor.require()
    numbers = batch_clean(phone_numbers)
    if not enterprise.monitoring_approved or enterprise.terms_accepted_at is None:
        raise GateClosed(
            [
                problem(
                    403,
                    "Numbers can be registered once monitoring is enabled, both "
                    "gates are approved and the terms accepted (reputation "
                    f"{enterprise.reputation_status}, LOA {enterprise.loa_status}).",
                )
            ]
        )
    owned = {
        n.e164: n
        for n in OwnedNumber.objects.filter(enterprise=enterprise, e164__in=numbers)
    }
    problems = []
    for index, number in enumerate(numbers):
        row = owned.get(number)
        if row is None:
            problems.append(
                problem(
                    422,
                    f"{number} is not a number of this enterprise.",
                    pointer=f"/phone_numbers/{index}",
                )
            )
        elif row.is_registered:
            problems.append(
                problem(
                    422,
                    f"{number} is already registered for monitoring.",
                    pointer=f"/phone_numbers/{index}",
                )
            )
    if problems:
        raise InvalidParameters(problems)
    items = provider_call(enterprise, "numbers_register", phone_numbers=numbers)
    now = timezone.now()
    with transaction.atomic():
        OwnedNumber.objects.filter(enterprise=enterprise, e164__in=numbers).update(
            registered_at=now, monitored=True, removed_at=None, removed_reason=""
        )
        enterprise_numbers_changed(enterprise.organisation_id)
        audit_record(
            actor=actor,
            action="reputation.numbers_register",
            target=enterprise,
            after={"count": len(numbers), "numbers": numbers},
            reason=f"{len(numbers)} number(s) registered for reputation monitoring "
            "(billable).",
        )
        apply_numbers(
            enterprise=enterprise,
            items=items,
            source=ObservationSource.REGISTRATION,
            now=now,
        )
    return list(OwnedNumber.objects.filter(enterprise=enterprise, e164__in=numbers))


def reputation_number_deregister(
    *, actor: Actor, number: OwnedNumber, reason: str = ""
) -> OwnedNumber:
    """Stop monitoring one number with the provider (admin)."""
    actor.require()
    if not number.is_registered:
        raise BadRequest(
            [problem(400, f"{number.e164} is not registered for monitoring.")]
        )
    enterprise = number.enterprise
    try:
        provider_call(enterprise, "number_deregister", phone_number=number.e164)
    except RemediationError as exc:
        if exc.status != 404:
            raise
    now = timezone.now()
    with transaction.atomic():
        number.registered_at = None
        number.monitored = False
        number.removed_at = now
        number.removed_reason = "deregistered"
        number.save(
            update_fields=["registered_at", "monitored", "removed_at", "removed_reason"]
        )
        audit_record(
            actor=actor,
            action="reputation.number_deregister",
            target=enterprise,
            before={"number": number.e164, "monitoring": "registered"},
            after={"number": number.e164, "monitoring": "deregistered"},
            reason=reason or f"{number.e164} is no longer monitored.",
        )
    return number
