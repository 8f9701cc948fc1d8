"""Celery tasks of the notifications app."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from notifications import checks, delivery


@shared_task(name="notifications.check")
def check() -> dict[str, int]:
    """Beat: announce new conditions of every organisation, forget cleared ones;
    queue again delivery attempts that were lost."""
    outcome = checks.check_all()
    outcome["requeued"] = delivery.requeue_lost()
    return outcome


@shared_task(bind=True, name="notifications.deliver", max_retries=None)
def deliver_task(self: Any, notification_id: int) -> None:
    """One delivery attempt; a transient failure retries it with back-off (the
    attempts are bounded by NOTIFICATIONS_RETRY_ATTEMPTS on the row itself)."""
    delay = delivery.attempt(notification_id=notification_id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(name="notifications.send_test")
def send_test(organisation_id: int, requested_by: str) -> str:
    """An admin's "Send a test notification": the outcome, or "" without a channel."""
    from trustconsole.core.models import Organisation

    org = Organisation.objects.filter(pk=organisation_id).first()
    if org is None:
        return ""
    sent = checks.send_test(org, requested_by=requested_by)
    return sent.status if sent else ""
