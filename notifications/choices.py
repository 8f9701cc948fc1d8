"""Choices of the notifications app."""

from __future__ import annotations

from django.db import models


class Trigger(models.TextChoices):
    """What a notification is about."""

    QUEUE_SIZE = "queue_size", "Visitor review queue too long"
    QUEUE_AGE = "queue_age", "Visitor review waiting too long"
    ACCOUNT_OVERDUE = "account_overdue", "Account review overdue"
    REMEDIATION_COMPLETED = "remediation_completed", "Remediation request completed"
    REMEDIATION_FAILED = "remediation_failed", "Remediation request failed"
    FAIL_MODE = "fail_mode", "Call gate decided in a fail mode"
    RULE_DISABLED = "rule_disabled", "Rule turned off (over its time budget)"
    ESCALATED = "escalated", "Work-queue item escalated to you"
    TEST = "test", "Test notification"


class Outcome(models.TextChoices):
    """How sending went, for one channel or the whole notification."""

    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    PARTIAL = "partial", "Partly sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not configured"
