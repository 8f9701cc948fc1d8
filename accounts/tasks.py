"""Celery tasks of the accounts app: thin wrappers around services."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts import services
from trustconsole.core.models import Organisation

logger = logging.getLogger(__name__)


@shared_task(name="accounts.continuous_review")
def continuous_review() -> dict[str, int]:
    """Beat: review every organisation's active accounts; one failure stops no other."""
    restricted: dict[str, int] = {}
    for org_id in Organisation.objects.values_list("pk", flat=True):
        try:
            restricted[str(org_id)] = len(review_organisation(org_id))
        except Exception:
            logger.exception("continuous review of organisation %s failed", org_id)
    return restricted


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


@shared_task(name="accounts.signals_expire")
def signals_expire() -> int:
    """Beat: record the account risk signals whose expiry passed (scores, audit)."""
    return services.account_signals_expire_due()
