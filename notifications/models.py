"""Notification settings, raised conditions (de-duplication) and sent notifications."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from notifications.choices import Outcome, Trigger
from trustconsole.core.models import Organisation
from trustconsole.lib.crypto import EncryptedTextField, hint


class NotificationSettings(models.Model):
    """Where an organisation's notifications go and when they are sent."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_recipients = models.JSONField(default=list, blank=True)
    # A Slack-compatible incoming webhook: its URL is the credential.
    slack_webhook_url = EncryptedTextField(blank=True)
    # 0 turns a threshold off.
    queue_size_threshold = models.PositiveIntegerField(default=20)
    queue_age_hours = models.PositiveIntegerField(default=24)
    notify_account_overdue = models.BooleanField(default=True)
    notify_remediation = models.BooleanField(default=True)
    notify_fail_mode = models.BooleanField(default=True)
    # Remediation requests that finished before this are never announced.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"notification settings of {self.organisation}"

    @property
    def slack_webhook_hint(self) -> str:
        """The saved webhook as pages show it: '••••' and its last four characters."""
        return hint(self.slack_webhook_url)

    @property
    def has_channel(self) -> bool:
        """Somewhere to send to."""
        return bool(self.email_recipients or self.slack_webhook_url)


class Condition(models.Model):
    """A condition that was announced and has not cleared yet (one notification per
    condition until it clears); for events, the marker that one was announced."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    key = models.CharField(max_length=200)
    raised_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "key"), name="notification_condition_once"
            )
        ]

    def __str__(self) -> str:
        return self.key


class Notification(models.Model):
    """One notification as it was sent, with the outcome of each channel."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="notifications"
    )
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    email_recipients = models.JSONField(default=list, blank=True)
    email_status = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.SKIPPED
    )
    email_detail = models.CharField(max_length=500, blank=True)
    slack_status = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.SKIPPED
    )
    slack_detail = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.PENDING
    )
    # A notification for one member (an escalation): shown in their console and
    # mailed to them; None for the organisation's channels (Settings → Notifications).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    read_at = models.DateTimeField(null=True, blank=True)
    # Delivery attempts so far, when the next one is due (or, while one runs, until
    # when it holds the row), and the latest failure.
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("organisation", "-created_at"), name="notification_org_time"
            ),
            models.Index(
                fields=("recipient", "organisation", "read_at"),
                name="notification_recipient",
            ),
            models.Index(fields=("status", "next_attempt_at"), name="notification_due"),
        ]

    def __str__(self) -> str:
        return self.subject
