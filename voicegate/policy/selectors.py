"""Reads of the outbound policy check, always scoped to the actor's organisation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.selectors import scoped_get
from trustconsole.lib.phones import PhoneNumberError, phone_normalise
from voicegate.models import (
    ConsentRecord,
    DncEntry,
    DncImport,
    DncList,
    OutboundDenial,
    PolicySettings,
    VerifiedCallerId,
)
from voicegate.policy import memory


def policy_settings_get(*, actor: Actor) -> PolicySettings:
    """The organisation's settings (created with defaults on first use)."""
    return memory.settings_row(actor.organisation.pk)


def dnc_list_list(*, actor: Actor) -> QuerySet[DncList]:
    """Do-Not-Call lists of the organisation, by name."""
    return DncList.objects.filter(organisation=actor.organisation)


def dnc_list_get(*, actor: Actor, public_id: object) -> DncList:
    """One list of the actor's organisation (404 otherwise)."""
    return scoped_get(dnc_list_list(actor=actor), actor=actor, public_id=public_id)


def dnc_last_imports(*, lists: list[DncList]) -> dict[int, DncImport]:
    """The newest import of each list, in one query."""
    latest: dict[int, DncImport] = {}
    ids = [item.pk for item in lists]
    for row in DncImport.objects.filter(dnc_list_id__in=ids).order_by(
        "dnc_list_id", "-created_at", "-id"
    ):
        latest.setdefault(row.dnc_list_id, row)
    return latest


def dnc_entry_list(*, dnc_list: DncList, number: str = "") -> QuerySet[DncEntry]:
    """Numbers of a list in order; `number` finds one (any format)."""
    qs = DncEntry.objects.filter(dnc_list=dnc_list).order_by("number")
    if number:
        try:
            e164 = phone_normalise(number, region=dnc_list.country or None)
        except PhoneNumberError:
            return qs.none()
        qs = qs.filter(number=int(e164[1:]))
    return qs


def dnc_entry_stream(*, dnc_list: DncList, chunk: int = 20_000) -> Iterator[str]:
    """Every number of a list as E.164, read in chunks (for exports)."""
    numbers = (
        DncEntry.objects.filter(dnc_list=dnc_list)
        .order_by("number")
        .values_list("number", flat=True)
    )
    for number in numbers.iterator(chunk_size=chunk):
        yield f"+{number}"


def dnc_import_list(*, actor: Actor, dnc_list: DncList | None = None) -> QuerySet:
    """Imports, newest first."""
    qs = DncImport.objects.filter(organisation=actor.organisation)
    if dnc_list is not None:
        qs = qs.filter(dnc_list=dnc_list)
    return qs.select_related("dnc_list")


def dnc_import_get(*, actor: Actor, public_id: object) -> DncImport:
    """One import of the actor's organisation (404 otherwise)."""
    return scoped_get(dnc_import_list(actor=actor), actor=actor, public_id=public_id)


def caller_id_list(
    *, actor: Actor, account: object | None = None
) -> QuerySet[VerifiedCallerId]:
    """Verified caller IDs, newest verification first."""
    qs = VerifiedCallerId.objects.filter(organisation=actor.organisation)
    if account is not None:
        qs = qs.filter(account=account)
    return qs.select_related("account")


def caller_id_get(*, actor: Actor, public_id: object) -> VerifiedCallerId:
    """One verified caller ID (404 outside the organisation)."""
    return scoped_get(caller_id_list(actor=actor), actor=actor, public_id=public_id)


def consent_list(
    *, actor: Actor, account: object | None = None, number: str = ""
) -> QuerySet[ConsentRecord]:
    """Consent records, newest first."""
    qs = ConsentRecord.objects.filter(organisation=actor.organisation)
    if account is not None:
        qs = qs.filter(account=account)
    if number:
        qs = qs.filter(number__contains=number.strip())
    return qs.select_related("account")


def consent_get(*, actor: Actor, public_id: object) -> ConsentRecord:
    """One consent record (404 outside the organisation)."""
    return scoped_get(consent_list(actor=actor), actor=actor, public_id=public_id)


def denial_list(
    *, actor: Actor, account: object | None = None, code: str = ""
) -> QuerySet[OutboundDenial]:
    """Refused outbound calls, newest first."""
    qs = OutboundDenial.objects.filter(organisation=actor.organisation)
    if account is not None:
        qs = qs.filter(account=account)
    if code:
        qs = qs.filter(codes__contains=code)
    return qs.select_related("account")


def denial_counts_by_account(
    *, actor: Actor, days: int = 30, now: dt.datetime | None = None
) -> QuerySet:
    """Denials per customer account in the last `days`, most first."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return (
        OutboundDenial.objects.filter(
            organisation=actor.organisation, account__isnull=False
        )
        .values("account__public_id", "account__company_name", "account__status")
        .annotate(
            total=Count("id", filter=Q(created_at__gte=since)),
        )
        .filter(total__gt=0)
        .order_by("-total", "account__company_name")
    )


def policy_counts(*, actor: Actor) -> dict[str, int]:
    """Figures for the top of the Policy page."""
    org = actor.organisation
    day_ago = timezone.now() - dt.timedelta(days=1)
    lists = DncList.objects.filter(organisation=org)
    return {
        "lists": lists.count(),
        "dnc_numbers": sum(lists.values_list("entry_count", flat=True)),
        "caller_ids": VerifiedCallerId.objects.filter(organisation=org).count(),
        "consents": ConsentRecord.objects.filter(organisation=org).count(),
        "denials_24h": OutboundDenial.objects.filter(
            organisation=org, created_at__gte=day_ago
        ).count(),
    }


def dashboard_refusals(*, actor: Actor, since: dt.datetime) -> dict[str, int]:
    """Outbound checks refused since `since`, counted once per violation found."""
    from voicegate.policy.choices import Violation

    counts = (
        OutboundDenial.objects.filter(
            organisation=actor.organisation, created_at__gte=since
        )
        .order_by()
        .aggregate(
            **{
                code: Count("pk", filter=Q(codes__contains=code))
                for code in Violation.values
            }
        )
    )
    return {code: counts[code] or 0 for code in Violation.values}
