"""Sending one notification: Django's email backend and a Slack-compatible webhook.

The webhook gets `{"text": "<subject>\\n<body>"}` (what Slack, Mattermost and
Rocket.Chat incoming webhooks read) through the SSRF guard
(`trustconsole.lib.netguard`): a private or loopback address is refused unless
`OUTBOUND_ALLOW_PRIVATE` is on. Each channel's outcome is stored on the
notification; nothing is retried (the list shows what failed).
"""

from __future__ import annotations

import logging

import httpx
from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.utils import timezone

from notifications.choices import Outcome
from notifications.models import Notification, NotificationSettings
from trustconsole.lib import crypto, metrics, netguard

logger = logging.getLogger(__name__)


def _email(notification: Notification) -> tuple[str, str]:
    if not notification.email_recipients:
        return Outcome.SKIPPED, ""
    try:
        send_mail(
            notification.subject,
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            list(notification.email_recipients),
            connection=get_connection(timeout=settings.NOTIFICATIONS_TIMEOUT),
        )
    except Exception as exc:
        logger.warning("notification %s: email failed: %s", notification.public_id, exc)
        return Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:500]
    return Outcome.SENT, f"sent to {len(notification.email_recipients)} recipient(s)"


def _slack(notification: Notification, url: str) -> tuple[str, str]:
    if not url:
        return Outcome.SKIPPED, ""
    text = f"{notification.subject}\n{notification.body}"
    try:
        with netguard.guarded_client(timeout=settings.NOTIFICATIONS_TIMEOUT) as client:
            response = client.post(url, json={"text": text})
    except netguard.UnsafeDestination as exc:
        return Outcome.FAILED, f"refused: {exc}"[:500]
    except httpx.HTTPError as exc:
        return Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return Outcome.SENT, f"HTTP {response.status_code}"
    return Outcome.FAILED, f"HTTP {response.status_code}: {response.text[:200]}"


def _overall(*outcomes: str) -> str:
    tried = [o for o in outcomes if o != Outcome.SKIPPED]
    if not tried:
        return Outcome.SKIPPED
    if all(o == Outcome.SENT for o in tried):
        return Outcome.SENT
    if any(o == Outcome.SENT for o in tried):
        return Outcome.PARTIAL
    return Outcome.FAILED


def deliver(notification: Notification, row: NotificationSettings) -> Notification:
    """Send by every configured channel and store how it went."""
    notification.email_status, notification.email_detail = _email(notification)
    if crypto.is_unreadable(row.slack_webhook_url):
        notification.slack_status = Outcome.FAILED
        notification.slack_detail = f"webhook URL {crypto.UNREADABLE}"[:500]
    else:
        notification.slack_status, notification.slack_detail = _slack(
            notification, row.slack_webhook_url or ""
        )
    notification.status = _overall(notification.email_status, notification.slack_status)
    notification.sent_at = timezone.now()
    notification.save(
        update_fields=[
            "email_status",
            "email_detail",
            "slack_status",
            "slack_detail",
            "status",
            "sent_at",
        ]
    )
    metrics.NOTIFICATIONS.labels(notification.trigger, notification.status).inc()
    log = logger.info if notification.status == Outcome.SENT else logger.warning
    log(
        "notification %s (%s) %s: email %s, webhook %s",
        notification.public_id,
        notification.trigger,
        notification.status,
        notification.email_status,
        notification.slack_status,
    )
    return notification
