"""The automatic side of remediation: forward requests upstream, poll them, apply.

Work on a request happens only under a lease: `claim_token` + `claimed_until`,
taken with one conditional UPDATE. Two workers never hold the same request; a
worker that dies (even `kill -9`) simply lets its lease run out, and the next beat
tick hands the request to another worker. Applying what the provider reports is
idempotent: the status only moves forward (compare-and-set under a row lock, and
only while the lease is still ours), so a retried poll never applies a change twice
and never sends a second webhook for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from remediation import monitoring, providers, selectors, webhooks
from remediation.choices import (
    BUCKETS,
    IN_FLIGHT_STATUSES,
    STATUS_RANK,
    TERMINAL_STATUSES,
    Bucket,
    DeliveryStatus,
    Provider,
    RemediationStatus,
    SpamRisk,
)
from remediation.errors import InFlightConflict, problem
from remediation.models import (
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    WebhookDelivery,
)
from remediation.providers import (
    CancelNotSupported,
    ProviderError,
    ProviderTransientError,
    UpstreamRemediation,
)
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record

logger = logging.getLogger(__name__)

POLLER = "remediation poller"
# How far back to look for a submission an earlier, interrupted attempt made.
ADOPT_WINDOW = dt.timedelta(minutes=10)


def _lease(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.REMEDIATION_LEASE_SECONDS)


def _free(now: dt.datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def claim(
    *,
    request_id: int,
    token: str | None = None,
    now: dt.datetime | None = None,
    due_only: bool = True,
) -> str | None:
    """Take (or confirm) the lease on a request; the token, or None if not ours.

    With `token` (handed out by a tick) the lease is ours only if it still holds
    that token and has not run out. Without one, a free lease on a due, in-flight
    request is taken with a fresh token.
    """
    now = now or timezone.now()
    in_flight = RemediationRequest.objects.filter(
        pk=request_id, status__in=IN_FLIGHT_STATUSES
    )
    if token:
        renewed = in_flight.filter(claim_token=token, claimed_until__gt=now).update(
            claimed_until=_lease(now)
        )
        return token if renewed else None
    token = uuid.uuid4().hex
    qs = in_flight.filter(_free(now))
    if due_only:
        qs = qs.filter(next_check_at__lte=now)
    return token if qs.update(claim_token=token, claimed_until=_lease(now)) else None


def release(*, request_id: int, token: str) -> None:
    """Give the lease back (a no-op when it is no longer ours)."""
    RemediationRequest.objects.filter(pk=request_id, claim_token=token).update(
        claim_token="", claimed_until=None
    )


@dataclass
class TickResult:
    """Work one tick handed out: (id, lease token) pairs."""

    requests: list[tuple[int, str]] = field(default_factory=list)
    deliveries: list[tuple[int, str]] = field(default_factory=list)


def _claim_batch(
    model: type[RemediationRequest] | type[WebhookDelivery],
    due: Q,
    now: dt.datetime,
    limit: int,
) -> list[tuple[int, str]]:
    ids = list(
        model.objects.filter(due)
        .filter(_free(now))
        .order_by(due_order(model))
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return []
    token = uuid.uuid4().hex
    claimed = (
        model.objects.filter(pk__in=ids)
        .filter(due)
        .filter(_free(now))
        .update(claim_token=token, claimed_until=_lease(now))
    )
    if claimed != len(ids):
        # Someone else took a few in between: hand out only ours.
        ids = list(
            model.objects.filter(pk__in=ids, claim_token=token).values_list(
                "pk", flat=True
            )
        )
    return [(pk, token) for pk in ids]


def due_order(model: type) -> str:
    """Oldest due first."""
    return "next_check_at" if model is RemediationRequest else "next_attempt_at"


def tick(*, now: dt.datetime | None = None, limit: int | None = None) -> TickResult:
    """One beat: claim up to `limit` due requests and due webhook deliveries.

    Two indexed queries and one UPDATE per kind, however many requests are in
    flight; the claimed ids go to workers as separate tasks.
    """
    now = now or timezone.now()
    limit = limit or settings.REMEDIATION_TICK_BATCH
    requests = _claim_batch(
        RemediationRequest,
        Q(status__in=IN_FLIGHT_STATUSES, next_check_at__lte=now),
        now,
        limit,
    )
    deliveries = _claim_batch(
        WebhookDelivery,
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now),
        now,
        limit,
    )
    return TickResult(requests=requests, deliveries=deliveries)


# --- Processing one request --------------------------------------------------------


def request_process(*, request_id: int, token: str | None = None) -> float | None:
    """Forward (first time) or poll one request; seconds until its next check.

    None means nothing more to schedule: the request finished, or it was not ours.
    """
    token = claim(request_id=request_id, token=token)
    if token is None:
        return None
    try:
        request = RemediationRequest.objects.select_related(
            "enterprise", "organisation"
        ).get(pk=request_id)
        row = selectors.settings_for(organisation=request.organisation)
        with providers.client_for(row, provider=request.provider) as client:
            if not request.upstream_id:
                return _forward(request, client, token)
            snapshot = client.retrieve(
                enterprise_id=request.enterprise.upstream_id,
                remediation_id=request.upstream_id,
            )
        return apply_snapshot(request_id=request_id, token=token, snapshot=snapshot)
    except ProviderTransientError as exc:
        return _record_error(request_id, token, str(exc), exc.retry_after)
    except ProviderError as exc:
        return _apply(
            request_id, token, status=RemediationStatus.FAILED, reason=str(exc)
        )
    except Exception as exc:  # a bug must not spin: back off like a transient error
        logger.exception("processing remediation request %s failed", request_id)
        return _record_error(
            request_id, token, f"{exc.__class__.__name__}: {exc}", None
        )
    finally:
        release(request_id=request_id, token=token)


def _forward(
    request: RemediationRequest, client: providers.TelnyxClient, token: str
) -> float | None:
    eligible = list(
        RemediationNumber.objects.filter(request=request, eligible=True)
        .order_by("position")
        .values_list("e164", flat=True)
    )
    if not eligible:
        # Every number was in its cooldown: nothing to forward, results are final.
        return _apply(request.pk, token, status=RemediationStatus.COMPLETED, results={})
    if (
        request.provider == Provider.TELNYX
        and not request.enterprise.upstream_enterprise_id
    ):
        raise ProviderError(
            "The enterprise has no Telnyx enterprise id (Settings → Remediation)."
        )
    enterprise_id = request.enterprise.upstream_id
    snapshot = None
    if request.forward_started_at is not None:
        # An earlier attempt died after sending: the provider may have it already.
        snapshot = _find_earlier_submission(request, client, len(eligible))
    if snapshot is None:
        RemediationRequest.objects.filter(pk=request.pk, claim_token=token).update(
            forward_started_at=timezone.now()
        )
        snapshot = client.submit(
            enterprise_id=enterprise_id,
            phone_numbers=eligible,
            call_purpose=request.call_purpose,
            contact_email=request.contact_email,
        )
    return apply_snapshot(request_id=request.pk, token=token, snapshot=snapshot)


def _find_earlier_submission(
    request: RemediationRequest, client: providers.TelnyxClient, count: int
) -> UpstreamRemediation | None:
    assert request.forward_started_at is not None
    candidates = client.list_recent(
        enterprise_id=request.enterprise.upstream_id,
        created_gte=request.forward_started_at - ADOPT_WINDOW,
    )
    taken = set(
        RemediationRequest.objects.filter(
            provider=request.provider,
            upstream_id__in=[c.id for c in candidates],
        ).values_list("upstream_id", flat=True)
    )
    for candidate in sorted(candidates, key=lambda c: c.created_at or timezone.now()):
        if (
            candidate.id not in taken
            and candidate.call_purpose == request.call_purpose
            and candidate.phone_numbers_count in (None, count)
        ):
            logger.info(
                "request %s adopts upstream %s from an interrupted submission",
                request.pk,
                candidate.id,
            )
            return candidate
    return None


def apply_snapshot(
    *, request_id: int, token: str, snapshot: UpstreamRemediation
) -> float | None:
    """Apply what the provider reports about a request we hold the lease on."""
    return _apply(
        request_id,
        token,
        upstream_id=snapshot.id,
        status=snapshot.status,
        tier1=snapshot.tier1_completed_at,
        tier2=snapshot.tier2_completed_at,
        results=snapshot.results,
        reason="The provider could not process the request."
        if snapshot.status == RemediationStatus.FAILED
        else "",
    )


def _merge_results(
    request: RemediationRequest, results: dict[str, list[str]], now: dt.datetime
) -> bool:
    bucket_of: dict[str, str] = {}
    for bucket in BUCKETS:
        for number in results.get(bucket, []):
            if bucket_of.setdefault(number, bucket) != bucket:
                logger.warning(
                    "provider put %s in two buckets on request %s", number, request.pk
                )
    rows = list(
        RemediationNumber.objects.filter(request=request, eligible=True).only(
            "id", "e164", "outcome"
        )
    )
    changed = []
    for row in rows:
        found = bucket_of.get(row.e164)
        if found and row.outcome != found:
            row.outcome, row.outcome_at = found, now
            changed.append(row)
    if not changed:
        return False
    RemediationNumber.objects.bulk_update(
        changed, ["outcome", "outcome_at"], batch_size=500
    )
    # A cleared or unflagged number is no longer flagged here either; a remediated
    # one starts its cooldown.
    remediated = [r.e164 for r in changed if r.outcome == Bucket.REMEDIATED]
    cleared = [r.e164 for r in changed if r.outcome == Bucket.NOT_FLAGGED]
    owned = OwnedNumber.objects.filter(enterprise_id=request.enterprise_id)
    if request.enterprise.monitoring_enabled:
        # Monitored numbers keep their observed risk: the follow-up refresh after
        # completion finds out whether it really fell.
        if remediated:
            owned.filter(e164__in=remediated).update(last_remediated_at=now)
        return True
    if remediated:
        owned.filter(e164__in=remediated).update(
            last_remediated_at=now, spam_risk=SpamRisk.LOW, spam_risk_checked_at=now
        )
    if cleared:
        owned.filter(e164__in=cleared).update(
            spam_risk=SpamRisk.LOW, spam_risk_checked_at=now
        )
    return True


def _next_delay(request: RemediationRequest, *, changed: bool) -> int:
    initial = settings.REMEDIATION_POLL_INITIAL_SECONDS
    if changed or not request.poll_delay_seconds:
        return initial
    return min(settings.REMEDIATION_POLL_MAX_SECONDS, request.poll_delay_seconds * 2)


def _apply(
    request_id: int,
    token: str,
    *,
    status: str | None = None,
    upstream_id: str = "",
    tier1: dt.datetime | None = None,
    tier2: dt.datetime | None = None,
    results: dict[str, list[str]] | None = None,
    reason: str = "",
    actor: Actor | None = None,
    action: str = "remediation.status_change",
) -> float | None:
    now = timezone.now()
    with transaction.atomic():
        request = (
            RemediationRequest.objects.select_for_update()
            .select_related("enterprise", "organisation")
            .get(pk=request_id)
        )
        if request.claim_token != token:
            logger.info("lease on request %s lost; change not applied", request_id)
            return None
        old_status = request.status
        changed = False
        if upstream_id and not request.upstream_id:
            request.upstream_id, request.forwarded_at = upstream_id, now
        if tier1 and request.tier1_completed_at is None:
            request.tier1_completed_at, changed = tier1, True
        if tier2 and request.tier2_completed_at is None:
            request.tier2_completed_at, changed = tier2, True
        if results is not None and not request.is_terminal:
            changed |= _merge_results(request, results, now)
            if not request.results_available:
                request.results_available, changed = True, True
        moves = (
            status is not None
            and status != old_status
            and old_status not in TERMINAL_STATUSES
            and STATUS_RANK[status] > STATUS_RANK[old_status]
        )
        if moves and status is not None:  # (moves implies a status)
            request.status, changed = status, True
            if status == RemediationStatus.COMPLETED:
                request.results_available = True
                monitoring.follow_up_schedule(request=request, now=now)
            if status in TERMINAL_STATUSES:
                request.finished_at = now
                request.failure_reason = (
                    reason if status == RemediationStatus.FAILED else ""
                )
                RemediationNumber.objects.filter(
                    request=request, in_flight=True
                ).update(in_flight=False)
        if changed:
            request.updated_at = now
        request.last_checked_at = now
        request.consecutive_errors, request.last_error = 0, ""
        delay: int | None
        if request.is_terminal:
            delay, request.next_check_at, request.poll_delay_seconds = None, None, 0
        else:
            delay = _next_delay(request, changed=changed)
            request.poll_delay_seconds = delay
            request.next_check_at = now + dt.timedelta(seconds=delay)
        request.claim_token, request.claimed_until = "", None
        request.save()
        if moves:
            audit_record(
                actor=actor or Actor.system_for(request.organisation, POLLER),
                action=action,
                target=request,
                before={"status": old_status},
                after={
                    "status": request.status,
                    "tier1_completed_at": request.tier1_completed_at,
                    "tier2_completed_at": request.tier2_completed_at,
                    "upstream_id": request.upstream_id,
                },
                reason=reason,
            )
            webhooks.delivery_create(
                request=request, status_from=old_status, status_to=request.status
            )
    return delay


def _record_error(
    request_id: int, token: str, message: str, retry_after: float | None
) -> float | None:
    now = timezone.now()
    request = RemediationRequest.objects.filter(
        pk=request_id, claim_token=token
    ).first()
    if request is None:
        return None
    errors = request.consecutive_errors + 1
    if errors >= settings.REMEDIATION_MAX_ERRORS:
        return _apply(
            request_id,
            token,
            status=RemediationStatus.FAILED,
            reason=f"Gave up after {errors} failed attempts; last: {message}",
        )
    delay = min(
        settings.REMEDIATION_POLL_MAX_SECONDS,
        settings.REMEDIATION_POLL_INITIAL_SECONDS * 2 ** (errors - 1),
    )
    if retry_after:
        # Never earlier than the provider asked us to come back.
        delay = max(delay, int(retry_after + 0.999))
    RemediationRequest.objects.filter(pk=request_id, claim_token=token).update(
        consecutive_errors=errors,
        last_error=message[:2000],
        last_checked_at=now,
        next_check_at=now + dt.timedelta(seconds=delay),
        poll_delay_seconds=delay,
        claim_token="",
        claimed_until=None,
    )
    logger.warning(
        "remediation request %s: %s (attempt %s, next in %ss)",
        request_id,
        message,
        errors,
        delay,
    )
    return delay


# --- Cancelling -----------------------------------------------------------------


def _refuse(detail: str) -> InFlightConflict:
    return InFlightConflict([problem(409, detail)])


def request_cancel(
    *, actor: Actor, request_id: int, reason: str = ""
) -> RemediationRequest:
    """Cancel a pending request under its lease (see services.remediation_cancel)."""
    request = RemediationRequest.objects.select_related(
        "enterprise", "organisation"
    ).get(pk=request_id)
    if request.status != RemediationStatus.PENDING:
        raise _refuse(
            f"Only a pending request can be cancelled; this one is {request.status}."
        )
    token = claim(request_id=request_id, due_only=False)
    if token is None:
        raise _refuse("A worker is handling this request right now; try again shortly.")
    try:
        request.refresh_from_db()
        if request.status != RemediationStatus.PENDING:
            raise _refuse(
                "Only a pending request can be cancelled; "
                f"this one is {request.status}."
            )
        if request.forward_started_at and not request.upstream_id:
            raise _refuse(
                "The request is being forwarded to the provider; try again shortly."
            )
        if request.upstream_id:
            row = selectors.settings_for(organisation=request.organisation)
            try:
                with providers.client_for(row, provider=request.provider) as client:
                    snapshot = client.cancel(
                        enterprise_id=request.enterprise.upstream_id,
                        remediation_id=request.upstream_id,
                    )
            except CancelNotSupported:
                raise _refuse(
                    "The request was already forwarded to the provider, which offers "
                    "no way to cancel it."
                ) from None
            except ProviderError as exc:
                raise _refuse(
                    f"The provider did not cancel the request: {exc}"
                ) from None
            if snapshot.status != RemediationStatus.CANCELLED:
                apply_snapshot(request_id=request_id, token=token, snapshot=snapshot)
                raise _refuse(
                    f"The provider has moved the request on ({snapshot.status})."
                )
        _apply(
            request_id,
            token,
            status=RemediationStatus.CANCELLED,
            actor=actor,
            action="remediation.cancel",
            reason=reason,
        )
    finally:
        release(request_id=request_id, token=token)
    request.refresh_from_db()
    return request
