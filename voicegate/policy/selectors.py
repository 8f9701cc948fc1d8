"""Reads of the outbound policy check, always scoped to the actor's organisation."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from trustconsole.core.actor import Actor
from trustconsole.core.selectors import scoped_get
from trustconsole.lib.phones import PhoneNumberError, phone_normalise
from voicegate.policy import memory, registry, store
from voicegate.policy.choices import DncKind, DncStorage
from voicegate.policy.models import (
    ConsentRecord,
    DncChange,
    DncEntry,
    DncImport,
    DncList,
    OutboundDenial,
    PolicySettings,
    VerifiedCallerId,
)


def policy_settings_get(*, actor: Actor) -> PolicySettings:
    """The organisation's settings (created with defaults on first use)."""
    return memory.settings_row(actor.organisation.pk)


def dnc_list_list(*, actor: Actor) -> QuerySet[DncList]:
    """Do-Not-Call lists of the organisation, by name."""
    return DncList.objects.filter(organisation=actor.organisation).select_related(
        "current_version"
    )


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


@dataclass(frozen=True)
class FileEntry:
    """One number of a file-backed list, shaped like a DncEntry for pages."""

    number: int

    @property
    def e164(self) -> str:
        """The number with its +."""
        return f"+{self.number}"


class FileEntries(Sequence):
    """The numbers of a file-backed list in order: its current version's files with
    the single changes since applied; pages are read straight from the mapping."""

    def __init__(self, dnc_list: DncList) -> None:
        self.files: registry.VersionFiles | None = None
        version = dnc_list.current_version
        floor = version.change_floor if version else 0
        if version is not None:
            try:
                self.files = store.version_open(
                    dnc_list.public_id,
                    version.base_file,
                    version.adds_file,
                    version.dels_file,
                    warm=False,
                )
            except registry.DncFileError:
                self.files = None
        latest: dict[int, bool] = {}
        singles = DncChange.objects.filter(dnc_list=dnc_list, id__gt=floor)
        for number, present in singles.order_by("id").values_list("number", "present"):
            latest[number] = bool(present)
        files = self.files
        self.added = sorted(
            n for n, present in latest.items() if present and not (files and n in files)
        )
        self.removed = {
            n for n, present in latest.items() if not present and files and n in files
        }
        self.total = (len(files) if files else 0) + len(self.added) - len(self.removed)

    def __len__(self) -> int:
        return self.total

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        if number in self.removed:
            return False
        return number in self.added or bool(self.files and number in self.files)

    def __iter__(self) -> Iterator[FileEntry]:
        for number in self.numbers():
            yield FileEntry(number)

    def numbers(self) -> Iterator[int]:
        """Every number in order."""
        merged = heapq.merge(self.files or (), self.added)
        removed = self.removed
        return (n for n in merged if n not in removed)

    def __getitem__(self, index: Any) -> Any:
        files = self.files
        plain = files is not None and not (
            files.adds.count or files.dels.count or self.added or self.removed
        )
        if isinstance(index, slice):
            start, stop, _ = index.indices(self.total)
            if plain and files is not None:
                return [FileEntry(n) for n in files.base.view[start:stop]]
            return [FileEntry(n) for n in itertools.islice(self.numbers(), start, stop)]
        if index < 0:
            index += self.total
        found = self[index : index + 1]
        if not found:
            raise IndexError(index)
        return found[0]


def dnc_entry_list(*, dnc_list: DncList, number: str = "") -> Any:
    """Numbers of a list in order; `number` finds one (any format)."""
    if dnc_list.storage == DncStorage.FILE:
        entries = FileEntries(dnc_list)
        if not number:
            return entries
        try:
            e164 = phone_normalise(number, region=dnc_list.country or None)
        except PhoneNumberError:
            return []
        digits = int(e164[1:])
        return [FileEntry(digits)] if digits in entries else []
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
    if dnc_list.storage == DncStorage.FILE:
        for number in FileEntries(dnc_list).numbers():
            yield f"+{number}"
        return
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
    return qs.select_related("dnc_list", "version")


def dnc_import_get(*, actor: Actor, public_id: object) -> DncImport:
    """One import of the actor's organisation (404 otherwise)."""
    return scoped_get(dnc_import_list(actor=actor), actor=actor, public_id=public_id)


def caller_id_list(
    *, actor: Actor, account: Account | None = None
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
    *, actor: Actor, account: Account | None = None, number: str = ""
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
    *, actor: Actor, account: Account | None = None, code: str = ""
) -> QuerySet[OutboundDenial]:
    """Refused outbound calls, newest first."""
    qs = OutboundDenial.objects.filter(organisation=actor.organisation)
    if account is not None:
        qs = qs.filter(account=account)
    if code:
        qs = qs.filter(codes__contains=code)
    return qs.select_related("account")


def denial_get(*, actor: Actor, public_id: object) -> OutboundDenial:
    """One refused outbound call of the actor's organisation (404 otherwise)."""
    return scoped_get(
        OutboundDenial.objects.select_related("account"),
        actor=actor,
        public_id=public_id,
    )


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


def dnc_list_freshness(
    *,
    actor: Actor | None = None,
    today: dt.date | None = None,
    lists: list[DncList] | None = None,
) -> list[dict[str, Any]]:
    """How current each national list is, and whether its file can be read here.

    With an actor: that organisation's lists; without: every organisation's (for a
    metrics endpoint). Each row: organisation (slug), list (public id), name, as_of,
    age_days (None if no dated file), stale (older than 31 days or undated),
    version, count, file_ok (the current version's files open on this host).
    `lists` (already read, with their current version) saves the query.
    """
    today = today or timezone.localdate()
    if lists is None:
        found = DncList.objects.filter(kind=DncKind.NATIONAL).select_related(
            "organisation", "current_version"
        )
        if actor is not None:
            found = found.filter(organisation=actor.organisation)
        lists = list(found.order_by("organisation__slug", "name"))
    rows = []
    for item in lists:
        if item.kind != DncKind.NATIONAL:
            continue
        version = item.current_version
        file_ok = True
        if item.storage == DncStorage.FILE and version is not None:
            try:
                store.version_open(
                    item.public_id,
                    version.base_file,
                    version.adds_file,
                    version.dels_file,
                    warm=False,
                ).close()
            except registry.DncFileError:
                file_ok = False
        age = (today - item.as_of).days if item.as_of else None
        rows.append(
            {
                "organisation": (
                    actor.organisation if actor else item.organisation
                ).slug,
                "list": str(item.public_id),
                "name": item.name,
                "as_of": item.as_of,
                "age_days": age,
                "stale": age is None or age > memory.SAFE_HARBOUR_DAYS,
                "version": version.number if version else None,
                "count": item.entry_count,
                "file_ok": file_ok,
            }
        )
    return rows


def _has_code(code: str) -> Q:
    """Denials whose comma-separated codes include `code` itself (`dnc` is not
    `dnc_stale`)."""
    return (
        Q(codes=code)
        | Q(codes__startswith=f"{code},")
        | Q(codes__endswith=f",{code}")
        | Q(codes__contains=f",{code},")
    )


def dashboard_refusals(*, actor: Actor, since: dt.datetime) -> dict[str, int]:
    """Outbound checks refused since `since`, counted once per violation found."""
    from voicegate.policy.choices import Violation

    counts = (
        OutboundDenial.objects.filter(
            organisation=actor.organisation, created_at__gte=since
        )
        .order_by()
        .aggregate(
            **{code: Count("pk", filter=_has_code(code)) for code in Violation.values}
        )
    )
    return {code: counts[code] or 0 for code in Violation.values}
