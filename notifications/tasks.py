"""Celery tasks of the notifications app."""

from __future__ import annotations

from celery import shared_task

from notifications import checks


@shared_task(name="notifications.check")
def check() -> dict[str, int]:
    """Beat: announce new conditions of every organisation, forget cleared ones."""
    return checks.check_all()
