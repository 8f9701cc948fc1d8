"""Celery tasks of the accounts app: thin wrappers around services."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts import services
from trustconsole.core.models import Organisation

logger = logging.getLogger(__name__)


@shared_task(name="accounts.continuous_review")
def continuous_review() -> int:
    """Beat: queue one review per organisation (each can fail or retry alone)."""
    ids = list(Organisation.objects.values_list("pk", flat=True))
    for org_id in ids:
        review_organisation.delay(org_id)
    return len(ids)


@shared_task(name="accounts.review_organisation")
def review_organisation(organisation_id: int) -> list[str]:
    """Scan one organisation's active accounts for anomalies and restrict them."""
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        logger.info("organisation %s vanished before its review", organisation_id)
        return []
    return services.account_review_run(organisation=organisation)


@shared_task(name="accounts.port_away_expire")
def port_away_expire() -> int:
    """Beat: end port-away access whose expiry has passed."""
    return services.port_away_expire_due()
