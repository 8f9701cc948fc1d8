"""Celery tasks of the notifications app."""

from __future__ import annotations

from celery import shared_task

from notifications import checks


@shared_task(name="notifications.check")
def check() -> dict[str, int]:
    """Beat: announce new conditions of every organisation, forget cleared ones."""
    return checks.check_all()


@shared_task(name="notifications.send_test")
def send_test(organisation_id: int, requested_by: str) -> str:
    """An admin's "Send a test notification": the outcome, or "" without a channel."""
    from trustconsole.core.models import Organisation

    org = Organisation.objects.filter(pk=organisation_id).first()
    if org is None:
        return ""
    sent = checks.send_test(org, requested_by=requested_by)
    return sent.status if sent else ""
