"""CSV imports: check the file at upload, then plan (dry run) or import each row
on a worker, recording progress, every row's problems and the counts.

A bad file (too large, not UTF-8, not CSV, a wrong header, no rows) is refused
at upload with a ValidationError naming `file` and changes nothing. A good file's
rows are independent: a row with problems is reported with its line number and
skipped; every other row is planned or applied. A real import writes one audit
entry with its counts (and each service it calls audits its own change).
"""

from __future__ import annotations

import _csv
import csv
import datetime as dt
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Membership, Organisation
from trustconsole.core.services import audit_record
from trustconsole.csvio.exports import unsafe
from trustconsole.csvio.kinds import CREATE, KINDS, UPDATE, Kind, Plan, RowError, Run
from trustconsole.csvio.models import CsvImport, ImportKind, ImportStatus

logger = logging.getLogger(__name__)

IMPORT_ROLES = (Role.OPERATOR,)  # and admins
# A dry run lists this many planned changes (the counts cover every row).
PLAN_LIMIT = 1000
PROGRESS_EVERY = 25


def _file_error(message: str) -> ValidationError:
    return ValidationError({"file": message})


def _human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def read_upload(upload: IO[bytes], *, max_bytes: int | None = None) -> str:
    """The upload as text, or a `file` ValidationError: too large, empty, not UTF-8."""
    limit = max_bytes or settings.CSV_IMPORT_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _file_error(
            f"The file is {_human_size(size)}; the largest accepted is "
            f"{_human_size(limit)} (CSV_IMPORT_MAX_BYTES). Split it into parts."
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise _file_error(
            f"The file is larger than {_human_size(limit)} (CSV_IMPORT_MAX_BYTES). "
            "Split it into parts."
        )
    if not data.strip():
        raise _file_error("The file is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
            f"{exc.start}). Save it as “CSV UTF-8” and upload it again."
        ) from None
    if "\x00" in text:
        raise _file_error("The file holds NUL bytes: it is not a CSV text file.")
    return text


def _reader(text: str) -> _csv.Reader:
    return csv.reader(io.StringIO(text, newline=""), strict=True)


def check_text(kind: Kind, text: str) -> int:
    """Check the header and the CSV syntax; the number of data rows."""
    reader = _reader(text)
    try:
        header = [h.strip().lower() for h in next(reader)]
        problem = kind.header_problem(header)
        if problem:
            raise _file_error(problem)
        rows = sum(1 for row in reader if any(cell.strip() for cell in row))
    except csv.Error as exc:
        raise _file_error(
            f"Line {reader.line_num} is not valid CSV ({exc}); nothing was imported."
        ) from None
    except StopIteration:
        raise _file_error("The file is empty.") from None
    if not rows:
        raise _file_error("The file has a header but no rows.")
    return rows


def rows(kind: Kind, text: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line, row as column → text) per data row; a string where the row has a
    different number of cells than the header."""
    reader = _reader(text)
    header = [
        kind.aliases.get(h.strip().lower(), h.strip().lower()) for h in next(reader)
    ]
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield line, f"{len(cells)} cells where the header has {len(header)}."
            continue
        yield (
            line,
            {
                name: unsafe(cell)
                for name, cell in zip(header, cells, strict=True)
                if name not in kind.read_only
            },
        )


def import_start(
    *,
    actor: Actor,
    kind: str,
    upload: IO[bytes],
    file_name: str = "",
    dry_run: bool = False,
    enqueue: bool = True,
) -> CsvImport:
    """Check an uploaded file and queue its dry run or import on a worker."""
    actor.require(*IMPORT_ROLES)
    if kind not in KINDS:
        raise ValidationError({"kind": f"Choose one of: {', '.join(KINDS)}."})
    text = read_upload(upload)
    total = check_text(KINDS[kind], text)
    job = CsvImport.objects.create(
        organisation=actor.organisation,
        kind=kind,
        dry_run=dry_run,
        file_name=Path(file_name or getattr(upload, "name", "") or "upload.csv").name[
            :255
        ],
        file_size=len(text.encode()),
        content=text,
        rows_total=total,
        created_by=actor.label[:200],
        created_by_user=_user(actor),
        created_by_token=actor.token,
        created_by_system=_system(actor),
    )
    if enqueue:
        _enqueue(job)
    return job


def import_apply(*, actor: Actor, job: CsvImport, enqueue: bool = True) -> CsvImport:
    """The real import of a finished dry run's file."""
    actor.require(*IMPORT_ROLES)
    if not job.dry_run or job.status != ImportStatus.DONE:
        state = "an import" if not job.dry_run else job.get_status_display().lower()
        raise ValidationError(
            {"import": f"Only a finished dry run can be imported; this one is {state}."}
        )
    real = CsvImport.objects.create(
        organisation=actor.organisation,
        kind=job.kind,
        dry_run=False,
        dry_run_of=job,
        file_name=job.file_name,
        file_size=job.file_size,
        content=job.content,
        rows_total=job.rows_total,
        created_by=actor.label[:200],
        created_by_user=_user(actor),
        created_by_token=actor.token,
        created_by_system=_system(actor),
    )
    if enqueue:
        _enqueue(real)
    return real


def _enqueue(job: CsvImport) -> None:
    from trustconsole.csvio.tasks import csv_import_task

    def send() -> None:
        try:
            csv_import_task.delay(job.pk)
        except Exception:  # the broker is down: say so on the import's page
            logger.exception("could not queue CSV import %s", job.pk)
            CsvImport.objects.filter(pk=job.pk, status=ImportStatus.PENDING).update(
                status=ImportStatus.FAILED,
                error="The task queue could not be reached; upload the file again.",
                finished_at=timezone.now(),
            )

    transaction.on_commit(send)


def _user(actor: Actor) -> Any:
    """The member's login user (the AUTH_USER_MODEL row the import points at)."""
    return actor.user


def _system(actor: Actor) -> str:
    if actor.user is None and actor.token is None:
        return (actor.system or "console")[:100]
    return ""


def _actor_for(job: CsvImport) -> Actor:
    """Who the worker acts as: the member (or token) that started the import,
    with the role they hold now."""
    if job.created_by_system:
        return Actor.system_for(job.organisation, job.created_by_system)
    if job.created_by_token is not None:
        token = job.created_by_token
        if not token.is_active:
            raise PermissionDenied("The API token that started it was revoked.")
        return Actor(organisation=job.organisation, role=token.role, token=token)
    membership = Membership.objects.filter(
        organisation=job.organisation, user=job.created_by_user
    ).first()
    if job.created_by_user is None or membership is None:
        raise PermissionDenied("The member who started it left the organisation.")
    return Actor(
        organisation=job.organisation, role=membership.role, user=job.created_by_user
    )


def _claim(import_id: int) -> CsvImport | None:
    claimed = CsvImport.objects.filter(
        pk=import_id, status=ImportStatus.PENDING
    ).update(status=ImportStatus.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    return CsvImport.objects.select_related("organisation").get(pk=import_id)


def _one_row(
    kind: Kind, run: Run, line: int, row: dict[str, str], *, dry_run: bool
) -> Plan:
    data = kind.parse(row)
    if dry_run:
        return kind.plan(run, line, data)
    with transaction.atomic():
        plan = kind.plan(run, line, data)
        plan.action = kind.apply(run, line, plan)
    return plan


def import_process(*, import_id: int) -> CsvImport | None:
    """Run one import (the task's body): plan or apply every row in order."""
    job = _claim(import_id)
    if job is None:
        return None
    kind = KINDS[job.kind]
    try:
        actor = _actor_for(job)
        actor.require(*IMPORT_ROLES)
    except PermissionDenied as exc:
        return _finish(job, failed=f"It cannot run: {exc}")
    run = Run(actor=actor, file_name=job.file_name)
    counts = {CREATE: 0, UPDATE: 0, "unchanged": 0, "invalid": 0}
    errors: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    done = 0
    try:
        for line, row in rows(kind, job.content):
            try:
                if isinstance(row, str):
                    raise RowError({"row": row})
                plan = _one_row(kind, run, line, row, dry_run=job.dry_run)
            except RowError as exc:
                problems = exc.problems
            except (ValidationError, PermissionDenied) as exc:
                problems = (
                    {k: " ".join(v) for k, v in exc.message_dict.items()}
                    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict")
                    else {"row": " ".join(getattr(exc, "messages", [str(exc)]))}
                )
            else:
                problems = {}
                counts[plan.action] += 1
                if len(changes) < PLAN_LIMIT and plan.action != "unchanged":
                    changes.append(
                        {"line": line, "action": plan.action, "summary": plan.summary}
                    )
            if problems:
                counts["invalid"] += 1
                errors += [
                    {"line": line, "field": field, "reason": reason}
                    for field, reason in problems.items()
                ]
            done += 1
            if done % PROGRESS_EVERY == 0:
                CsvImport.objects.filter(pk=job.pk).update(rows_done=done)
    except Exception as exc:  # noqa: BLE001 - recorded on the import's page
        logger.exception("CSV import %s failed", job.pk)
        _store(job, done, counts, errors, changes)
        return _finish(
            job, failed=f"It stopped at row {done + 1}: {type(exc).__name__}."
        )
    _store(job, done, counts, errors, changes)
    return _finish(job)


def _store(
    job: CsvImport,
    done: int,
    counts: dict[str, int],
    errors: list[dict[str, Any]],
    changes: list[dict[str, Any]],
) -> None:
    job.rows_done = done
    job.created, job.updated = counts[CREATE], counts[UPDATE]
    job.unchanged, job.invalid = counts["unchanged"], counts["invalid"]
    job.errors, job.changes = errors, changes


def _finish(job: CsvImport, *, failed: str = "") -> CsvImport:
    job.status = ImportStatus.FAILED if failed else ImportStatus.DONE
    job.error = failed
    job.finished_at = timezone.now()
    if not job.dry_run:
        job.content = ""  # imported: the file is not kept twice (a dry run keeps it)
    job.save()
    if not job.dry_run and job.started_at is not None:
        try:
            actor = _actor_for(job)
        except PermissionDenied:
            actor = Actor.system_for(job.organisation, "csv import")
        audit_record(
            actor=actor,
            action="csv_import.fail" if failed else "csv_import.run",
            target=job,
            after={
                "kind": job.kind,
                "file": job.file_name,
                "rows": job.rows_done,
                "created": job.created,
                "updated": job.updated,
                "unchanged": job.unchanged,
                "invalid": job.invalid,
            },
            reason=failed,
        )
    return job


def import_fail(*, import_id: int, error: str) -> None:
    """A task that died (time limit, crash) leaves its import failed, not running."""
    CsvImport.objects.filter(
        pk=import_id, status__in=(ImportStatus.PENDING, ImportStatus.RUNNING)
    ).update(status=ImportStatus.FAILED, error=error, finished_at=timezone.now())


def dry_runs_remove(*, now: Any = None) -> dict[str, int]:
    """Delete dry runs older than CSV_DRY_RUN_TTL_HOURS (beat); audited per
    organisation. Returns the number removed per organisation slug.

    A finished dry run is kept that long after it finished, so that "Import now"
    can still use its file; one still waiting or running that long after its time
    limit has passed is gone too (no worker will finish it).
    """
    from django.db.models import Count, Q

    now = now or timezone.now()
    ttl = dt.timedelta(hours=settings.CSV_DRY_RUN_TTL_HOURS)
    stuck = ttl + dt.timedelta(seconds=settings.CSV_IMPORT_TIME_LIMIT)
    expired = CsvImport.objects.filter(dry_run=True).filter(
        Q(
            status__in=(ImportStatus.DONE, ImportStatus.FAILED),
            finished_at__lt=now - ttl,
        )
        | Q(created_at__lt=now - stuck)
    )
    counts = {
        row["organisation"]: row["n"]
        for row in expired.values("organisation").annotate(n=Count("id")).order_by()
    }
    if not counts:
        return {}
    removed: dict[str, int] = {}
    with transaction.atomic():
        expired.delete()
        for organisation in Organisation.objects.filter(pk__in=counts):
            n = removed[organisation.slug] = counts[organisation.pk]
            audit_record(
                actor=Actor.system_for(organisation, "CSV dry-run cleanup"),
                action="csv_import.dry_runs_remove",
                target=organisation,
                after={"removed": n, "ttl_hours": settings.CSV_DRY_RUN_TTL_HOURS},
            )
    logger.info("csv dry runs removed: %s", removed)
    return removed


__all__ = [
    "ImportKind",
    "dry_runs_remove",
    "import_apply",
    "import_process",
    "import_start",
]
