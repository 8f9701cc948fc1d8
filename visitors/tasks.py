"""Celery tasks of the visitors app: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from visitors import services


@shared_task(name="visitors.expire_due")
def expire_due() -> dict[str, int]:
    """Beat: end expired risk signals (scores recomputed) and drop expired IP blocks."""
    return {
        "signals_expired": services.risk_signals_expire_due(),
        "ip_blocks_removed": services.ip_blocks_expire_due(),
    }


@shared_task(name="visitors.blocked_attempts_prune")
def blocked_attempts_prune() -> dict[str, int]:
    """Beat, hourly: delete blocked attempts older than
    VISITORS_BLOCKED_ATTEMPTS_DAYS (visitors' counters stay)."""
    from voicegate import retention

    return retention.prune(retention.ATTEMPTS)
