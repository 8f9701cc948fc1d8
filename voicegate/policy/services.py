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
from trustconsole.core.services import (
    audit_record,
    audit_snapshot,
    audited_delete,
    audited_save,
)
from trustconsole.lib.confirm import reason_required
from trustconsole.lib.phones import phone_or_field_error
from trustconsole.policy.changes import POLICY_SETTINGS, policy_changed
from voicegate.models import (
    ConsentRecord,
    DncChange,
    DncEntry,
    DncImport,
    DncList,
    DncListVersion,
    OutboundDenial,
    PolicySettings,
    VerifiedCallerId,
)
from voicegate.policy import check, importer, keys, memory, registry, repair, store
from voicegate.policy.choices import (
    DncKind,
    DncProblemMode,
    DncStorage,
    ImportMode,
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
    "dnc_stale_mode",
    "dnc_unavailable_mode",
]


def _e164(raw: str, field: str, *, region: str | None = None) -> str:
    return phone_or_field_error(raw, field=field, region=region)


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
    for name in ("dnc_stale_mode", "dnc_unavailable_mode"):
        if name in changes and changes[name] not in DncProblemMode.values:
            raise ValidationError({name: "Choose refuse or warn."})
    before = audit_snapshot(row, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value)
    audited_save(
        row,
        actor=actor,
        action="policy.settings_update",
        before=before,
        snapshot=SETTINGS_FIELDS,
    )
    keys.bump(keys.settings_key(actor.organisation.pk))
    policy_changed(actor.organisation.pk, POLICY_SETTINGS)
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
    # A national registry is far too big for a copy per process: it is kept as
    # versioned files that every process maps (registry.py).
    dnc_list = DncList(
        organisation=actor.organisation,
        name=name,
        kind=kind,
        country=_country(country),
        description=_text(description, "description", required=False, limit=500),
        storage=DncStorage.FILE if kind == DncKind.NATIONAL else DncStorage.DATABASE,
    )
    audited_save(
        dnc_list,
        actor=actor,
        action="policy.dnc_list_create",
        snapshot=["name", "kind", "country", "description", "storage"],
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
    public_id = dnc_list.public_id
    DncList.objects.filter(pk=dnc_list.pk).update(current_version=None)
    dnc_list.delete()
    if dnc_list.storage == DncStorage.FILE:
        transaction.on_commit(lambda: store.remove_all(public_id))
    keys.bump(keys.dnc_key(actor.organisation.pk))


@transaction.atomic
def dnc_list_empty(*, actor: Actor, dnc_list: DncList, reason: str = "") -> DncList:
    """Remove every number of a list (e.g. before importing a new registry file)."""
    actor.require(*ACT)
    dnc_list.refresh_from_db()
    before = dnc_list.entry_count
    if dnc_list.storage == DncStorage.FILE:
        # A new, empty version: processes switch to it as they do after an import.
        work = store.work_dir(dnc_list.public_id)
        built = store.build_full(work, None, region=None)
        version = _version_switch(
            actor=actor, dnc_list=dnc_list, built=built, work=work,
            mode=ImportMode.FULL, as_of=dnc_list.as_of, source_name="(emptied)",
            change_floor=_change_floor(actor.organisation.pk),
        )  # fmt: skip
        dnc_list.refresh_from_db()
        transaction.on_commit(
            lambda: repair.keep_source(dnc_list, version, None, region="")
        )
        audit_record(
            actor=actor,
            action="policy.dnc_list_empty",
            target=dnc_list,
            before={"entry_count": before},
            after={"entry_count": 0, "version": version.number},
            reason=reason,
        )
        return dnc_list
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
    if dnc_list.storage == DncStorage.FILE:
        created = not _file_list_has(dnc_list, digits)
    else:
        _, created = DncEntry.objects.get_or_create(dnc_list=dnc_list, number=digits)
    if not created:
        return e164
    DncList.objects.filter(pk=dnc_list.pk).update(entry_count=F("entry_count") + 1)
    DncChange.objects.create(
        organisation=actor.organisation,
        dnc_list=dnc_list,
        number=digits,
        present=True if dnc_list.storage == DncStorage.FILE else None,
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
def dnc_number_remove(
    *, actor: Actor, dnc_list: DncList, number: str, reason: str
) -> str:
    """Take one number off a list (E.164 returned); 400 if it is not there or no
    reason is given (trustconsole/lib/confirm.py)."""
    actor.require(*ACT)
    reason = reason_required(reason)
    e164 = _e164(number, "number", region=dnc_list.country or None)
    digits = int(e164[1:])
    if dnc_list.storage == DncStorage.FILE:
        deleted = _file_list_has(dnc_list, digits)
    else:
        deleted, _ = DncEntry.objects.filter(dnc_list=dnc_list, number=digits).delete()
    if not deleted:
        raise ValidationError({"number": f"{e164} is not on the list {dnc_list.name}."})
    DncList.objects.filter(pk=dnc_list.pk).update(entry_count=F("entry_count") - 1)
    DncChange.objects.create(
        organisation=actor.organisation,
        dnc_list=dnc_list,
        number=digits,
        present=False if dnc_list.storage == DncStorage.FILE else None,
    )
    audit_record(
        actor=actor,
        action="policy.dnc_number_remove",
        target=dnc_list,
        before={"number": e164},
        reason=reason,
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


def _as_of(value: Any, file_name: str) -> dt.date | None:
    """The registry file's date: as given, else a date in the file name."""
    if value in (None, ""):
        found = registry.as_of_from_name(file_name or "")
        if found is None:
            return None
        try:
            value = dt.date(*found)
        except ValueError:
            return None
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError({"as_of": "Give a date as YYYY-MM-DD."}) from None
    if isinstance(value, dt.datetime):
        value = value.date()
    if value > timezone.localdate() + dt.timedelta(days=1):
        raise ValidationError({"as_of": "The registry file cannot be from the future."})
    return value


@transaction.atomic
def dnc_import_start(
    *,
    actor: Actor,
    dnc_list: DncList,
    upload: IO[bytes],
    file_name: str,
    region: str = "",
    mode: str = ImportMode.FULL,
    as_of: Any = None,
    enqueue: bool = True,
) -> DncImport:
    """Store an uploaded file (streamed to disk) and queue its import.

    With `enqueue`, a Celery worker imports it after commit; the import row shows
    the progress. Without, the caller runs `dnc_import_process` itself. A national
    (file-backed) list also takes the registry's change lists (`mode`) and the
    date of the file (`as_of`; default: a date in the file name, else today).
    """
    actor.require(*ACT)
    region = _country(region, "region") or dnc_list.country
    if mode not in ImportMode.values:
        raise ValidationError(
            {"mode": f"Choose one of: {', '.join(ImportMode.values)}."}
        )
    if mode != ImportMode.FULL:
        if dnc_list.storage != DncStorage.FILE:
            raise ValidationError(
                {"mode": "Change lists apply to national (file-backed) lists only."}
            )
        if dnc_list.current_version_id is None:
            raise ValidationError(
                {"mode": "Import the full registry file before a change list."}
            )
    as_of_date = _as_of(as_of, file_name)
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
        archive = dnc_list.storage == DncStorage.FILE and registry.is_archive(sample)
        if not archive and not _looks_like_text(sample):
            raise ValidationError(
                {"file": "This is neither a text file nor a gzip or zip archive."}
            )
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
        mode=mode,
        as_of=as_of_date,
        created_by=actor.label[:200],
    )
    audit_record(
        actor=actor,
        action="policy.dnc_import_start",
        target=dnc_list,
        after={
            "import": str(row.public_id),
            "file": row.file_name,
            "bytes": size,
            "mode": mode,
            "as_of": as_of_date,
        },
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
    if dnc_list.storage == DncStorage.FILE:
        return _file_import(
            row, actor=actor, on_progress=on_progress, every_seconds=every_seconds
        )
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


# --- File-backed (national) lists ----------------------------------------------------


def _change_floor(organisation_id: int) -> int:
    """The newest single-number change id now: a full version built from here on
    supersedes the changes up to it."""
    last = DncChange.objects.filter(organisation_id=organisation_id).order_by("-id")
    return last.values_list("id", flat=True).first() or 0


def _file_list_has(dnc_list: DncList, number: int) -> bool:
    """Whether a file-backed list holds `number` now (its files plus single changes),
    with the list row locked so two single changes cannot race."""
    locked = DncList.objects.select_for_update().get(pk=dnc_list.pk)
    version = locked.current_version
    floor = version.change_floor if version else 0
    latest = (
        DncChange.objects.filter(dnc_list=locked, number=number, id__gt=floor)
        .order_by("-id")
        .values_list("present", flat=True)
        .first()
    )
    if latest is not None:
        return bool(latest)
    if version is None:
        return False
    files = store.version_open(
        locked.public_id,
        version.base_file,
        version.adds_file,
        version.dels_file,
        warm=False,
    )
    try:
        return number in files
    finally:
        files.close()


def _singles_net(dnc_list: DncList, version: DncListVersion) -> int:
    """How single-number changes still in force move the count of `version`."""
    latest: dict[int, bool] = {}
    singles = DncChange.objects.filter(dnc_list=dnc_list, id__gt=version.change_floor)
    for number, present in singles.order_by("id").values_list("number", "present"):
        latest[number] = bool(present)
    if not latest:
        return 0
    files = store.version_open(
        dnc_list.public_id,
        version.base_file,
        version.adds_file,
        version.dels_file,
        warm=False,
    )
    try:
        return sum(
            (1 if present else -1)
            for number, present in latest.items()
            if present != (number in files)
        )
    finally:
        files.close()


def _version_switch(
    *,
    actor: Actor,
    dnc_list: DncList,
    built: store.Built,
    work: Path,
    mode: str,
    as_of: dt.date | None,
    source_name: str,
    change_floor: int,
) -> DncListVersion:
    """Record a built version and make it the list's current one in one UPDATE.

    Until this commits every process answers from the old version; afterwards the
    list's version key moves and each process maps the new files on its next check.
    The files of the current and previous versions stay; older ones are deleted.
    """
    with transaction.atomic():
        locked = DncList.objects.select_for_update().get(pk=dnc_list.pk)
        previous = locked.current_version
        number = (previous.number if previous else 0) + 1
        if previous is not None:
            top = locked.versions.order_by("-number").values_list("number", flat=True)
            number = max(number, (top.first() or 0) + 1)
        store.adopt(locked.public_id, work, built)
        version = DncListVersion.objects.create(
            dnc_list=locked,
            number=number,
            mode=mode,
            base_file=built.base_file,
            adds_file=built.adds_file,
            dels_file=built.dels_file,
            count=built.count,
            base_count=built.base_count,
            additions=built.additions,
            deletions=built.deletions,
            as_of=as_of,
            change_floor=change_floor,
            source_name=source_name[:255],
            created_by=actor.label[:200],
        )
        net = _singles_net(locked, version)
        DncList.objects.filter(pk=locked.pk).update(
            current_version=version,
            entry_count=max(0, built.count + net),
            as_of=as_of,
            generation=F("generation") + 1,
        )
        keys.bump(keys.dnc_key(actor.organisation.pk))
        keep = set(version.files) | set(previous.files if previous else [])
        public_id = locked.public_id
        transaction.on_commit(lambda: store.prune(public_id, keep=keep))
    return version


def _file_import(
    row: DncImport,
    *,
    actor: Actor,
    on_progress: Any = None,
    every_seconds: float = 1.0,
) -> DncImport:
    """Import into a file-backed list: build the new version beside the old one,
    then switch. A failure leaves the old version answering, untouched."""
    import time

    dnc_list = row.dnc_list
    path = Path(row.file_path)
    before = dnc_list.entry_count
    last = [0.0]

    def report(progress: importer.ImportProgress) -> None:
        now = time.monotonic()
        if now - last[0] < every_seconds:
            return
        last[0] = now
        DncImport.objects.filter(pk=row.pk).update(
            bytes_read=progress.bytes_read,
            rows_read=progress.rows_read,
            valid=progress.valid,
            invalid=progress.invalid,
        )
        if on_progress is not None:
            on_progress(progress)

    region = row.region or dnc_list.country or None
    work = store.work_dir(dnc_list.public_id)
    try:
        if row.mode == ImportMode.FULL:
            floor = _change_floor(row.organisation_id)
            built = store.build_full(work, path, region=region, on_progress=report)
        else:
            current = (
                DncList.objects.select_related("current_version")
                .get(pk=dnc_list.pk)
                .current_version
            )
            if current is None:
                raise registry.DncFileError("the list has no version to change")
            floor = current.change_floor
            files = store.version_open(
                dnc_list.public_id,
                current.base_file,
                current.adds_file,
                current.dels_file,
                warm=False,
            )
            try:
                built = store.build_changes(
                    work, path, current=files, base_file=current.base_file,
                    mode=row.mode, region=region, on_progress=report,
                )  # fmt: skip
            finally:
                files.close()
        as_of = row.as_of or timezone.localdate()
        version = _version_switch(
            actor=actor, dnc_list=dnc_list, built=built, work=work, mode=row.mode,
            as_of=as_of, source_name=row.file_name, change_floor=floor,
        )  # fmt: skip
    except Exception as exc:
        logger.exception("DNC import %s failed", row.pk)
        shutil.rmtree(work, ignore_errors=True)
        DncImport.objects.filter(pk=row.pk).update(
            status=ImportStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            file_path="",
        )
        path.unlink(missing_ok=True)
        return DncImport.objects.get(pk=row.pk)
    repair.keep_source(dnc_list, version, path, region=region or "")
    progress = built.progress
    dnc_list.refresh_from_db()
    if row.mode == ImportMode.FULL:
        added = built.count
        duplicates = max(0, progress.valid - built.count)
    else:
        added = max(0, dnc_list.entry_count - before)
        duplicates = 0
    with transaction.atomic():
        DncImport.objects.filter(pk=row.pk).update(
            status=ImportStatus.DONE,
            bytes_read=progress.bytes_read,
            rows_read=progress.rows_read,
            valid=progress.valid,
            invalid=progress.invalid,
            added=added,
            duplicates=duplicates,
            errors=progress.errors,
            finished_at=timezone.now(),
            file_path="",
            version=version,
        )
        row.refresh_from_db()
        audit_record(
            actor=actor,
            action="policy.dnc_import_done",
            target=dnc_list,
            before={"entry_count": before},
            after={
                "entry_count": dnc_list.entry_count,
                "import": str(row.public_id),
                "mode": row.mode,
                "version": version.number,
                "as_of": version.as_of,
                "rows": progress.rows_read,
                "added": version.additions if row.mode != ImportMode.FULL else added,
                "removed": version.deletions,
                "duplicates": duplicates,
                "invalid": progress.invalid,
            },
        )
    return row


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
    audited_save(
        row,
        actor=actor,
        action="policy.caller_id_verify",
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
    audited_delete(
        caller_id,
        actor=actor,
        action="policy.caller_id_remove",
        before={
            "number": caller_id.number,
            "account": str(caller_id.account.public_id) if caller_id.account else None,
            "verified_by": caller_id.verified_by,
            "verified_at": caller_id.verified_at,
        },
        reason=reason,
    )
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
    audited_save(
        row,
        actor=actor,
        action="policy.consent_record",
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
    audited_delete(
        consent,
        actor=actor,
        action="policy.consent_remove",
        before={"number": consent.number, "evidence": consent.evidence},
        reason=reason,
    )
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
        explanation=[f.explanation() for f in outcome.findings],
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
