"""Closing the loop: a completed remediation request's numbers are refreshed so
the request shows whose risk fell."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from remediation.choices import (
    RefreshKind,
    RefreshStatus,
)
from remediation.models import (
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    ReputationRefresh,
)
from remediation.monitoring.common import MAX_BATCH, SYSTEM
from remediation.monitoring.schedule import next_allowed_at
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record


def follow_up_schedule(*, request: RemediationRequest, now: dt.datetime) -> None:
    """Called when a request completes: refresh its numbers when next allowed."""
    if request.enterprise.monitoring_enabled and request.follow_up_due_at is None:
        request.follow_up_due_at = now


def follow_ups_create(*, now: dt.datetime | None = None, limit: int = 50) -> list[int]:
    """Turn due follow-ups into refresh jobs (or finish them when nothing is
    monitored); returns the ids of jobs ready to run now."""
    now = now or timezone.now()
    due = (
        RemediationRequest.objects.filter(
            follow_up_due_at__lte=now, follow_up_done_at__isnull=True
        )
        .exclude(follow_ups__isnull=False)
        .select_related("enterprise__organisation")[:limit]
    )
    ready = []
    for request in due:
        with transaction.atomic():
            numbers = list(
                RemediationNumber.objects.filter(request=request, eligible=True)
                .exclude(outcome="")
                .values_list("e164", flat=True)
            )
            registered = list(
                OwnedNumber.objects.filter(
                    enterprise=request.enterprise,
                    e164__in=numbers,
                    registered_at__isnull=False,
                )
                .order_by("e164")
                .values_list("e164", flat=True)
            )
            if not registered:
                follow_up_finish(
                    request, {}, reason="None of its numbers is monitored."
                )
                continue
            enterprise = request.enterprise
            when = next_allowed_at(enterprise, now)
            last = None
            for start in range(0, len(registered), MAX_BATCH):
                last = ReputationRefresh.objects.create(
                    organisation=request.organisation,
                    enterprise=enterprise,
                    request=request,
                    kind=RefreshKind.FOLLOW_UP,
                    phone_numbers=registered[start : start + MAX_BATCH],
                    created_by=f"system: {SYSTEM}",
                    created_at=now,
                    run_after=when,
                )
                if when <= now:
                    ready.append(last.pk)
            audit_record(
                actor=Actor.system_for(request.organisation, SYSTEM),
                action="remediation.follow_up_scheduled",
                target=request,
                after={"numbers": len(registered), "at": when},
                reason=f"The request completed: {len(registered)} monitored "
                f"number(s) will be refreshed at {when:%Y-%m-%d %H:%M} UTC to see "
                "whether their risk fell.",
            )
    return ready


def follow_up_finish(
    request: RemediationRequest, risks: dict[str, str | None], *, reason: str = ""
) -> None:
    now = timezone.now()
    rows = list(RemediationNumber.objects.filter(request=request, e164__in=risks))
    for row in rows:
        row.risk_after, row.risk_after_at = risks[row.e164], now
    RemediationNumber.objects.bulk_update(rows, ["risk_after", "risk_after_at"])
    open_jobs = ReputationRefresh.objects.filter(
        request=request, status__in=(RefreshStatus.QUEUED, RefreshStatus.RUNNING)
    ).exists()
    if open_jobs:
        return
    RemediationRequest.objects.filter(pk=request.pk).update(follow_up_done_at=now)
    effects: dict[str, int] = {}
    for row in RemediationNumber.objects.filter(
        request=request, risk_after_at__isnull=False
    ):
        effects[row.effect] = effects.get(row.effect, 0) + 1
    summary = ", ".join(f"{n} {what}" for what, n in sorted(effects.items()))
    audit_record(
        actor=Actor.system_for(request.organisation, SYSTEM),
        action="remediation.follow_up_done",
        target=request,
        after=effects,
        reason=reason
        or f"Follow-up refresh after remediation: {summary or 'no data'}.",
    )
