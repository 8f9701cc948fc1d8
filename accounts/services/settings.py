"""The organisation's assessment and review thresholds."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import AccountSettings
from accounts.selectors import account_settings_for
from accounts.services.common import clean_country
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_snapshot, audited_save

SETTINGS_FIELDS = [
    "hold_threshold",
    "high_risk_countries",
    "review_window_days",
    "numbers_min_for_usage_check",
    "min_outbound_per_number",
    "complaints_threshold",
    "spike_factor",
    "spike_min_volume",
    "spike_history_days",
]


@transaction.atomic
def account_settings_update(
    *, actor: Actor, reason: str = "", **changes: Any
) -> AccountSettings:
    """Change the organisation's assessment and review thresholds (admin)."""
    actor.require()
    row = account_settings_for(organisation=actor.organisation)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Not a setting."})
    if "high_risk_countries" in changes:
        field = "high_risk_countries"
        changes[field] = sorted({clean_country(c, field) for c in changes[field]})
    before = audit_snapshot(row, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value)
    audited_save(
        row,
        actor=actor,
        action="account_settings.update",
        before=before,
        snapshot=SETTINGS_FIELDS,
        reason=reason,
    )
    return row
