"""Celery tasks of the outbound policy check: thin wrappers around services."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from voicegate.policy import services

logger = logging.getLogger(__name__)


def _import_failed(
    task: Any, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any
) -> None:
    import_id = (args or [None])[0] or kwargs.get("import_id")
    if import_id is not None:
        services.dnc_import_fail(import_id=import_id, error=f"{type(exc).__name__}")


@shared_task(
    name="voicegate.policy.dnc_import",
    soft_time_limit=settings.POLICY_DNC_IMPORT_TIME_LIMIT,
    time_limit=settings.POLICY_DNC_IMPORT_TIME_LIMIT + 60,
    on_failure=_import_failed,
)
def dnc_import_task(import_id: int) -> dict[str, int] | None:
    """Import one uploaded Do-Not-Call CSV, recording progress on its row."""
    row = services.dnc_import_process(import_id=import_id)
    if row is None:
        return None
    return {"rows": row.rows_read, "added": row.added, "invalid": row.invalid}


@shared_task(
    name="voicegate.policy.dnc_files_check",
    soft_time_limit=settings.POLICY_DNC_IMPORT_TIME_LIMIT,
    time_limit=settings.POLICY_DNC_IMPORT_TIME_LIMIT + 60,
)
def dnc_files_check_task(*, deep: bool = False) -> dict[str, int]:
    """Rebuild the files of national lists that went missing or were damaged."""
    from voicegate.policy import repair

    return repair.dnc_files_check(deep=deep)


@shared_task(name="voicegate.policy.checks_prune")
def checks_prune_task() -> int:
    """Delete logged outbound checks older than POLICY_CHECK_LOG_DAYS."""
    from voicegate.policy import checklog

    return checklog.prune()


@shared_task(name="voicegate.policy.denials_prune")
def denials_prune_task() -> dict[str, int]:
    """Beat, hourly: delete refused outbound calls older than POLICY_DENIAL_LOG_DAYS."""
    from voicegate import retention

    return retention.prune(retention.DENIALS)
