"""Writes of the notifications app: the settings (admins), audited."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from notifications import delivery
from notifications.models import Notification, NotificationSettings
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


def notify_members(
    *,
    organisation: Any,
    users: list[Any],
    trigger: str,
    subject: str,
    body: str,
    path: str,
) -> list[Notification]:
    """One notification per member: in their console at once (Notifications in
    the header), mailed to them by the worker once this transaction commits."""
    link = (settings.VOICEGATE_PUBLIC_BASE_URL or "").rstrip("/") + path
    now = timezone.now()
    rows = []
    for user in users:
        row = Notification.objects.create(
            organisation=organisation,
            trigger=trigger,
            subject=subject[:200],
            body=f"{body}\n\nOpen: {link}",
            link=path,
            recipient=user,
            email_recipients=[user.email] if user.email else [],
            next_attempt_at=now,
        )
        delivery.enqueue(row)
        rows.append(row)
    return rows


def notification_open(*, actor: Actor, public_id: str) -> Notification:
    """The actor's own notification, marked read (404 for anyone else's)."""
    from django.http import Http404

    row = (
        Notification.objects.filter(
            organisation=actor.organisation, recipient=actor.user, public_id=public_id
        ).first()
        if actor.user is not None
        else None
    )
    if row is None:
        raise Http404("No such notification.")
    if row.read_at is None:
        row.read_at = timezone.now()
        row.save(update_fields=["read_at"])
    return row


def notifications_mark_read(*, actor: Actor) -> int:
    """Mark every unread notification of the actor (in this organisation) read."""
    if actor.user is None:
        return 0
    return Notification.objects.filter(
        organisation=actor.organisation, recipient=actor.user, read_at__isnull=True
    ).update(read_at=timezone.now())
