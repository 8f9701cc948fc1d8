"""Sending one notification: Django's email backend and a Slack-compatible webhook,
retried with back-off by Celery.

The webhook gets `{"text": "<subject>\\n<body>"}` (what Slack, Mattermost and
Rocket.Chat incoming webhooks read) through the SSRF guard
(`trustconsole.lib.netguard`): a private or loopback address is refused unless
`OUTBOUND_ALLOW_PRIVATE` is on. A notification for one member (`recipient`, an
escalation) is mailed to them only; the organisation's webhook is not used.

`attempt()` is one delivery attempt: it claims the row (a conditional UPDATE on
the attempt count, so two tasks never send the same attempt), sends every channel
still owed (a channel already sent is never sent again) and records each
channel's outcome. A transient failure (connection error, timeout, HTTP 5xx, 408,
425 or 429, a mail server error) leaves the notification `retrying` with
`next_attempt_at` and `last_error`, and returns the delay Celery waits before the
next attempt (`NOTIFICATIONS_RETRY_BACKOFF` seconds, doubling, at most
`NOTIFICATIONS_RETRY_MAX_DELAY`, with jitter); after `NOTIFICATIONS_RETRY_ATTEMPTS`
attempts, or at a permanent failure (refused by the guard, another 4xx), it is
`failed` (or `partial` when another channel was sent). Beat's check re-queues a
notification whose due attempt was lost (a worker killed mid-task).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications.choices import Outcome
from notifications.models import Notification, NotificationSettings
from trustconsole.lib import crypto, metrics, netguard

logger = logging.getLogger(__name__)

# How long one attempt holds the row (two channel timeouts and some margin).
LEASE = dt.timedelta(minutes=2)
# A due attempt this late was lost: beat queues it again.
LOST_AFTER = dt.timedelta(minutes=1)
RETRY_STATUSES = {408, 425, 429}
# Channels an attempt after the first still sends (not sent, not given up).
OWED = (Outcome.PENDING, Outcome.RETRYING)


@dataclass(frozen=True)
class Result:
    """How one channel went: outcome, detail, and whether trying again may help."""

    outcome: str
    detail: str = ""
    transient: bool = False


def _email(notification: Notification) -> Result:
    if not notification.email_recipients:
        return Result(Outcome.SKIPPED)
    try:
        send_mail(
            notification.subject,
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            list(notification.email_recipients),
            connection=get_connection(timeout=settings.NOTIFICATIONS_TIMEOUT),
        )
    except smtplib.SMTPRecipientsRefused as exc:
        return Result(Outcome.FAILED, f"recipients refused: {exc}"[:500])
    except Exception as exc:
        logger.warning("notification %s: email failed: %s", notification.public_id, exc)
        return Result(
            Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:500], transient=True
        )
    return Result(
        Outcome.SENT, f"sent to {len(notification.email_recipients)} recipient(s)"
    )


def _slack(notification: Notification, url: str) -> Result:
    if not url:
        return Result(Outcome.SKIPPED)
    if crypto.is_unreadable(url):
        return Result(Outcome.FAILED, f"webhook URL {crypto.UNREADABLE}"[:500])
    text = f"{notification.subject}\n{notification.body}"
    try:
        with netguard.guarded_client(timeout=settings.NOTIFICATIONS_TIMEOUT) as client:
            response = client.post(url, json={"text": text})
    except netguard.UnsafeDestination as exc:
        return Result(Outcome.FAILED, f"refused: {exc}"[:500])
    except httpx.HTTPError as exc:
        return Result(
            Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:500], transient=True
        )
    code = response.status_code
    if 200 <= code < 300:
        return Result(Outcome.SENT, f"HTTP {code}")
    transient = code >= 500 or code in RETRY_STATUSES
    return Result(Outcome.FAILED, f"HTTP {code}: {response.text[:200]}", transient)


def _overall(*outcomes: str) -> str:
    tried = [o for o in outcomes if o != Outcome.SKIPPED]
    if not tried:
        return Outcome.SKIPPED
    if all(o == Outcome.SENT for o in tried):
        return Outcome.SENT
    if Outcome.RETRYING in tried:
        return Outcome.RETRYING
    if any(o == Outcome.SENT for o in tried):
        return Outcome.PARTIAL
    return Outcome.FAILED


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` attempts (with jitter)."""
    base = settings.NOTIFICATIONS_RETRY_BACKOFF * 2 ** max(attempts - 1, 0)
    delay = min(base, settings.NOTIFICATIONS_RETRY_MAX_DELAY)
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - not a secret


def _claim(notification_id: int) -> Notification | None:
    """The row, now held by this attempt; None if it is done or not due."""
    row = Notification.objects.filter(pk=notification_id).first()
    if row is None or row.status not in (Outcome.PENDING, Outcome.RETRYING):
        return None
    now = timezone.now()
    if row.next_attempt_at is not None and row.next_attempt_at > now + dt.timedelta(
        seconds=1
    ):
        return None  # another attempt holds it, or it is not due yet
    claimed = Notification.objects.filter(
        pk=row.pk, attempts=row.attempts, status=row.status
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if claimed != 1:
        return None
    row.refresh_from_db()
    return row


def attempt(*, notification_id: int) -> float | None:
    """One delivery attempt; the delay before the next one, or None when done."""
    row = _claim(notification_id)
    if row is None:
        return None
    channels = (
        NotificationSettings.objects.filter(organisation_id=row.organisation_id)
        .only("slack_webhook_url")
        .first()
    )
    webhook = "" if row.recipient_id or channels is None else channels.slack_webhook_url
    results: dict[str, Result] = {}
    if row.email_status in OWED or row.attempts == 1:
        results["email"] = _email(row)
    if row.slack_status in OWED or row.attempts == 1:
        results["slack"] = _slack(row, webhook or "")
    final = row.attempts >= settings.NOTIFICATIONS_RETRY_ATTEMPTS
    errors = []
    for name, result in results.items():
        outcome = result.outcome
        if outcome == Outcome.FAILED and result.transient and not final:
            outcome = Outcome.RETRYING
        setattr(row, f"{name}_status", outcome)
        setattr(row, f"{name}_detail", result.detail)
        if result.outcome == Outcome.FAILED:
            label = "email" if name == "email" else "webhook"
            errors.append(f"{label}: {result.detail}")
    row.status = _overall(row.email_status, row.slack_status)
    if errors:
        row.last_error = "; ".join(errors)[:500]
    delay = retry_delay(row.attempts) if row.status == Outcome.RETRYING else None
    now = timezone.now()
    row.next_attempt_at = now + dt.timedelta(seconds=delay) if delay else None
    if row.status != Outcome.RETRYING:
        row.sent_at = now
    row.save(
        update_fields=[
            "email_status",
            "email_detail",
            "slack_status",
            "slack_detail",
            "status",
            "last_error",
            "next_attempt_at",
            "sent_at",
        ]
    )
    metrics.NOTIFICATIONS.labels(row.trigger, row.status).inc()
    log = logger.info if row.status == Outcome.SENT else logger.warning
    log(
        "notification %s (%s) %s after %s attempt(s): email %s, webhook %s",
        row.public_id,
        row.trigger,
        row.status,
        row.attempts,
        row.email_status,
        row.slack_status,
    )
    return delay


def enqueue(notification: Notification, *, countdown: float | None = None) -> None:
    """Queue an attempt once the transaction that made the row commits."""
    from notifications.tasks import deliver_task

    notification_id = notification.pk
    transaction.on_commit(
        lambda: deliver_task.apply_async((notification_id,), countdown=countdown)
    )


def deliver(notification: Notification) -> Notification:
    """The first attempt now (beat's check runs on the worker already); a retry,
    if one is due, goes to Celery."""
    delay = attempt(notification_id=notification.pk)
    if delay is not None:
        enqueue(notification, countdown=delay)
    notification.refresh_from_db()
    return notification


def requeue_lost(*, now: dt.datetime | None = None) -> int:
    """Queue again the attempts that are overdue (their task was lost)."""
    now = now or timezone.now()
    lost = list(
        Notification.objects.filter(
            status__in=(Outcome.PENDING, Outcome.RETRYING),
            next_attempt_at__lt=now - LOST_AFTER,
        ).values_list("pk", flat=True)[:500]
    )
    from notifications.tasks import deliver_task

    for notification_id in lost:
        deliver_task.delay(notification_id)
    if lost:
        logger.warning(
            "notifications: %s lost delivery attempt(s) queued again", len(lost)
        )
    return len(lost)
