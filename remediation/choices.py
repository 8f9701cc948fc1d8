"""Choices of the remediation app (vocabulary of the Telnyx remediation seed)."""

from __future__ import annotations

from django.db import models


class GateStatus(models.TextChoices):
    """Where one of the enterprise's two approval gates stands."""

    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    # The provider's record was removed (monitoring disabled).
    DELETED = "deleted", "Deleted"


class SpamRisk(models.TextChoices):
    """Spam risk of a monitored number as the analytics networks report it."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


# Numbers with these risks are "flagged": listed on the Remediation page.
ELEVATED_RISKS: tuple[str, ...] = (SpamRisk.MEDIUM, SpamRisk.HIGH)


class RemediationStatus(models.TextChoices):
    """The customer-facing meta-status of a remediation request (seed wording)."""

    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


IN_FLIGHT_STATUSES: tuple[str, ...] = (
    RemediationStatus.PENDING,
    RemediationStatus.IN_PROGRESS,
)
TERMINAL_STATUSES: tuple[str, ...] = (
    RemediationStatus.COMPLETED,
    RemediationStatus.FAILED,
    RemediationStatus.CANCELLED,
)
# A status only ever moves forward: pending → in_progress → one terminal status.
STATUS_RANK: dict[str, int] = {
    RemediationStatus.PENDING: 0,
    RemediationStatus.IN_PROGRESS: 1,
    RemediationStatus.COMPLETED: 2,
    RemediationStatus.FAILED: 2,
    RemediationStatus.CANCELLED: 2,
}


class Bucket(models.TextChoices):
    """The per-number result buckets; each number lands in exactly one."""

    REMEDIATED = "remediated", "Remediated"
    NOT_FLAGGED = "not_flagged", "Not flagged"
    REQUIRES_REVIEW = "requires_review", "Requires review"
    INELIGIBLE = "ineligible", "Ineligible"
    REFUSED = "refused", "Refused"


# The order the seed lists them in, which is also the order of the JSON object.
BUCKETS: tuple[str, ...] = tuple(Bucket.values)


class Provider(models.TextChoices):
    """Where an organisation's remediation requests are forwarded."""

    SANDBOX = "sandbox", "Built-in sandbox (offline, deterministic)"
    TELNYX = "telnyx", "Telnyx"


class DeliveryStatus(models.TextChoices):
    """Where one status webhook stands."""

    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class CheckFrequency(models.TextChoices):
    """How often the provider re-checks an enterprise's monitored numbers."""

    BUSINESS_DAILY = "business_daily", "Every business day (Mon–Fri)"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    BIWEEKLY = "biweekly", "Every two weeks"
    MONTHLY = "monthly", "Monthly"
    NEVER = "never", "Never (manual refresh only)"


class ObservationSource(models.TextChoices):
    """How a reputation observation reached the console."""

    REGISTRATION = "registration", "Registration"
    SCHEDULED = "scheduled", "Scheduled check"
    MANUAL = "manual", "Refresh by an operator"
    FOLLOW_UP = "follow_up", "Follow-up after remediation"
    WEBHOOK = "webhook", "Provider webhook"


class RefreshKind(models.TextChoices):
    """Why a billable refresh of numbers was made."""

    MANUAL = "manual", "Refresh by an operator"
    FOLLOW_UP = "follow_up", "Follow-up after remediation"


class RefreshStatus(models.TextChoices):
    """Where a refresh job stands."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


# Webhook event types of the provider's Number Reputation ownership webhooks.
EVENT_FLAGGED = "number_reputation.number.flagged"
EVENT_REMOVED = "number_reputation.number.removed"
EVENT_VERIFICATION = "number_reputation.external_verification.status_changed"
REPUTATION_EVENTS: tuple[str, ...] = (EVENT_FLAGGED, EVENT_REMOVED, EVENT_VERIFICATION)
