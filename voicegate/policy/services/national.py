"""File-backed (national) lists: build a version beside the current one and
switch to it in one UPDATE; single-number changes on top of the files."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from voicegate.policy import importer, keys, registry, repair, store
from voicegate.policy.choices import ImportMode
from voicegate.policy.models import DncChange, DncImport, DncList, DncListVersion
from voicegate.policy.services.common import (
    import_done,
    import_failed,
    import_progress_save,
)

logger = logging.getLogger(__name__)


def change_floor(organisation_id: int) -> int:
    """The newest single-number change id now: a full version built from here on
    supersedes the changes up to it."""
    last = DncChange.objects.filter(organisation_id=organisation_id).order_by("-id")
    return last.values_list("id", flat=True).first() or 0


def file_list_has(dnc_list: DncList, number: int) -> bool:
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


def version_switch(
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


def file_import(
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
        import_progress_save(row.pk, progress, on_progress)

    region = row.region or dnc_list.country or None
    work = store.work_dir(dnc_list.public_id)
    try:
        if row.mode == ImportMode.FULL:
            floor = change_floor(row.organisation_id)
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
        version = version_switch(
            actor=actor, dnc_list=dnc_list, built=built, work=work, mode=row.mode,
            as_of=as_of, source_name=row.file_name, change_floor=floor,
        )  # fmt: skip
    except Exception as exc:
        logger.exception("DNC import %s failed", row.pk)
        shutil.rmtree(work, ignore_errors=True)
        return import_failed(row.pk, exc, path)
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
        import_done(
            row.pk, progress, added=added, duplicates=duplicates, version=version
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
