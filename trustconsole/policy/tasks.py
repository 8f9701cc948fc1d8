"""Celery tasks of the decision core."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="policy.changes_prune")
def changes_prune() -> int:
    """Beat, hourly: drop change-log entries older than the retention."""
    from trustconsole.policy.state import changes_prune as prune

    return prune()
