"""Billable refreshes that operators ask for, run as jobs under the provider's
Retry-After and the per-enterprise limit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from remediation.choices import (
    ObservationSource,
    RefreshKind,
    RefreshStatus,
)
from remediation.errors import (
    GateClosed,
    InvalidParameters,
    ProviderUnavailable,
    RateLimited,
    RemediationError,
    problem,
)
from remediation.models import (
    Enterprise,
    OwnedNumber,
    ReputationRefresh,
)
from remediation.monitoring.common import (
    REFRESH_ROLES,
    SYSTEM,
    batch_clean,
    provider_call,
)
from remediation.monitoring.followup import follow_up_finish
from remediation.monitoring.observations import apply_numbers
from remediation.monitoring.schedule import lease_until, next_allowed_at
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record


def _local(when: dt.datetime, enterprise: Enterprise) -> str:
    local = timezone.localtime(when, enterprise.organisation.tzinfo)
    return f"{local:%Y-%m-%d %H:%M} ({enterprise.organisation.time_zone})"


def reputation_refresh_request(
    *, actor: Actor, enterprise: Enterprise, phone_numbers: object
) -> ReputationRefresh:
    """Queue a billable refresh of 1–100 registered numbers (operators, admins)."""
    actor.require(*REFRESH_ROLES)
    numbers = batch_clean(phone_numbers)
    if not enterprise.monitoring_approved:
        raise GateClosed(
            [problem(403, "Monitoring is not enabled and approved for it.")]
        )
    registered = set(
        OwnedNumber.objects.filter(
            enterprise=enterprise, e164__in=numbers, registered_at__isnull=False
        ).values_list("e164", flat=True)
    )
    problems = [
        problem(
            422,
            f"{n} is not registered for monitoring.",
            pointer=f"/phone_numbers/{i}",
        )
        for i, n in enumerate(numbers)
        if n not in registered
    ]
    if problems:
        raise InvalidParameters(problems)
    now = timezone.now()
    with transaction.atomic():
        Enterprise.objects.select_for_update().filter(pk=enterprise.pk).exists()
        enterprise.refresh_from_db(fields=["refresh_blocked_until"])
        allowed = next_allowed_at(enterprise, now)
        waiting = ReputationRefresh.objects.filter(
            enterprise=enterprise,
            kind=RefreshKind.MANUAL,
            status__in=(RefreshStatus.QUEUED, RefreshStatus.RUNNING),
        ).count()
        if allowed > now or waiting >= settings.REPUTATION_REFRESH_LIMIT:
            wait = max(1, int((allowed - now).total_seconds()))
            raise RateLimited(
                [
                    problem(
                        429,
                        "Too many refreshes for this enterprise; the next one may go "
                        f"out at {_local(allowed, enterprise)} ({wait} s).",
                    )
                ],
                retry_after=wait,
            )
        job = ReputationRefresh.objects.create(
            organisation=enterprise.organisation,
            enterprise=enterprise,
            kind=RefreshKind.MANUAL,
            phone_numbers=numbers,
            created_by=actor.label[:200],
            created_at=now,
            run_after=now,
        )
        audit_record(
            actor=actor,
            action="reputation.refresh_request",
            target=enterprise,
            after={"refresh": str(job.public_id), "numbers": numbers},
            reason=f"Billable refresh of {len(numbers)} number(s) requested.",
        )
        transaction.on_commit(lambda: _enqueue_refresh(job.pk))
    return job


def _enqueue_refresh(job_id: int) -> None:
    from remediation.tasks import enqueue_refresh

    enqueue_refresh(job_id)


def refresh_run(*, job_id: int) -> float | None:
    """Send one queued refresh; seconds until it may be tried again, else None."""
    now = timezone.now()
    claimed = (
        ReputationRefresh.objects.filter(
            pk=job_id, status=RefreshStatus.QUEUED, run_after__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(status=RefreshStatus.RUNNING, claimed_until=lease_until(now))
    )
    if not claimed:
        return None
    job = ReputationRefresh.objects.select_related(
        "enterprise__organisation", "request"
    ).get(pk=job_id)
    enterprise = job.enterprise
    allowed = next_allowed_at(enterprise, now)
    if allowed > now:
        return _requeue(job, allowed, now, "waiting for the provider's rate limit")
    try:
        answer = provider_call(
            enterprise, "numbers_refresh", phone_numbers=job.phone_numbers
        )
        ReputationRefresh.objects.filter(pk=job.pk).update(sent_at=timezone.now())
        items = provider_call(enterprise, "numbers_list")
    except RateLimited as exc:
        until = now + dt.timedelta(seconds=exc.retry_after)
        Enterprise.objects.filter(pk=enterprise.pk).update(refresh_blocked_until=until)
        return _requeue(job, until, now, str(exc))
    except ProviderUnavailable as exc:
        return _requeue(job, now + dt.timedelta(seconds=30), now, str(exc))
    except RemediationError as exc:
        _refresh_failed(job, str(exc))
        return None
    _refresh_done(job, answer, items)
    return None


def _requeue(
    job: ReputationRefresh, when: dt.datetime, now: dt.datetime, why: str
) -> float:
    ReputationRefresh.objects.filter(pk=job.pk).update(
        status=RefreshStatus.QUEUED, run_after=when, claimed_until=None, error=why[:500]
    )
    return max(1.0, (when - now).total_seconds())


def _refresh_failed(job: ReputationRefresh, error: str) -> None:
    with transaction.atomic():
        ReputationRefresh.objects.filter(pk=job.pk).update(
            status=RefreshStatus.FAILED,
            error=error[:1000],
            finished_at=timezone.now(),
            claimed_until=None,
        )
        audit_record(
            actor=Actor.system_for(job.organisation, SYSTEM),
            action="reputation.refresh_failed",
            target=job.enterprise,
            after={"refresh": str(job.public_id)},
            reason=f"The provider refused the refresh: {error}",
        )
        if job.request is not None:
            follow_up_finish(job.request, {}, reason=f"Refresh refused: {error}")


def _refresh_done(
    job: ReputationRefresh, answer: dict[str, Any], items: list[dict[str, Any]]
) -> None:
    now = timezone.now()
    given = answer.get("results")
    results: list[Any] = given if isinstance(given, list) else []
    ok = {
        r.get("phone_number")
        for r in results
        if isinstance(r, dict) and r.get("success") is True
    }
    with transaction.atomic():
        source = (
            ObservationSource.FOLLOW_UP
            if job.kind == RefreshKind.FOLLOW_UP
            else ObservationSource.MANUAL
        )
        apply_numbers(
            enterprise=job.enterprise,
            items=items,
            source=source,
            now=now,
            only={n for n in ok if isinstance(n, str)},
        )
        ReputationRefresh.objects.filter(pk=job.pk).update(
            status=RefreshStatus.DONE,
            total_successful=int(answer.get("total_successful") or len(ok)),
            total_failed=int(answer.get("total_failed") or 0),
            results=results,
            finished_at=now,
            claimed_until=None,
            error="",
        )
        audit_record(
            actor=Actor.system_for(job.organisation, SYSTEM),
            action="reputation.refresh_done",
            target=job.enterprise,
            after={"refresh": str(job.public_id), "successful": len(ok)},
            reason=f"Refreshed {len(ok)} of {len(job.phone_numbers)} number(s) "
            f"({job.get_kind_display().lower()}).",
        )
        if job.request is not None:
            risks = dict(
                OwnedNumber.objects.filter(
                    enterprise=job.enterprise, e164__in=ok
                ).values_list("e164", "spam_risk")
            )
            follow_up_finish(job.request, risks)


def refresh_jobs_due(*, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """Queued jobs whose time has come (also those a dead worker left running)."""
    now = now or timezone.now()
    ReputationRefresh.objects.filter(
        status=RefreshStatus.RUNNING, claimed_until__lt=now
    ).update(status=RefreshStatus.QUEUED, claimed_until=None)
    return list(
        ReputationRefresh.objects.filter(
            status=RefreshStatus.QUEUED, run_after__lte=now
        )
        .order_by("run_after")
        .values_list("pk", flat=True)[:limit]
    )
