"""Celery tasks of the core app."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from trustconsole.core import services


@shared_task(name="core.housekeeping")
def housekeeping() -> dict[str, Any]:
    """Periodic upkeep (beat): expired sessions out, heartbeat in."""
    return services.housekeeping_run()
