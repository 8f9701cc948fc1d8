"""Reads of the voicegate app, scoped to the actor's organisation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.selectors import scoped_get
from trustconsole.lib.phones import PhoneNumberError, phone_normalise
from visitors.models import Visitor
from voicegate.choices import Reason
from voicegate.models import BlockedNumber, CallDecision, VoiceConnection, VoiceSettings


def voice_settings_for(organisation_id: int) -> VoiceSettings:
    """The organisation's gate settings, or an unsaved row with the defaults (a read
    never writes; the first settings change saves it)."""
    row = VoiceSettings.objects.filter(organisation_id=organisation_id).first()
    return row or VoiceSettings(organisation_id=organisation_id)


def connection_list(*, actor: Actor) -> QuerySet[VoiceConnection]:
    """The organisation's voice connections."""
    return VoiceConnection.objects.filter(organisation=actor.organisation)


def connection_get(*, actor: Actor, public_id: object) -> VoiceConnection:
    """One connection of the organisation (404 otherwise)."""
    return scoped_get(VoiceConnection.objects.all(), actor=actor, public_id=public_id)


def blocked_number_list(*, actor: Actor, search: str = "") -> QuerySet[BlockedNumber]:
    """The organisation block list, newest first."""
    rows = BlockedNumber.objects.filter(organisation=actor.organisation)
    if search:
        rows = rows.filter(number__contains=search.strip().lstrip("+"))
    return rows


def blocked_number_get(*, actor: Actor, public_id: object) -> BlockedNumber:
    """One block-list entry of the organisation (404 otherwise)."""
    return scoped_get(BlockedNumber.objects.all(), actor=actor, public_id=public_id)


def call_get(*, actor: Actor, decision_id: object) -> CallDecision:
    """One decision of the actor's organisation (404 for any other, and for an id
    that is not a whole number a row could have)."""
    from django.http import Http404

    text = str(decision_id)
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise Http404("No such call decision.")
    row = CallDecision.objects.filter(
        organisation=actor.organisation, pk=int(text)
    ).first()
    if row is None:
        raise Http404("No such call decision.")
    return row


def call_list(
    *,
    actor: Actor,
    decision: str = "",
    number: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    visitor_id: int | None = None,
) -> QuerySet[CallDecision]:
    """Decisions of the organisation with the Calls page's filters.

    `number` matches the caller's E.164 when it parses, else the raw caller or callee.
    """
    rows = CallDecision.objects.filter(organisation=actor.organisation).select_related(
        "connection"
    )
    if decision:
        rows = rows.filter(decision=decision)
    if number:
        try:
            rows = rows.filter(caller_e164=phone_normalise(number))
        except PhoneNumberError:
            rows = rows.filter(caller__icontains=number) | rows.filter(
                callee__icontains=number
            )
    tz = timezone.get_current_timezone()
    if date_from:
        start = dt.datetime.combine(date_from, dt.time.min, tzinfo=tz)
        rows = rows.filter(created_at__gte=start)
    if date_to:
        end = dt.datetime.combine(
            date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz
        )
        rows = rows.filter(created_at__lt=end)
    if visitor_id is not None:
        rows = rows.filter(visitor_id=visitor_id)
    return rows


def visitors_by_id(ids: set[int]) -> dict[int, Visitor]:
    """Visitors named by decisions on one page, in one query."""
    if not ids:
        return {}
    return {v.pk: v for v in Visitor.objects.filter(pk__in=ids)}


def dashboard_calls(*, actor: Actor, since: dt.datetime) -> dict[str, Any]:
    """The dashboard's call numbers: allowed/rejected per day, fail-mode decisions."""
    from trustconsole.lib.timeseries import counts_per_day

    calls = CallDecision.objects.filter(
        organisation=actor.organisation, created_at__gte=since
    )
    fail = dict(
        calls.filter(reason__in=(Reason.FAIL_OPEN, Reason.FAIL_CLOSED))
        .order_by()
        .values_list("reason")
        .annotate(n=Count("pk"))
    )
    return {
        "per_day": counts_per_day(calls, by="decision"),
        "fail_mode": {
            r: fail.get(r, 0) for r in (Reason.FAIL_OPEN, Reason.FAIL_CLOSED)
        },
    }


def fail_mode_counts(
    *, actor: Actor, since: dt.datetime | None = None
) -> dict[str, int]:
    """Calls the gate had to decide in a fail mode: {"fail_open": n, "fail_closed": n}.

    The persisted side of the FAIL-OPEN/FAIL-CLOSED counter (each process also
    counts its own in `gate.failure_count()`), for metrics and the dashboard.
    """
    from django.db.models import Count

    from voicegate.choices import Reason

    rows = CallDecision.objects.filter(
        organisation=actor.organisation,
        reason__in=(Reason.FAIL_OPEN, Reason.FAIL_CLOSED),
    )
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    counts = dict(rows.values_list("reason").annotate(n=Count("id")).order_by())
    return {
        Reason.FAIL_OPEN.value: counts.get(Reason.FAIL_OPEN, 0),
        Reason.FAIL_CLOSED.value: counts.get(Reason.FAIL_CLOSED, 0),
    }
