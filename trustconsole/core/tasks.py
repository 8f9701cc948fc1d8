"""Celery tasks of the core app."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from trustconsole.core import services


@shared_task(name="core.housekeeping")
def housekeeping() -> dict[str, Any]:
    """Periodic upkeep (beat): expired sessions out, heartbeat in; the metrics
    files of this host's exited worker processes folded into one."""
    from trustconsole.lib import metrics

    metrics.compact()
    return services.housekeeping_run()


@shared_task(name="core.audit_prune")
def audit_prune() -> dict[str, int]:
    """Beat (only when AUDIT_RETENTION_DAYS is set): prune old audit entries."""
    from django.conf import settings

    if settings.AUDIT_RETENTION_DAYS < 1:
        return {}
    return services.audit_prune(days=settings.AUDIT_RETENTION_DAYS)
