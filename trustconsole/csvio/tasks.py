"""Celery task of CSV imports: a thin wrapper around the service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from trustconsole.csvio import services


def _failed(
    task: Any, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any
) -> None:
    import_id = (args or [None])[0] or kwargs.get("import_id")
    if import_id is not None:
        services.import_fail(import_id=import_id, error=f"{type(exc).__name__}")


@shared_task(  # type: ignore[untyped-decorator]  # Celery has no types
    name="csvio.import",
    soft_time_limit=settings.CSV_IMPORT_TIME_LIMIT,
    time_limit=settings.CSV_IMPORT_TIME_LIMIT + 60,
    on_failure=_failed,
)
def csv_import_task(import_id: int) -> dict[str, int] | None:
    """Plan (dry run) or import one uploaded CSV, recording progress on its row."""
    job = services.import_process(import_id=import_id)
    if job is None:
        return None
    return {"rows": job.rows_done, "created": job.created, "invalid": job.invalid}


@shared_task(name="csvio.dry_runs_remove")  # type: ignore[untyped-decorator]
def dry_runs_remove_task() -> dict[str, int]:
    """Beat: delete dry runs older than CSV_DRY_RUN_TTL_HOURS."""
    return services.dry_runs_remove()
