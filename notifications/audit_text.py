"""Audit sentences and field labels of the notifications app."""

from __future__ import annotations

from trustconsole.core.audit_text import (
    register_actions,
    register_fields,
    register_target,
)


def _off_or_number(value: object) -> str:
    return "off" if value in (0, "0") else f"{value}"


register_target("notifications.notificationsettings", "notification settings")
register_actions(
    {"notification.settings_update": "{actor} changed the notification settings"}
)
register_fields(
    target_type="notifications.notificationsettings",
    labels={
        "email_recipients": "Email recipients",
        "slack_webhook": "Slack-compatible webhook",
        "queue_size_threshold": "Visitor review queue size that notifies",
        "queue_age_hours": "Visitor review age that notifies (hours)",
        "notify_account_overdue": "Notify when an account review is overdue",
        "notify_remediation": "Notify when a remediation request finishes",
        "notify_fail_mode": "Notify on fail-mode call decisions",
    },
    choices={
        "queue_size_threshold": _off_or_number,
        "queue_age_hours": _off_or_number,
    },
)
