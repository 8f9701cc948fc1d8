"""Number reputation monitoring: the loop around remediation.

Admins enable monitoring for an enterprise (LOA document, check frequency),
register numbers (1–100 a call, all or nothing, as the provider does) and
deregister them. Beat follows each enterprise's check frequency (business days in
the organisation's time zone), fetches the monitored numbers page by page and keeps
every change as an observation. Operators ask for billable refreshes of chosen
numbers; those run as jobs that honour the provider's Retry-After and the
per-enterprise limit. After a remediation request completes, its numbers are
refreshed at the next allowed time, so each request shows whose risk actually fell.
Every change is audited.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from remediation import providers, selectors
from remediation.choices import (
    ELEVATED_RISKS,
    CheckFrequency,
    GateStatus,
    ObservationSource,
    RefreshKind,
    RefreshStatus,
    SpamRisk,
)
from remediation.errors import (
    BadRequest,
    GateClosed,
    InvalidParameters,
    Problem,
    ProviderUnavailable,
    RateLimited,
    RemediationError,
    problem,
)
from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    ReputationObservation,
    ReputationRefresh,
)
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.services import audit_record
from voicegate.policy.owned import enterprise_numbers_changed

logger = logging.getLogger(__name__)

SYSTEM = "reputation monitor"
REFRESH_ROLES = (Role.OPERATOR,)
MAX_BATCH = providers.MAX_REPUTATION_BATCH
SCORE_FIELDS = (
    "maturity_score",
    "connection_score",
    "engagement_score",
    "sentiment_score",
)


# --- Schedule -----------------------------------------------------------------------


def next_check_at(
    frequency: str, *, after: dt.datetime, tz: dt.tzinfo
) -> dt.datetime | None:
    """The next scheduled check after `after`, at REPUTATION_CHECK_HOUR local time.

    business_daily: the next Monday–Friday in the organisation's time zone; daily:
    the next day; weekly / biweekly: 7 / 14 days on; monthly: the same day next
    month (the last day when shorter); never: no schedule (manual refresh only).
    """
    if frequency == CheckFrequency.NEVER:
        return None
    local = after.astimezone(tz)
    day = local.date()
    if frequency == CheckFrequency.WEEKLY:
        day += dt.timedelta(days=7)
    elif frequency == CheckFrequency.BIWEEKLY:
        day += dt.timedelta(days=14)
    elif frequency == CheckFrequency.MONTHLY:
        year, month = (
            (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        )
        last = calendar.monthrange(year, month)[1]
        day = dt.date(year, month, min(day.day, last))
    else:
        day += dt.timedelta(days=1)
        if frequency == CheckFrequency.BUSINESS_DAILY:
            while day.weekday() >= 5:
                day += dt.timedelta(days=1)
    hour = settings.REPUTATION_CHECK_HOUR
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(dt.UTC)


# --- Errors from the provider -------------------------------------------------------


def _refusal(exc: providers.ProviderError) -> RemediationError:
    """A provider error as the console's own (same status, the provider's words)."""
    if isinstance(exc, providers.ProviderTransientError):
        if exc.status_code == 429:
            wait = int(exc.retry_after or 60)
            return RateLimited(
                [problem(429, f"The provider asks to wait {wait} s before retrying.")],
                retry_after=wait,
            )
        return ProviderUnavailable(
            [problem(503, f"The provider is unavailable; nothing changed ({exc}).")]
        )
    problems = [
        Problem(
            code=str(e.get("code") or "10015"),
            title=str(e.get("title") or "Refused by the provider"),
            detail=str(e.get("detail") or e.get("description") or e.get("title")),
            pointer=(e.get("source") or {}).get("pointer")
            if isinstance(e.get("source"), dict)
            else None,
        )
        for e in exc.errors
    ] or [problem(exc.status_code or 400, str(exc))]
    status = exc.status_code if exc.status_code in (400, 403, 404, 409, 422) else 400
    error = {
        400: BadRequest,
        403: GateClosed,
        404: BadRequest,
        409: BadRequest,
        422: InvalidParameters,
    }[status](problems)
    error.status = status
    return error


def _client(enterprise: Enterprise) -> providers.TelnyxClient:
    row = selectors.settings_for(organisation=enterprise.organisation)
    try:
        return providers.client_for(row)
    except providers.ProviderError as exc:
        raise BadRequest([problem(400, str(exc))]) from None


def _call(enterprise: Enterprise, method: str, **kwargs: Any) -> Any:
    with _client(enterprise) as client:
        try:
            return getattr(client, method)(
                enterprise_id=enterprise.upstream_id, **kwargs
            )
        except providers.ProviderError as exc:
            raise _refusal(exc) from None


def _apply_record(enterprise: Enterprise, data: dict[str, Any]) -> None:
    for name in ("reputation_status", "loa_status"):
        key = "status" if name == "reputation_status" else "loa_status"
        value = data.get(key)
        if value in GateStatus.values:
            setattr(enterprise, name, value)
    frequency = data.get("check_frequency")
    if frequency in CheckFrequency.values:
        enterprise.check_frequency = frequency
    reasons = data.get("rejection_reasons")
    enterprise.rejection_reasons = reasons if isinstance(reasons, list) else None
    loa = data.get("loa_document_id")
    if isinstance(loa, str) and loa:
        enterprise.loa_document_id = loa[:255]


def _gate_words(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "reputation_status": enterprise.reputation_status,
        "loa_status": enterprise.loa_status,
        "check_frequency": enterprise.check_frequency,
        "loa_document_id": enterprise.loa_document_id,
        "monitoring": "enabled" if enterprise.monitoring_enabled else "off",
    }


def _pending_poll(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.REPUTATION_PENDING_POLL_SECONDS)


def _schedule(enterprise: Enterprise, now: dt.datetime) -> None:
    if not enterprise.monitoring_enabled:
        enterprise.next_sync_at = None
    elif not enterprise.monitoring_approved:
        enterprise.next_sync_at = _pending_poll(now)
    else:
        enterprise.next_sync_at = next_check_at(
            enterprise.check_frequency,
            after=now,
            tz=enterprise.organisation.tzinfo,
        )


def webhook_url_for(enterprise: Enterprise) -> str | None:
    """The organisation's reputation webhook URL, if the public base URL is known."""
    base = settings.VOICEGATE_PUBLIC_BASE_URL
    if not base:
        return None
    return f"{base.rstrip('/')}/hooks/reputation/{enterprise.organisation.public_id}"


# --- Enable, frequency, disable -----------------------------------------------------


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
    data = _call(
        enterprise,
        "reputation_enable",
        loa_document_id=loa,
        check_frequency=check_frequency,
    )
    url = webhook_url_for(enterprise)
    if url:
        try:
            _call(enterprise, "reputation_set_webhook", webhook_url=url)
        except RemediationError as exc:
            logger.warning("could not set the reputation webhook URL: %s", exc)
    now = timezone.now()
    with transaction.atomic():
        before = _gate_words(enterprise)
        enterprise.reputation_enabled_at = now
        enterprise.loa_document_id = loa
        enterprise.check_frequency = check_frequency
        _apply_record(enterprise, data)
        enterprise.sync_error = ""
        enterprise.updated_at = now
        _schedule(enterprise, now)
        enterprise.save()
        audit_record(
            actor=actor,
            action="reputation.enable",
            target=enterprise,
            before=before,
            after=_gate_words(enterprise),
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
    data = _call(
        enterprise, "reputation_update_frequency", check_frequency=check_frequency
    )
    now = timezone.now()
    with transaction.atomic():
        before = {"check_frequency": enterprise.check_frequency}
        enterprise.check_frequency = check_frequency
        _apply_record(enterprise, data)
        enterprise.updated_at = now
        _schedule(enterprise, now)
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
    *, actor: Actor, enterprise: Enterprise, reason: str = ""
) -> Enterprise:
    """Disable monitoring; the provider de-registers every number with it (admin)."""
    actor.require()
    if not enterprise.monitoring_enabled:
        raise BadRequest([problem(400, "Monitoring is not enabled for it.")])
    try:
        _call(enterprise, "reputation_disable")
    except RemediationError as exc:
        if exc.status != 404:  # already gone upstream: finish here too
            raise
    now = timezone.now()
    with transaction.atomic():
        before = _gate_words(enterprise)
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
            after={**_gate_words(enterprise), "numbers_deregistered": count},
            reason=reason
            or f"Number reputation monitoring disabled; {count} number(s) are no "
            "longer monitored.",
        )
    return enterprise


# --- Register, deregister -----------------------------------------------------------


def _clean_batch(raw: object) -> list[str]:
    from remediation.services import _normalise_numbers

    if isinstance(raw, str) or not isinstance(raw, Iterable):
        raise InvalidParameters(
            [problem(422, "phone_numbers must be a list.", pointer="/phone_numbers")]
        )
    items = list(raw)
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidParameters(
            [
                problem(
                    422,
                    f"Give 1 to {MAX_BATCH} numbers per call (got {len(items)}).",
                    pointer="/phone_numbers",
                )
            ]
        )
    try:
        return _normalise_numbers(str(i) for i in items)
    except ValidationError as exc:
        raise InvalidParameters(
            [problem(422, m, pointer="/phone_numbers") for m in exc.messages]
        ) from None


def reputation_numbers_register(
    *, actor: Actor, enterprise: Enterprise, phone_numbers: object
) -> list[OwnedNumber]:
    """Register 1–100 owned numbers for monitoring (billable, all or nothing)."""
    actor.require()
    numbers = _clean_batch(phone_numbers)
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
    items = _call(enterprise, "numbers_register", phone_numbers=numbers)
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
        _call(enterprise, "number_deregister", phone_number=number.e164)
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


# --- Observations -------------------------------------------------------------------


def _score(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 0 <= value <= 100 else None


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass
class Changes:
    """What one batch of provider data changed: risk moves, in order."""

    observed: int = 0
    moves: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def words(self) -> str:
        """The moves as a sentence for the audit trail."""
        shown = ", ".join(
            f"{e164} {old or 'no data'} → {new or 'no data'}"
            for e164, old, new in self.moves[:20]
        )
        more = f" and {len(self.moves) - 20} more" if len(self.moves) > 20 else ""
        return f"Spam risk changed for {len(self.moves)} number(s): {shown}{more}."


def observation_values(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of `reputation_data`, each read by key and nullable."""
    risk = data.get("spam_risk")
    category = data.get("spam_category")
    return {
        "spam_risk": risk if risk in SpamRisk.values else None,
        "spam_category": str(category)[:100] if category else None,
        **{name: _score(data.get(name)) for name in SCORE_FIELDS},
        "last_refreshed_at": _when(data.get("last_refreshed_at")),
    }


def apply_numbers(
    *,
    enterprise: Enterprise,
    items: Iterable[dict[str, Any]],
    source: str,
    now: dt.datetime,
    only: set[str] | None = None,
) -> Changes:
    """Store new observations of numbers the provider reported, and their risk."""
    by_number = {}
    for item in items:
        e164 = item.get("phone_number")
        if isinstance(e164, str) and (only is None or e164 in only):
            by_number[e164] = item
    changes = Changes()
    if not by_number:
        return changes
    owned = {
        n.e164: n
        for n in OwnedNumber.objects.filter(enterprise=enterprise, e164__in=by_number)
    }
    # Only each number's latest observation (index on number, observed_at).
    newest = Subquery(
        ReputationObservation.objects.filter(number=OuterRef("pk"))
        .order_by("-observed_at", "-id")
        .values("pk")[:1]
    )
    latest_ids = (
        OwnedNumber.objects.filter(pk__in=[n.pk for n in owned.values()])
        .annotate(latest=newest)
        .values_list("latest", flat=True)
    )
    latest = {
        obs.number_id: obs
        for obs in ReputationObservation.objects.filter(
            pk__in=[pk for pk in latest_ids if pk]
        )
    }
    new_rows, touched = [], []
    for e164, item in by_number.items():
        number = owned.get(e164)
        if number is None:
            logger.info("provider reports %s, which the enterprise does not own", e164)
            continue
        data = item.get("reputation_data")
        if not isinstance(data, dict):
            continue  # null until the provider's first check
        values = observation_values(data)
        previous = latest.get(number.pk)
        same = previous is not None and all(
            getattr(previous, k) == v for k, v in values.items()
        )
        if same:
            continue
        new_rows.append(
            ReputationObservation(
                organisation_id=enterprise.organisation_id,
                enterprise=enterprise,
                number=number,
                observed_at=now,
                source=source,
                data=data,
                **values,
            )
        )
        old = number.spam_risk
        new = values["spam_risk"]
        if old != new:
            changes.moves.append((e164, old, new))
            if new in ELEVATED_RISKS and old not in ELEVATED_RISKS:
                number.elevated_at = now
        number.spam_risk = new
        number.spam_category = values["spam_category"] or ""
        number.spam_risk_checked_at = now
        number.reputation_refreshed_at = values["last_refreshed_at"]
        if number.registered_at is None and source != ObservationSource.WEBHOOK:
            number.registered_at = now  # the provider monitors it
        touched.append(number)
    ReputationObservation.objects.bulk_create(new_rows, batch_size=500)
    enterprise_numbers_changed(enterprise.organisation_id)
    OwnedNumber.objects.bulk_update(
        touched,
        [
            "spam_risk",
            "spam_category",
            "spam_risk_checked_at",
            "reputation_refreshed_at",
            "elevated_at",
            "registered_at",
        ],
        batch_size=500,
    )
    changes.observed = len(new_rows)
    if changes.moves:
        # The audit entry also moves the outbound check's copy of these numbers.
        audit_record(
            actor=Actor.system_for(enterprise.organisation, SYSTEM),
            action="reputation.risk_change",
            target=enterprise,
            before={e: old for e, old, _ in changes.moves[:100]},
            after={e: new for e, _, new in changes.moves[:100]},
            reason=f"{ObservationSource(source).label}: {changes.words()}",
        )
    return changes


# --- The scheduled check ------------------------------------------------------------


def _lease_until(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.REMEDIATION_LEASE_SECONDS)


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
            .update(sync_claimed_until=_lease_until(now))
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
        record = _call(enterprise, "reputation_retrieve")
        items = None
        before = _gate_words(enterprise)
        _apply_record(enterprise, record)
        if enterprise.monitoring_approved:
            items = _call(enterprise, "numbers_list")
    except RemediationError as exc:
        _sync_failed(enterprise, exc, now)
        return None
    with transaction.atomic():
        after = _gate_words(enterprise)
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
        _schedule(enterprise, now)
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


# --- Billable refreshes -------------------------------------------------------------


def next_allowed_at(enterprise: Enterprise, now: dt.datetime) -> dt.datetime:
    """When the next billable refresh may go out (Retry-After, per-enterprise limit)."""
    allowed = now
    if enterprise.refresh_blocked_until and enterprise.refresh_blocked_until > allowed:
        allowed = enterprise.refresh_blocked_until
    window = dt.timedelta(seconds=settings.REPUTATION_REFRESH_WINDOW_SECONDS)
    limit = settings.REPUTATION_REFRESH_LIMIT
    sent = list(
        ReputationRefresh.objects.filter(
            enterprise=enterprise, sent_at__gt=now - window
        )
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)[:limit]
    )
    if len(sent) >= limit:
        allowed = max(allowed, sent[-1] + window)
    return allowed


def _local(when: dt.datetime, enterprise: Enterprise) -> str:
    local = timezone.localtime(when, enterprise.organisation.tzinfo)
    return f"{local:%Y-%m-%d %H:%M} ({enterprise.organisation.time_zone})"


def reputation_refresh_request(
    *, actor: Actor, enterprise: Enterprise, phone_numbers: object
) -> ReputationRefresh:
    """Queue a billable refresh of 1–100 registered numbers (operators, admins)."""
    actor.require(*REFRESH_ROLES)
    numbers = _clean_batch(phone_numbers)
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
    from remediation.tasks import reputation_refresh_run

    reputation_refresh_run.apply_async((job_id,), **_route())


def _route() -> dict[str, str]:
    from remediation.tasks import _route as route

    return route()


def refresh_run(*, job_id: int) -> float | None:
    """Send one queued refresh; seconds until it may be tried again, else None."""
    now = timezone.now()
    claimed = (
        ReputationRefresh.objects.filter(
            pk=job_id, status=RefreshStatus.QUEUED, run_after__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(status=RefreshStatus.RUNNING, claimed_until=_lease_until(now))
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
        answer = _call(enterprise, "numbers_refresh", phone_numbers=job.phone_numbers)
        ReputationRefresh.objects.filter(pk=job.pk).update(sent_at=timezone.now())
        items = _call(enterprise, "numbers_list")
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
        if job.request_id:
            _follow_up_finish(job.request, {}, reason=f"Refresh refused: {error}")


def _refresh_done(
    job: ReputationRefresh, answer: dict[str, Any], items: list[dict[str, Any]]
) -> None:
    now = timezone.now()
    results = answer.get("results") if isinstance(answer.get("results"), list) else []
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
        if job.request_id:
            risks = dict(
                OwnedNumber.objects.filter(
                    enterprise=job.enterprise, e164__in=ok
                ).values_list("e164", "spam_risk")
            )
            _follow_up_finish(job.request, risks)


# --- Closing the loop ---------------------------------------------------------------


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
                _follow_up_finish(
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


def _follow_up_finish(
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


# --- Organisation settings of monitoring ----------------------------------------------


def monitoring_settings_update(
    *,
    actor: Actor,
    review_flagged: bool | None = None,
    telnyx_public_key: str | None = None,
    time_zone: str | None = None,
) -> Any:
    """The review list, the webhook key and the organisation's time zone (admin)."""
    from trustconsole.core.models import time_zone_validate
    from voicegate.signatures import telnyx_key_valid

    actor.require()
    row = selectors.settings_for(organisation=actor.organisation)
    organisation = actor.organisation
    before = {
        "review_flagged": row.review_flagged,
        "telnyx_public_key": row.telnyx_public_key,
        "time_zone": organisation.time_zone,
    }
    if telnyx_public_key is not None:
        key = telnyx_public_key.strip()
        if key and not telnyx_key_valid(key):
            raise ValidationError(
                {"telnyx_public_key": "Not a base64 Ed25519 public key (32 bytes)."}
            )
        row.telnyx_public_key = key
    if review_flagged is not None:
        row.review_flagged = review_flagged
    if time_zone is not None:
        time_zone_validate(time_zone.strip())
        organisation.time_zone = time_zone.strip()
    after = {
        "review_flagged": row.review_flagged,
        "telnyx_public_key": row.telnyx_public_key,
        "time_zone": organisation.time_zone,
    }
    if after == before:
        return row
    with transaction.atomic():
        row.save()
        organisation.save(update_fields=["time_zone"])
        if organisation.time_zone != before["time_zone"]:
            # Scheduled checks move with the organisation's business days.
            for enterprise in Enterprise.objects.filter(
                organisation=organisation, reputation_enabled_at__isnull=False
            ).select_related("organisation"):
                enterprise.organisation = organisation
                _schedule(enterprise, timezone.now())
                enterprise.save(update_fields=["next_sync_at"])
        changed = [
            name.replace("_", " ") for name in after if after[name] != before[name]
        ]
        audit_record(
            actor=actor,
            action="reputation.settings_update",
            target=row,
            before=before,
            after=after,
            reason=f"Monitoring settings changed: {', '.join(changed)}.",
        )
    return row
