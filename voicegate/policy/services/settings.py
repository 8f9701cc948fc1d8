"""The organisation's outbound policy settings (admins)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_snapshot, audited_save
from trustconsole.policy.changes import POLICY_SETTINGS, policy_changed
from voicegate.policy import keys, memory
from voicegate.policy.choices import DncProblemMode, SignalWeight
from voicegate.policy.models import PolicySettings

SETTINGS_FIELDS = [
    "harassment_limit",
    "harassment_window_seconds",
    "blacklisted_do_not_contact",
    "denial_threshold",
    "denial_window_seconds",
    "denial_signal_weight",
    "auto_restrict_voice",
    "dnc_stale_mode",
    "dnc_unavailable_mode",
]


@transaction.atomic
def policy_settings_update(*, actor: Actor, **changes: Any) -> PolicySettings:
    """Change the organisation's outbound policy settings (admins)."""
    actor.require()
    row = memory.settings_row(actor.organisation.pk)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown setting." for name in unknown})
    if "denial_signal_weight" in changes and (
        changes["denial_signal_weight"] not in SignalWeight.values
    ):
        raise ValidationError(
            {"denial_signal_weight": "Choose one of 10, 20, 40 or 70."}
        )
    for name in ("dnc_stale_mode", "dnc_unavailable_mode"):
        if name in changes and changes[name] not in DncProblemMode.values:
            raise ValidationError({name: "Choose refuse or warn."})
    before = audit_snapshot(row, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value)
    audited_save(
        row,
        actor=actor,
        action="policy.settings_update",
        before=before,
        snapshot=SETTINGS_FIELDS,
    )
    keys.bump(keys.settings_key(actor.organisation.pk))
    policy_changed(actor.organisation.pk, POLICY_SETTINGS)
    return row
