"""Choices of the outbound call policy check."""

from __future__ import annotations

from django.db import models

from trustconsole.policy.vocabulary import Reason as _R
from trustconsole.policy.vocabulary import Weight


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

    DNC = _R.DNC.value, _R.DNC.label
    CALLER_ID_NOT_OWNED = _R.CALLER_ID_NOT_OWNED.value, _R.CALLER_ID_NOT_OWNED.label
    EMERGENCY_NUMBER = _R.EMERGENCY_NUMBER.value, _R.EMERGENCY_NUMBER.label
    ACCOUNT_RESTRICTED = _R.ACCOUNT_RESTRICTED.value, _R.ACCOUNT_RESTRICTED.label
    BLACKLISTED_DESTINATION = (
        _R.BLACKLISTED_DESTINATION.value,
        _R.BLACKLISTED_DESTINATION.label,
    )
    BLOCKED_DESTINATION = _R.BLOCKED_DESTINATION.value, _R.BLOCKED_DESTINATION.label
    HARASSMENT = _R.HARASSMENT.value, _R.HARASSMENT.label
    DNC_STALE = _R.DNC_STALE.value, _R.DNC_STALE.label
    DNC_UNAVAILABLE = _R.DNC_UNAVAILABLE.value, _R.DNC_UNAVAILABLE.label


class VerificationMethod(models.TextChoices):
    """How a caller ID was verified."""

    CALL = "call", "Verification call"
    SMS = "sms", "Verification SMS"
    DOCUMENT = "document", "Document (LOA, bill)"
    PROVIDER = "provider", "Verified at the provider"


# The console's one risk-signal weight scale.
SignalWeight = Weight
