"""The scheduled check: claimed by one worker, the provider's record, then
every monitored number."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from remediation.choices import (
    ObservationSource,
)
from remediation.errors import (
    RateLimited,
    RemediationError,
)
from remediation.models import (
    Enterprise,
    OwnedNumber,
)
from remediation.monitoring.common import (
    SYSTEM,
    enterprise_record_apply,
    gate_words,
    provider_call,
)
from remediation.monitoring.observations import Changes, apply_numbers
from remediation.monitoring.schedule import lease_until, sync_schedule
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from voicegate.policy.owned import enterprise_numbers_changed

logger = logging.getLogger(__name__)


def sync_claim_due(*, now: dt.datetime | None = None, limit: int = 50) -> list[int]:
    """Enterprises whose check is due, each claimed for one worker."""
    now = now or timezone.now()
    due = (
        Enterprise.objects.filter(
            reputation_enabled_at__isnull=False, next_sync_at__lte=now
        )
        .filter(
            Q(refresh_blocked_until__isnull=True) | Q(refresh_blocked_until__lte=now)
        )
        .filter(Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now))
        .order_by("next_sync_at")
        .values_list("pk", flat=True)[:limit]
    )
    claimed = []
    for pk in list(due):
        got = (
            Enterprise.objects.filter(pk=pk)
            .filter(Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now))
            .update(sync_claimed_until=lease_until(now))
        )
        if got:
            claimed.append(pk)
    return claimed


def reputation_sync(*, enterprise_id: int) -> Changes | None:
    """The scheduled check: the provider's record, then every monitored number."""
    try:
        enterprise = Enterprise.objects.select_related("organisation").get(
            pk=enterprise_id
        )
    except Enterprise.DoesNotExist:
        logger.info("enterprise %s vanished before its check", enterprise_id)
        return None
    if not enterprise.monitoring_enabled:
        return None
    now = timezone.now()
    try:
        record = provider_call(enterprise, "reputation_retrieve")
        items = None
        before = gate_words(enterprise)
        enterprise_record_apply(enterprise, record)
        if enterprise.monitoring_approved:
            items = provider_call(enterprise, "numbers_list")
    except RemediationError as exc:
        _sync_failed(enterprise, exc, now)
        return None
    with transaction.atomic():
        after = gate_words(enterprise)
        if after != before:
            audit_record(
                actor=Actor.system_for(enterprise.organisation, SYSTEM),
                action="reputation.status_change",
                target=enterprise,
                before=before,
                after=after,
                reason=f"The provider reports reputation status "
                f"{enterprise.reputation_status} and LOA status "
                f"{enterprise.loa_status}.",
            )
        changes = Changes()
        if items is not None:
            changes = apply_numbers(
                enterprise=enterprise,
                items=items,
                source=ObservationSource.SCHEDULED,
                now=now,
            )
            _mark_unlisted(enterprise, {i.get("phone_number") for i in items}, now)
        enterprise.reputation_synced_at = now
        enterprise.sync_error = ""
        enterprise.sync_claimed_until = None
        sync_schedule(enterprise, now)
        enterprise.save()
    return changes


def _mark_unlisted(enterprise: Enterprise, listed: set[Any], now: dt.datetime) -> None:
    gone = list(
        OwnedNumber.objects.filter(enterprise=enterprise, registered_at__isnull=False)
        .exclude(e164__in=[n for n in listed if isinstance(n, str)])
        .values_list("e164", flat=True)
    )
    if not gone:
        return
    OwnedNumber.objects.filter(enterprise=enterprise, e164__in=gone).update(
        registered_at=None,
        monitored=False,
        removed_at=now,
        removed_reason="not listed by the provider",
    )
    enterprise_numbers_changed(enterprise.organisation_id)
    audit_record(
        actor=Actor.system_for(enterprise.organisation, SYSTEM),
        action="reputation.numbers_unlisted",
        target=enterprise,
        after={"numbers": gone[:100]},
        reason=f"The provider no longer lists {len(gone)} number(s) as monitored.",
    )


def _sync_failed(
    enterprise: Enterprise, exc: RemediationError, now: dt.datetime
) -> None:
    wait = exc.retry_after if isinstance(exc, RateLimited) else 300
    fields = {
        "sync_error": str(exc)[:1000],
        "sync_claimed_until": None,
        "next_sync_at": now + dt.timedelta(seconds=wait),
    }
    if isinstance(exc, RateLimited):
        fields["refresh_blocked_until"] = now + dt.timedelta(seconds=wait)
    Enterprise.objects.filter(pk=enterprise.pk).update(**fields)
    logger.warning("reputation check of enterprise %s failed: %s", enterprise.pk, exc)
