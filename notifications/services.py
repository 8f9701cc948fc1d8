"""Writes of the notifications app: the settings (admins), audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from notifications.models import NotificationSettings
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from trustconsole.lib import netguard

SETTINGS_FIELDS = (
    "email_recipients",
    "queue_size_threshold",
    "queue_age_hours",
    "notify_account_overdue",
    "notify_remediation",
    "notify_fail_mode",
)
UPDATE_ACTION = "notification.settings_update"


def settings_for(*, organisation: Any) -> NotificationSettings:
    """The organisation's settings; unsaved defaults when it has none yet."""
    row = NotificationSettings.objects.filter(organisation=organisation).first()
    return row or NotificationSettings(organisation=organisation)


def _snapshot(row: NotificationSettings) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    data["slack_webhook"] = row.slack_webhook_hint  # never the URL itself
    return data


def slack_url_check(url: str) -> str:
    """An https:// address the SSRF guard accepts (ValidationError otherwise)."""
    try:
        return netguard.url_check(url, schemes=("https",))
    except netguard.UnsafeDestination as exc:
        raise ValidationError({"slack_webhook_url": str(exc)}) from exc


@transaction.atomic
def settings_update(
    *, actor: Actor, slack_webhook_url: str | None = None, **fields: Any
) -> NotificationSettings:
    """Change the settings; `slack_webhook_url` None keeps it, "" removes it."""
    actor.require()
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    row = (
        NotificationSettings.objects.select_for_update()
        .filter(organisation=actor.organisation)
        .first()
    ) or NotificationSettings(organisation=actor.organisation)
    before = _snapshot(row) if row.pk else None
    for name, value in fields.items():
        setattr(row, name, value)
    if slack_webhook_url is not None:
        row.slack_webhook_url = (
            slack_url_check(slack_webhook_url) if slack_webhook_url else ""
        )
    row.save()
    after = _snapshot(row)
    if before is not None:
        changed = [k for k in after if before[k] != after[k]]
        before = {k: before[k] for k in changed}
        after = {k: after[k] for k in changed}
        if not changed:
            return row
    audit_record(
        actor=actor, action=UPDATE_ACTION, target=row, before=before, after=after
    )
    return row
