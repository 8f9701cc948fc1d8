"""Writes of the outbound policy check. Every list change is audited.

Operators and support (and admins) keep the lists and run checks; only admins change
the settings; viewers read. Each write bumps the version key of the in-memory copy
it affects (keys.py), so every process picks the change up on its next check.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import uuid
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.services import audit_record, audit_snapshot
from trustconsole.lib.phones import PhoneNumberError, phone_normalise
from voicegate.models import (
    ConsentRecord,
    DncChange,
    DncEntry,
    DncImport,
    DncList,
    OutboundDenial,
    PolicySettings,
    VerifiedCallerId,
)
from voicegate.policy import check, importer, keys, memory
from voicegate.policy.choices import (
    DncKind,
    ImportStatus,
    SignalWeight,
    VerificationMethod,
    Violation,
)

logger = logging.getLogger(__name__)

ACT = (Role.OPERATOR, Role.SUPPORT)
SETTINGS_FIELDS = [
    "harassment_limit",
    "harassment_window_seconds",
    "blacklisted_do_not_contact",
    "denial_threshold",
    "denial_window_seconds",
    "denial_signal_weight",
    "auto_restrict_voice",
]


def _e164(raw: str, field: str, *, region: str | None = None) -> str:
    try:
        return phone_normalise(str(raw or ""), region=region or None)
    except PhoneNumberError as exc:
        raise ValidationError({field: f"{raw!r} {exc.reason}."}) from None


def _text(value: str, field: str, *, required: bool, limit: int) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > limit:
        raise ValidationError({field: f"Keep it to {limit} characters."})
    return value


def _country(value: str, field: str = "country") -> str:
    import phonenumbers

    value = (value or "").strip().upper()
    if value and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({field: f"{value!r} is not a known ISO country code."})
    return value


# --- Settings ------------------------------------------------------------------------


@transaction.atomic
def policy_settings_update(*, actor: Actor, **changes: Any) -> PolicySettings:
    """Change the organisation's outbound policy settings (admins)."""
    actor.require()
    row = memory.settings_row(actor.organisation.pk)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown setting." for name in unknown})
    if "denial_signal_weight" in changes and (
        changes["denial_signal_weight"] not in SignalWeight.values
    ):
        raise ValidationError(
            {"denial_signal_weight": "Choose one of 10, 20, 40 or 70."}
        )
    before = audit_snapshot(row, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    audit_record(
        actor=actor,
        action="policy.settings_update",
        target=row,
        before=before,
        after=audit_snapshot(row, SETTINGS_FIELDS),
    )
    keys.bump(keys.settings_key(actor.organisation.pk))
    return row


# --- Do-Not-Call lists ---------------------------------------------------------------


@transaction.atomic
def dnc_list_create(
    *,
    actor: Actor,
    name: str,
    kind: str = DncKind.INTERNAL,
    country: str = "",
    description: str = "",
) -> DncList:
    """Create an empty Do-Not-Call list."""
    actor.require(*ACT)
    name = _text(name, "name", required=True, limit=120)
    if kind not in DncKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(DncKind.values)}."})
    if DncList.objects.filter(organisation=actor.organisation, name=name).exists():
        raise ValidationError({"name": f"There is already a list named {name!r}."})
    dnc_list = DncList(
        organisation=actor.organisation,
        name=name,
        kind=kind,
        country=_country(country),
        description=_text(description, "description", required=False, limit=500),
    )
    dnc_list.full_clean()
    dnc_list.save()
    audit_record(
        actor=actor,
        action="policy.dnc_list_create",
        target=dnc_list,
        after=audit_snapshot(dnc_list, ["name", "kind", "country", "description"]),
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return dnc_list


@transaction.atomic
def dnc_list_delete(*, actor: Actor, dnc_list: DncList, reason: str = "") -> None:
    """Delete a list with all its numbers (one DELETE, however long the list)."""
    actor.require(*ACT)
    audit_record(
        actor=actor,
        action="policy.dnc_list_delete",
        target=dnc_list,
        before={"name": dnc_list.name, "entry_count": dnc_list.entry_count},
        reason=reason,
    )
    _files_forget(DncImport.objects.filter(dnc_list=dnc_list))
    DncEntry.objects.filter(dnc_list=dnc_list)._raw_delete(DncEntry.objects.db)
    dnc_list.delete()
    keys.bump(keys.dnc_key(actor.organisation.pk))


@transaction.atomic
def dnc_list_empty(*, actor: Actor, dnc_list: DncList, reason: str = "") -> DncList:
    """Remove every number of a list (e.g. before importing a new registry file)."""
    actor.require(*ACT)
    before = dnc_list.entry_count
    DncEntry.objects.filter(dnc_list=dnc_list)._raw_delete(DncEntry.objects.db)
    DncList.objects.filter(pk=dnc_list.pk).update(
        entry_count=0, generation=F("generation") + 1
    )
    dnc_list.refresh_from_db()
    audit_record(
        actor=actor,
        action="policy.dnc_list_empty",
        target=dnc_list,
        before={"entry_count": before},
        after={"entry_count": 0},
        reason=reason,
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return dnc_list


@transaction.atomic
def dnc_number_add(*, actor: Actor, dnc_list: DncList, number: str) -> str:
    """Put one number on a list (E.164 returned); adding it twice changes nothing."""
    actor.require(*ACT)
    e164 = _e164(number, "number", region=dnc_list.country or None)
    digits = int(e164[1:])
    _, created = DncEntry.objects.get_or_create(dnc_list=dnc_list, number=digits)
    if not created:
        return e164
    DncList.objects.filter(pk=dnc_list.pk).update(entry_count=F("entry_count") + 1)
    DncChange.objects.create(
        organisation=actor.organisation, dnc_list=dnc_list, number=digits
    )
    audit_record(
        actor=actor,
        action="policy.dnc_number_add",
        target=dnc_list,
        after={"number": e164},
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return e164


@transaction.atomic
def dnc_number_remove(*, actor: Actor, dnc_list: DncList, number: str) -> str:
    """Take one number off a list (E.164 returned); 400 if it is not there."""
    actor.require(*ACT)
    e164 = _e164(number, "number", region=dnc_list.country or None)
    digits = int(e164[1:])
    deleted, _ = DncEntry.objects.filter(dnc_list=dnc_list, number=digits).delete()
    if not deleted:
        raise ValidationError({"number": f"{e164} is not on the list {dnc_list.name}."})
    DncList.objects.filter(pk=dnc_list.pk).update(entry_count=F("entry_count") - 1)
    DncChange.objects.create(
        organisation=actor.organisation, dnc_list=dnc_list, number=digits
    )
    audit_record(
        actor=actor,
        action="policy.dnc_number_remove",
        target=dnc_list,
        before={"number": e164},
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))
    return e164


# --- Imports -------------------------------------------------------------------


def import_dir() -> Path:
    """Where uploaded files wait for the worker (shared by web and worker)."""
    return Path(settings.POLICY_DNC_IMPORT_DIR)


def _files_forget(imports: Any) -> None:
    for path in imports.exclude(file_path="").values_list("file_path", flat=True):
        Path(path).unlink(missing_ok=True)


def _looks_like_text(head: bytes) -> bool:
    return b"\x00" not in head


@transaction.atomic
def dnc_import_start(
    *,
    actor: Actor,
    dnc_list: DncList,
    upload: IO[bytes],
    file_name: str,
    region: str = "",
    enqueue: bool = True,
) -> DncImport:
    """Store an uploaded CSV (streamed to disk) and queue its import.

    With `enqueue`, a Celery worker imports it after commit; the import row shows
    the progress. Without, the caller runs `dnc_import_process` itself.
    """
    actor.require(*ACT)
    region = _country(region, "region") or dnc_list.country
    directory = import_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.csv"
    try:
        with path.open("wb") as out:
            if hasattr(upload, "chunks"):
                for chunk in upload.chunks():
                    out.write(chunk)
            else:
                shutil.copyfileobj(upload, out, 1024 * 1024)
        size = path.stat().st_size
        with path.open("rb") as head:
            sample = head.read(4096)
        if not size:
            raise ValidationError({"file": "The file is empty."})
        if not _looks_like_text(sample):
            raise ValidationError({"file": "This is not a CSV text file."})
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    row = DncImport.objects.create(
        organisation=actor.organisation,
        dnc_list=dnc_list,
        file_name=Path(file_name or "upload.csv").name[:255],
        file_path=str(path),
        file_size=size,
        region=region,
        created_by=actor.label[:200],
    )
    audit_record(
        actor=actor,
        action="policy.dnc_import_start",
        target=dnc_list,
        after={"import": str(row.public_id), "file": row.file_name, "bytes": size},
    )
    if enqueue:
        from voicegate.policy.tasks import dnc_import_task

        transaction.on_commit(lambda: dnc_import_task.delay(row.pk))
    return row


def dnc_import_claim(*, import_id: int) -> DncImport | None:
    """Move a pending import to running; None if another worker got it first."""
    pending = DncImport.objects.filter(pk=import_id, status=ImportStatus.PENDING)
    claimed = pending.update(status=ImportStatus.RUNNING, started_at=timezone.now())
    if claimed != 1:
        return None
    return DncImport.objects.select_related("dnc_list", "organisation").get(
        pk=import_id
    )


def dnc_import_process(
    *, import_id: int, on_progress: Any = None, every_seconds: float = 1.0
) -> DncImport | None:
    """Run a claimed-or-pending import to the end, recording progress on its row."""
    row = dnc_import_claim(import_id=import_id)
    if row is None:
        logger.info("DNC import %s is not pending; nothing to do", import_id)
        return None
    dnc_list = row.dnc_list
    actor = Actor.system_for(row.organisation, "dnc import")
    path = Path(row.file_path)
    before = DncEntry.objects.filter(dnc_list=dnc_list).count()

    def report(progress: importer.ImportProgress) -> None:
        DncImport.objects.filter(pk=row.pk).update(
            bytes_read=progress.bytes_read,
            rows_read=progress.rows_read,
            valid=progress.valid,
            invalid=progress.invalid,
        )
        if on_progress is not None:
            on_progress(progress)

    try:
        progress = importer.import_file(
            path,
            list_id=dnc_list.pk,
            region=row.region or None,
            on_progress=report,
            every_seconds=every_seconds,
        )
    except Exception as exc:
        logger.exception("DNC import %s failed", import_id)
        DncImport.objects.filter(pk=row.pk).update(
            status=ImportStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            file_path="",
        )
        path.unlink(missing_ok=True)
        _import_finished(actor, dnc_list, row.pk)
        return DncImport.objects.get(pk=row.pk)
    path.unlink(missing_ok=True)
    after = DncEntry.objects.filter(dnc_list=dnc_list).count()
    added = max(0, after - before)
    with transaction.atomic():
        DncImport.objects.filter(pk=row.pk).update(
            status=ImportStatus.DONE,
            bytes_read=progress.bytes_read,
            rows_read=progress.rows_read,
            valid=progress.valid,
            invalid=progress.invalid,
            added=added,
            duplicates=max(0, progress.valid - added),
            errors=progress.errors,
            finished_at=timezone.now(),
            file_path="",
        )
        row.refresh_from_db()
        audit_record(
            actor=actor,
            action="policy.dnc_import_done",
            target=dnc_list,
            before={"entry_count": before},
            after={
                "entry_count": after,
                "import": str(row.public_id),
                "rows": progress.rows_read,
                "added": added,
                "duplicates": row.duplicates,
                "invalid": progress.invalid,
            },
        )
        _import_finished(actor, dnc_list, row.pk, count=after)
    return row


def _import_finished(
    actor: Actor, dnc_list: DncList, import_pk: int, *, count: int | None = None
) -> None:
    """New numbers are in the table: make every process read the list again."""
    if count is None:
        count = DncEntry.objects.filter(dnc_list=dnc_list).count()
    DncList.objects.filter(pk=dnc_list.pk).update(
        entry_count=count, generation=F("generation") + 1
    )
    keys.bump(keys.dnc_key(actor.organisation.pk))


def dnc_import_fail(*, import_id: int, error: str) -> None:
    """Record that an import could not run (task failure callback)."""
    DncImport.objects.filter(
        pk=import_id, status__in=[ImportStatus.PENDING, ImportStatus.RUNNING]
    ).update(status=ImportStatus.FAILED, error=error[:2000], finished_at=timezone.now())


# --- Verified caller IDs and consent ------------------------------------------------


def _account(actor: Actor, account_id: Any) -> Any:
    if account_id in (None, ""):
        return None
    if hasattr(account_id, "pk"):
        if account_id.organisation_id != actor.organisation.pk:
            from django.http import Http404

            raise Http404("Not found.")
        return account_id
    from accounts.selectors import account_get

    return account_get(actor=actor, public_id=account_id)


@transaction.atomic
def caller_id_verify(
    *,
    actor: Actor,
    number: str,
    method: str,
    account: Any = None,
    note: str = "",
    verified_at: dt.datetime | None = None,
) -> VerifiedCallerId:
    """Record that an account (or, with no account, the organisation) may present
    `number` as caller ID; who verified it and when are kept."""
    actor.require(*ACT)
    account = _account(actor, account)
    e164 = _e164(number, "number")
    if method not in VerificationMethod.values:
        raise ValidationError(
            {"method": f"Choose one of: {', '.join(VerificationMethod.values)}."}
        )
    if verified_at is not None and verified_at > timezone.now() + dt.timedelta(
        minutes=5
    ):
        raise ValidationError(
            {"verified_at": "A verification cannot be in the future."}
        )
    if VerifiedCallerId.objects.filter(
        organisation=actor.organisation, account=account, number=e164
    ).exists():
        raise ValidationError({"number": f"{e164} is already verified here."})
    row = VerifiedCallerId(
        organisation=actor.organisation,
        account=account,
        number=e164,
        method=method,
        note=_text(note, "note", required=False, limit=500),
        verified_by=actor.label[:200],
        verified_at=verified_at or timezone.now(),
    )
    row.full_clean()
    row.save()
    audit_record(
        actor=actor,
        action="policy.caller_id_verify",
        target=row,
        after={
            "number": e164,
            "account": str(account.public_id) if account else None,
            "method": method,
            "verified_at": row.verified_at,
        },
    )
    keys.bump(keys.caller_ids_key(actor.organisation.pk))
    return row


@transaction.atomic
def caller_id_remove(
    *, actor: Actor, caller_id: VerifiedCallerId, reason: str = ""
) -> None:
    """Withdraw a verified caller ID."""
    actor.require(*ACT)
    audit_record(
        actor=actor,
        action="policy.caller_id_remove",
        target=caller_id,
        before={
            "number": caller_id.number,
            "account": str(caller_id.account.public_id) if caller_id.account else None,
            "verified_by": caller_id.verified_by,
            "verified_at": caller_id.verified_at,
        },
        reason=reason,
    )
    caller_id.delete()
    keys.bump(keys.caller_ids_key(actor.organisation.pk))


@transaction.atomic
def consent_record(
    *,
    actor: Actor,
    number: str,
    evidence: str,
    account: Any = None,
    given_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Record that a destination agreed to be called (by one account, or by anyone
    calling for the organisation); it overrides Do-Not-Call until it expires."""
    actor.require(*ACT)
    account = _account(actor, account)
    e164 = _e164(number, "number")
    evidence = _text(evidence, "evidence", required=True, limit=500)
    given_at = given_at or timezone.now()
    if given_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"given_at": "Consent cannot be given in the future."})
    if expires_at is not None and expires_at <= given_at:
        raise ValidationError({"expires_at": "Expiry must be after consent was given."})
    if ConsentRecord.objects.filter(
        organisation=actor.organisation, account=account, number=e164
    ).exists():
        raise ValidationError({"number": f"Consent of {e164} is already recorded."})
    row = ConsentRecord(
        organisation=actor.organisation,
        account=account,
        number=e164,
        evidence=evidence,
        given_at=given_at,
        expires_at=expires_at,
        recorded_by=actor.label[:200],
    )
    row.full_clean()
    row.save()
    audit_record(
        actor=actor,
        action="policy.consent_record",
        target=row,
        after={
            "number": e164,
            "account": str(account.public_id) if account else None,
            "evidence": evidence,
            "given_at": given_at,
            "expires_at": expires_at,
        },
    )
    keys.bump(keys.consent_key(actor.organisation.pk))
    return row


@transaction.atomic
def consent_remove(*, actor: Actor, consent: ConsentRecord, reason: str = "") -> None:
    """Withdraw a consent record (the destination is protected by DNC again)."""
    actor.require(*ACT)
    audit_record(
        actor=actor,
        action="policy.consent_remove",
        target=consent,
        before={"number": consent.number, "evidence": consent.evidence},
        reason=reason,
    )
    consent.delete()
    keys.bump(keys.consent_key(actor.organisation.pk))


# --- The check -----------------------------------------------------------------


def outbound_check(
    *,
    actor: Actor,
    from_number: str,
    to_number: str,
    account: str | None = None,
    region: str | None = None,
) -> check.CheckOutcome:
    """Check a proposed outbound call; count it if allowed, log it if denied.

    Invalid numbers raise ValidationError naming `from` or `to`; an account of
    another organisation is a 404.
    """
    actor.require(*ACT)
    request = check.check_request_parse(
        from_number=from_number, to_number=to_number, account_id=account, region=region
    )
    outcome = check.check_evaluate(actor=actor, request=request)
    snap = outcome.snapshot
    assert snap is not None
    if outcome.allowed:
        # On Redis the call was already counted in the check's one round trip.
        if request.to_e164 is not None and snap.cache_ok and not snap.counted:
            _count_call(actor, outcome)
        return outcome
    if snap.counted:
        try:
            keys.counter_decr(snap.counted)
        except Exception:
            logger.exception("policy check: could not take back a refused call")
    _denial_log(actor=actor, outcome=outcome)
    return outcome


def _count_call(actor: Actor, outcome: check.CheckOutcome) -> None:
    snap = outcome.snapshot
    key = keys.harassment_key(
        str(actor.organisation.public_id),
        outcome.caller_key,
        outcome.request.to_e164 or "",
    )
    try:
        keys.counter_incr(key, timeout=snap.settings.harassment_window_seconds)
    except Exception:
        logger.exception("policy check: could not count an allowed call")


@transaction.atomic
def _denial_log(*, actor: Actor, outcome: check.CheckOutcome) -> OutboundDenial:
    """Keep the denial with its violations; repeated denials raise a risk signal."""
    request = outcome.request
    account = outcome.account
    codes = [f.code for f in outcome.findings]
    denial = OutboundDenial.objects.create(
        organisation=actor.organisation,
        account_id=account.pk if account else None,
        from_number=request.from_e164,
        to_number=request.to_e164 or request.to_raw[:64],
        violations=[f.as_dict() for f in outcome.findings],
        codes=",".join(codes)[:200],
        requested_by=actor.label[:200],
    )
    logger.info(
        "outbound call refused: %s → %s (%s)",
        request.from_e164,
        denial.to_number,
        denial.codes,
    )
    # A restricted account is refused every call: that alone is not a new offence.
    if account is not None and set(codes) != {Violation.ACCOUNT_RESTRICTED}:
        _denials_count(actor=actor, outcome=outcome)
    return denial


def _denials_count(*, actor: Actor, outcome: check.CheckOutcome) -> None:
    snap = outcome.snapshot
    account = outcome.account
    rules = snap.settings
    key = keys.denials_key(str(actor.organisation.public_id), account.public_id)
    try:
        count = keys.counter_incr(key, timeout=rules.denial_window_seconds)
    except Exception:
        logger.exception("policy check: could not count a denial")
        return
    if count < rules.denial_threshold:
        return
    keys.counter_reset(key)
    denial_signal_add(
        organisation=actor.organisation,
        account_pk=account.pk,
        count=count,
        window_seconds=rules.denial_window_seconds,
        weight=rules.denial_signal_weight,
        restrict=rules.auto_restrict_voice,
    )


def denial_signal_add(
    *,
    organisation: Any,
    account_pk: int,
    count: int,
    window_seconds: int,
    weight: int,
    restrict: bool,
) -> Any:
    """Add an OUTBOUND_DENIALS risk signal to an account through the accounts
    services; with `restrict`, its restriction rule may restrict voice (and email
    the customer) exactly as every other automatic rule does."""
    from accounts.choices import SignalSource, SignalType
    from accounts.models import Account
    from accounts.services import account_signal_add

    account = Account.objects.select_related("organisation").get(pk=account_pk)
    codes = (
        OutboundDenial.objects.filter(account=account)
        .order_by("-created_at")
        .values_list("codes", flat=True)[:count]
    )
    seen = sorted({c for line in codes for c in line.split(",") if c})
    return account_signal_add(
        actor=Actor.system_for(organisation, "outbound policy check"),
        account=account,
        signal_type=SignalType.OUTBOUND_DENIALS,
        weight=weight,
        source=SignalSource.OUTBOUND_CHECK,
        note=(
            f"{count} outbound calls refused within {check._window(window_seconds)} "
            f"({', '.join(seen)})."
        ),
        apply_rules=restrict,
    )
