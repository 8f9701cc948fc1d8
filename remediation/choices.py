"""Choices of the remediation app (vocabulary of the Telnyx remediation seed)."""

from __future__ import annotations

from django.db import models


class GateStatus(models.TextChoices):
    """Where one of the enterprise's two approval gates stands."""

    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


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
STATUS_RANK = {
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
