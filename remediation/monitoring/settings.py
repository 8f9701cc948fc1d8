"""The organisation's monitoring settings: review list, webhook key, time zone."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from remediation import selectors
from remediation.models import (
    Enterprise,
)
from remediation.monitoring.schedule import sync_schedule
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record


def monitoring_settings_update(
    *,
    actor: Actor,
    review_flagged: bool | None = None,
    telnyx_public_key: str | None = None,
    time_zone: str | None = None,
) -> Any:
    """The review list, the webhook key and the organisation's time zone (admin)."""
    from trustconsole.core.models import time_zone_validate
    from voicegate.signatures import telnyx_key_valid

    actor.require()
    row = selectors.settings_for(organisation=actor.organisation)
    organisation = actor.organisation
    before = {
        "review_flagged": row.review_flagged,
        "telnyx_public_key": row.telnyx_public_key,
        "time_zone": organisation.time_zone,
    }
    if telnyx_public_key is not None:
        key = telnyx_public_key.strip()
        if key and not telnyx_key_valid(key):
            raise ValidationError(
                {"telnyx_public_key": "Not a base64 Ed25519 public key (32 bytes)."}
            )
        row.telnyx_public_key = key
    if review_flagged is not None:
        row.review_flagged = review_flagged
    if time_zone is not None:
        time_zone_validate(time_zone.strip())
        organisation.time_zone = time_zone.strip()
    after = {
        "review_flagged": row.review_flagged,
        "telnyx_public_key": row.telnyx_public_key,
        "time_zone": organisation.time_zone,
    }
    if after == before:
        return row
    with transaction.atomic():
        row.save()
        organisation.save(update_fields=["time_zone"])
        if organisation.time_zone != before["time_zone"]:
            # Scheduled checks move with the organisation's business days.
            for enterprise in Enterprise.objects.filter(
                organisation=organisation, reputation_enabled_at__isnull=False
            ).select_related("organisation"):
                enterprise.organisation = organisation
                sync_schedule(enterprise, timezone.now())
                enterprise.save(update_fields=["next_sync_at"])
        changed = [
            name.replace("_", " ") for name in after if after[name] != before[name]
        ]
        audit_record(
            actor=actor,
            action="reputation.settings_update",
            target=row,
            before=before,
            after=after,
            reason=f"Monitoring settings changed: {', '.join(changed)}.",
        )
    return row
