"""Reads of the remediation app, always scoped to the actor's organisation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404
from django.utils import timezone

from remediation.choices import BUCKETS, ELEVATED_RISKS, SpamRisk
from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    RemediationSettings,
    ReputationObservation,
    ReputationRefresh,
    WebhookDelivery,
)
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.core.selectors import scoped_get


def settings_for(*, organisation: Organisation) -> RemediationSettings:
    """The organisation's remediation settings, or an unsaved row with the defaults
    and no signing secret yet (a read never writes; the first settings change, or
    the first signed webhook, saves the row with a fresh secret)."""
    row = RemediationSettings.objects.filter(organisation=organisation).first()
    return row or RemediationSettings(organisation=organisation, webhook_secret="")


def enterprise_list(*, actor: Actor) -> QuerySet[Enterprise]:
    """Enterprises of the actor's organisation, by name."""
    return Enterprise.objects.filter(organisation=actor.organisation)


def enterprise_get(*, actor: Actor, public_id: object) -> Enterprise:
    """One enterprise of the actor's organisation (404 otherwise)."""
    return scoped_get(enterprise_list(actor=actor), actor=actor, public_id=public_id)


def enterprise_default(*, actor: Actor) -> Enterprise | None:
    """The enterprise pages show first: one that may remediate, else the first."""
    enterprises = list(enterprise_list(actor=actor))
    for enterprise in enterprises:
        if enterprise.can_remediate:
            return enterprise
    return enterprises[0] if enterprises else None


def number_list(
    *,
    actor: Actor,
    enterprise: Enterprise,
    spam_risk: str = "",
    flagged: bool = False,
    search: str = "",
) -> QuerySet[OwnedNumber]:
    """Owned numbers of an enterprise, optionally only flagged or of one risk."""
    qs = OwnedNumber.objects.filter(
        organisation=actor.organisation, enterprise=enterprise
    )
    if spam_risk == "none":
        qs = qs.filter(spam_risk__isnull=True)
    elif spam_risk:
        qs = qs.filter(spam_risk=spam_risk)
    if flagged:
        qs = qs.filter(monitored=True, spam_risk__in=ELEVATED_RISKS)
    digits = "".join(ch for ch in search if ch.isdigit())
    if digits:
        qs = qs.filter(e164__contains=digits)
    return qs


def number_get(*, actor: Actor, enterprise: Enterprise, e164: str) -> OwnedNumber:
    """One owned number of an enterprise (404 otherwise)."""
    number = number_list(actor=actor, enterprise=enterprise).filter(e164=e164).first()
    if number is None:
        raise Http404("Not found.")
    return number


def flagged_numbers(
    *, actor: Actor, enterprise: Enterprise, cooldown_days: int
) -> QuerySet[OwnedNumber]:
    """Flagged numbers with whether each is in flight or in its cooldown window.

    Annotated `in_flight` (a pending or in-progress request holds it) and
    `in_cooldown` (remediated within the organisation's cooldown): the page shows
    why a number cannot be picked, or will be accepted as ineligible.
    """
    cutoff = timezone.now() - dt.timedelta(days=cooldown_days)
    busy = RemediationNumber.objects.filter(
        enterprise=enterprise, in_flight=True, e164=OuterRef("e164")
    )
    return (
        number_list(actor=actor, enterprise=enterprise, flagged=True)
        .annotate(in_flight=Exists(busy))
        .annotate(
            in_cooldown=Case(
                When(last_remediated_at__gte=cutoff, then=Value(True)),  # noqa: FBT003
                default=Value(False),  # noqa: FBT003
                output_field=BooleanField(),
            )
            if cooldown_days
            else Value(False)  # noqa: FBT003 - an SQL literal
        )
        .annotate(
            risk_rank=Case(
                When(spam_risk=SpamRisk.HIGH, then=Value(0)),
                default=Value(1),
            )
        )
        .order_by("risk_rank", "e164")
    )


def request_list(
    *,
    actor: Actor,
    enterprise: Enterprise | None = None,
    status: str = "",
    created_gte: dt.datetime | None = None,
    created_lte: dt.datetime | None = None,
) -> QuerySet[RemediationRequest]:
    """Remediation requests of the organisation, newest first, optionally filtered."""
    qs = RemediationRequest.objects.filter(
        organisation=actor.organisation
    ).select_related("enterprise")
    if enterprise is not None:
        qs = qs.filter(enterprise=enterprise)
    if status:
        qs = qs.filter(status=status)
    if created_gte is not None:
        qs = qs.filter(created_at__gte=created_gte)
    if created_lte is not None:
        qs = qs.filter(created_at__lte=created_lte)
    return qs


def request_get(
    *, actor: Actor, public_id: object, enterprise: Enterprise | None = None
) -> RemediationRequest:
    """One request of the organisation (and enterprise, if given), else 404."""
    return scoped_get(
        request_list(actor=actor, enterprise=enterprise),
        actor=actor,
        public_id=public_id,
    )


def request_results(*, request: RemediationRequest) -> dict[str, list[str]] | None:
    """The seed's `results`: null until available, then all five buckets."""
    if not request.results_available:
        return None
    buckets: dict[str, list[str]] = {name: [] for name in BUCKETS}
    rows = (
        RemediationNumber.objects.filter(request=request)
        .exclude(outcome="")
        .order_by("position")
        .values_list("e164", "outcome")
    )
    for e164, outcome in rows:
        buckets[outcome].append(e164)
    return buckets


@dataclass(frozen=True)
class Progress:
    """Numbers with a result out of the numbers submitted (the page's bar)."""

    done: int
    submitted: int

    @property
    def percent(self) -> int:
        """Whole percent, 100 when nothing was left to submit."""
        if not self.submitted:
            return 100
        return round(100 * self.done / self.submitted)


def request_progress(*, request: RemediationRequest) -> Progress:
    """How many submitted numbers already have a result."""
    done = (
        RemediationNumber.objects.filter(request=request, eligible=True)
        .exclude(outcome="")
        .count()
    )
    return Progress(done=done, submitted=request.phone_numbers_submitted)


def request_numbers(*, request: RemediationRequest) -> QuerySet[RemediationNumber]:
    """The request's numbers in submission order."""
    return RemediationNumber.objects.filter(request=request).order_by("position")


def request_deliveries(*, request: RemediationRequest) -> QuerySet[WebhookDelivery]:
    """Status webhooks of a request with every attempt."""
    return WebhookDelivery.objects.filter(request=request).prefetch_related(
        "attempt_log"
    )


# --- Number reputation monitoring ----------------------------------------------------


def review_numbers(
    *, actor: Actor, enterprise: Enterprise, cooldown_days: int
) -> list[OwnedNumber]:
    """Numbers that became elevated and were not remediated since, newest first.

    Each carries `suggested` (not in flight, not in its cooldown window): together
    they are the suggested remediation batch.
    """
    cutoff = timezone.now() - dt.timedelta(days=cooldown_days)
    busy = RemediationNumber.objects.filter(
        enterprise=enterprise, in_flight=True, e164=OuterRef("e164")
    )
    rows = list(
        number_list(actor=actor, enterprise=enterprise, flagged=True)
        .filter(elevated_at__isnull=False)
        .filter(
            Q(last_remediated_at__isnull=True)
            | Q(last_remediated_at__lt=F("elevated_at"))
        )
        .annotate(in_flight=Exists(busy))
        .order_by("-elevated_at", "e164")[:200]
    )
    review: list[OwnedNumber] = []
    for row in rows:
        cooling = bool(
            cooldown_days
            and row.last_remediated_at
            and row.last_remediated_at >= cutoff
        )
        row.suggested = not row.in_flight and not cooling
        review.append(row)
    return review


def observation_list(*, number: OwnedNumber) -> QuerySet[ReputationObservation]:
    """A number's reputation history, oldest first."""
    return ReputationObservation.objects.filter(number=number).order_by(
        "observed_at", "id"
    )


def refresh_list(
    *, actor: Actor, enterprise: Enterprise
) -> QuerySet[ReputationRefresh]:
    """Billable refreshes of an enterprise, newest first."""
    return ReputationRefresh.objects.filter(
        organisation=actor.organisation, enterprise=enterprise
    ).select_related("request")


def number_remediations(*, number: OwnedNumber) -> QuerySet[RemediationNumber]:
    """The remediation requests a number was in, newest first."""
    return (
        RemediationNumber.objects.filter(enterprise=number.enterprise, e164=number.e164)
        .select_related("request")
        .order_by("-request__created_at")
    )


def request_effects(*, request: RemediationRequest) -> dict[str, int]:
    """How many of the request's numbers fell to low or stayed flagged afterwards."""
    counts: dict[str, int] = {}
    rows = RemediationNumber.objects.filter(
        request=request, risk_after_at__isnull=False
    ).only("outcome", "risk_after", "risk_after_at")
    for row in rows:
        counts[row.effect] = counts.get(row.effect, 0) + 1
    return counts


def dashboard_outcomes(*, actor: Actor) -> dict[str, int]:
    """How many submitted numbers ended in each bucket (all requests)."""
    rows = dict(
        RemediationNumber.objects.filter(request__organisation=actor.organisation)
        .exclude(outcome="")
        .order_by()
        .values_list("outcome")
        .annotate(n=Count("pk"))
    )
    return {bucket: rows.get(bucket, 0) for bucket in BUCKETS}
