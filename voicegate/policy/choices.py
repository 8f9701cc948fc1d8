"""Choices of the outbound call policy check."""

from __future__ import annotations

from django.db import models


class DncKind(models.TextChoices):
    """Where a Do-Not-Call list comes from."""

    NATIONAL = "national", "National registry"
    INTERNAL = "internal", "Own (internal) list"


class DncStorage(models.TextChoices):
    """Where a list's numbers are kept."""

    DATABASE = "database", "Database rows (hand-kept lists)"
    FILE = "file", "Versioned files, mapped by every process (national registries)"


class ImportMode(models.TextChoices):
    """What an uploaded file is to a list."""

    FULL = "full", "Full list (replaces the list)"
    CHANGES = "changes", "Change list (each line flagged A or D)"
    ADDITIONS = "additions", "Additions only"
    DELETIONS = "deletions", "Deletions only"


class DncProblemMode(models.TextChoices):
    """What the check does when a national list is stale or cannot be read."""

    REFUSE = "refuse", "Refuse the call"
    WARN = "warn", "Allow the call with a warning"


class ImportStatus(models.TextChoices):
    """Where a Do-Not-Call import stands."""

    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Importing"
    DONE = "done", "Finished"
    FAILED = "failed", "Failed"


class PolicyWarning(models.TextChoices):
    """What an allowed (or denied) call should know but is not refused for."""

    CALLER_ID_HIGH_SPAM_RISK = (
        "caller_id_high_spam_risk",
        "Caller ID has a high spam risk",
    )


class Violation(models.TextChoices):
    """Why an outbound call is refused (codes of the check's answer)."""

    DNC = "dnc", "Destination on a Do-Not-Call list"
    CALLER_ID_NOT_OWNED = "caller_id_not_owned", "Caller ID not owned or verified"
    EMERGENCY_NUMBER = "emergency_number", "Emergency number"
    ACCOUNT_RESTRICTED = "account_restricted", "Account restricted"
    BLACKLISTED_DESTINATION = "blacklisted_destination", "Blacklisted visitor"
    HARASSMENT = "harassment", "Too many calls to one destination"
    DNC_STALE = "dnc_stale", "National Do-Not-Call list older than 31 days"
    DNC_UNAVAILABLE = "dnc_unavailable", "Do-Not-Call list cannot be read"


class VerificationMethod(models.TextChoices):
    """How a caller ID was verified."""

    CALL = "call", "Verification call"
    SMS = "sms", "Verification SMS"
    DOCUMENT = "document", "Document (LOA, bill)"
    PROVIDER = "provider", "Verified at the provider"


class SignalWeight(models.IntegerChoices):
    """The console's risk-signal weight scale."""

    LOW = 10, "Low (+10)"
    MEDIUM = 20, "Medium (+20)"
    HIGH = 40, "High (+40)"
    EXTREME = 70, "Extreme (+70)"
