"""Do-Not-Call imports: store an upload, claim it, run it (in a worker), record
a failure."""

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
from trustconsole.core.services import audit_record
from voicegate.policy import importer, keys, registry
from voicegate.policy.choices import DncStorage, ImportMode, ImportStatus
from voicegate.policy.models import DncEntry, DncImport, DncList
from voicegate.policy.services.common import (
    ACT,
    clean_country,
    import_done,
    import_failed,
    import_progress_save,
)
from voicegate.policy.services.national import file_import

logger = logging.getLogger(__name__)


def import_dir() -> Path:
    """Where uploaded files wait for the worker (shared by web and worker)."""
    return Path(settings.POLICY_DNC_IMPORT_DIR)


def import_files_forget(imports: Any) -> None:
    """Delete the uploaded files still waiting for these imports."""
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
    region = clean_country(region, "region") or dnc_list.country
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
        return file_import(
            row, actor=actor, on_progress=on_progress, every_seconds=every_seconds
        )
    before = DncEntry.objects.filter(dnc_list=dnc_list).count()

    def report(progress: importer.ImportProgress) -> None:
        import_progress_save(row.pk, progress, on_progress)

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
        failed = import_failed(row.pk, exc, path)
        _import_finished(actor, dnc_list, row.pk)
        return failed
    path.unlink(missing_ok=True)
    after = DncEntry.objects.filter(dnc_list=dnc_list).count()
    added = max(0, after - before)
    with transaction.atomic():
        import_done(
            row.pk, progress, added=added, duplicates=max(0, progress.valid - added)
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
