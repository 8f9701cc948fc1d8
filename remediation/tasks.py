"""Celery tasks of the remediation app: thin wrappers around the poller and webhooks.

Follow-up work goes to the queue the current task came from (or
REMEDIATION_QUEUE), so a worker dedicated to a queue keeps its whole flow.
Short waits are chained as countdown tasks; anything longer, and anything a dead
worker left behind, is picked up by the beat tick.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, current_task, shared_task
from django.conf import settings

from remediation import poller, webhooks
from trustconsole.core.services import heartbeat_record

logger = logging.getLogger(__name__)

# Longer waits are left to the beat tick rather than held in worker memory.
CHAIN_MAX_SECONDS = 60


def task_route(task: Task | None = None) -> dict[str, str]:
    """REMEDIATION_QUEUE, else the queue of the task running now (if any)."""
    queue = settings.REMEDIATION_QUEUE
    if task is None and current_task:
        task = current_task
    if not queue and task is not None:
        queue = (task.request.delivery_info or {}).get("routing_key") or ""
    return {"queue": queue} if queue else {}


def enqueue_process(request_id: int) -> None:
    """Forward a new request now (called after the submission commits)."""
    process_request.apply_async((request_id,), **task_route())


def enqueue_refresh(job_id: int) -> None:
    """Send a billable reputation refresh now (called after the request commits)."""
    reputation_refresh_run.apply_async((job_id,), **task_route())


def enqueue_delivery(delivery_id: int) -> None:
    """Send a new status webhook now (called after the status change commits)."""
    deliver_webhook.apply_async((delivery_id,), **task_route())


@shared_task(name="remediation.process", bind=True)
def process_request(self: Task, request_id: int, token: str | None = None) -> Any:
    """Forward or poll one remediation request under its lease."""
    delay = poller.request_process(request_id=request_id, token=token)
    if delay is not None and delay <= CHAIN_MAX_SECONDS:
        process_request.apply_async((request_id,), countdown=delay, **task_route(self))
    return delay


@shared_task(name="remediation.deliver_webhook", bind=True)
def deliver_webhook(self: Task, delivery_id: int, token: str | None = None) -> Any:
    """One attempt at a status webhook; a retry is scheduled on failure."""
    delay = webhooks.deliver(delivery_id=delivery_id, token=token)
    if delay is not None and delay <= CHAIN_MAX_SECONDS:
        deliver_webhook.apply_async((delivery_id,), countdown=delay, **task_route(self))
    return delay


@shared_task(name="remediation.tick", bind=True)
def tick(self: Task) -> dict[str, int]:
    """Beat: hand due requests and webhook deliveries to workers (bounded)."""
    result = poller.tick()
    route = task_route(self)
    for request_id, token in result.requests:
        process_request.apply_async((request_id, token), **route)
    for delivery_id, token in result.deliveries:
        deliver_webhook.apply_async((delivery_id, token), **route)
    counts = {"requests": len(result.requests), "deliveries": len(result.deliveries)}
    heartbeat_record(name="remediation.tick", details=counts)
    return counts


# --- Number reputation monitoring ---------------------------------------------------


@shared_task(name="remediation.reputation_sync")
def reputation_sync(enterprise_id: int) -> int:
    """The scheduled check of one enterprise (claimed by the tick)."""
    from remediation import monitoring

    changes = monitoring.reputation_sync(enterprise_id=enterprise_id)
    return changes.observed if changes else 0


@shared_task(name="remediation.reputation_refresh", bind=True)
def reputation_refresh_run(self: Task, job_id: int) -> Any:
    """Send one billable refresh; a wait (Retry-After, limit) chains a retry."""
    from remediation import monitoring

    delay = monitoring.refresh_run(job_id=job_id)
    if delay is not None and delay <= CHAIN_MAX_SECONDS:
        reputation_refresh_run.apply_async(
            (job_id,), countdown=delay, **task_route(self)
        )
    return delay


@shared_task(name="remediation.reputation_tick", bind=True)
def reputation_tick(self: Task) -> dict[str, int]:
    """Beat: due scheduled checks, follow-ups after remediation, queued refreshes."""
    from remediation import monitoring

    route = task_route(self)
    syncs = monitoring.sync_claim_due()
    for enterprise_id in syncs:
        reputation_sync.apply_async((enterprise_id,), **route)
    monitoring.follow_ups_create()
    jobs = monitoring.refresh_jobs_due()
    for job_id in jobs:
        reputation_refresh_run.apply_async((job_id,), **route)
    counts = {"checks": len(syncs), "refreshes": len(jobs)}
    heartbeat_record(name="remediation.reputation_tick", details=counts)
    return counts
