"""The outbound policy check's models: its settings, Do-Not-Call lists (their numbers,
file versions, single changes and imports), verified caller IDs, consent records and
the log of denials.

They belong to the `voicegate` app (app label, tables and migrations are
voicegate's); `voicegate/models.py` imports this module so the app registers them.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from trustconsole.core.models import Organisation
from voicegate.policy.choices import (
    DncKind,
    DncProblemMode,
    DncStorage,
    ImportMode,
    ImportStatus,
    SignalWeight,
    VerificationMethod,
)


class PolicySettings(models.Model):
    """Per-organisation rules of the outbound call policy check."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="policy_settings"
    )
    harassment_limit = models.PositiveIntegerField(
        default=3,
        help_text="Allowed calls from one account to one destination in the window; "
        "the next one is refused.",
    )
    harassment_window_seconds = models.PositiveIntegerField(default=86400)
    blacklisted_do_not_contact = models.BooleanField(
        default=True,
        help_text="Refuse calls to the phone numbers of blacklisted visitors.",
    )
    denial_threshold = models.PositiveIntegerField(
        default=5,
        help_text="Denials of one account in the window that add a risk signal.",
    )
    denial_window_seconds = models.PositiveIntegerField(default=3600)
    denial_signal_weight = models.PositiveSmallIntegerField(
        choices=SignalWeight.choices, default=SignalWeight.LOW
    )
    auto_restrict_voice = models.BooleanField(
        default=True,
        help_text="Let the accounts restriction rule restrict voice (customer "
        "emailed) once the denial signals add up.",
    )
    dnc_stale_mode = models.CharField(
        max_length=8,
        choices=DncProblemMode.choices,
        default=DncProblemMode.WARN,
        help_text="When a national Do-Not-Call list is older than 31 days (the FTC "
        "safe-harbour rule): refuse calls to its country, or allow them with a "
        "warning.",
    )
    dnc_unavailable_mode = models.CharField(
        max_length=8,
        choices=DncProblemMode.choices,
        default=DncProblemMode.REFUSE,
        help_text="When a Do-Not-Call list file cannot be read on this server: "
        "refuse calls to its country (fail closed) or allow them with a warning "
        "(fail open).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policy settings"

    def __str__(self) -> str:
        return f"Outbound policy settings of {self.organisation}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        for name in ("harassment_limit", "denial_threshold"):
            if getattr(self, name) < 1:
                errors[name] = "Give a whole number of 1 or more."
        for name in ("harassment_window_seconds", "denial_window_seconds"):
            if not 60 <= getattr(self, name) <= 90 * 86400:
                errors[name] = "Give a window from 60 seconds to 90 days."
        if errors:
            raise ValidationError(errors)


class DncList(models.Model):
    """A Do-Not-Call list of an organisation: a national registry or its own."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="dnc_lists"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    kind = models.CharField(
        max_length=16, choices=DncKind.choices, default=DncKind.INTERNAL
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text="ISO code; numbers without + in imports are read in this country.",
    )
    description = models.CharField(max_length=500, blank=True)
    entry_count = models.PositiveBigIntegerField(default=0)
    # Moves when the entries change in bulk (an import finished, the list was
    # emptied): processes then read the list again instead of replaying changes.
    generation = models.PositiveIntegerField(default=0)
    storage = models.CharField(
        max_length=8, choices=DncStorage.choices, default=DncStorage.DATABASE
    )
    as_of = models.DateField(
        null=True, blank=True, help_text="Date of the registry file now in use."
    )
    current_version = models.ForeignKey(
        "DncListVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="dnc_list_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class DncEntry(models.Model):
    """One number on a Do-Not-Call list, kept compact: E.164 digits as an integer."""

    dnc_list = models.ForeignKey(
        DncList, on_delete=models.CASCADE, related_name="entries"
    )
    number = models.BigIntegerField(help_text="E.164 without the +.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dnc_list", "number"], name="dnc_entry_unique"
            )
        ]

    def __str__(self) -> str:
        return f"+{self.number}"

    @property
    def e164(self) -> str:
        """The number with its +."""
        return f"+{self.number}"


class DncListVersion(models.Model):
    """One version of a file-backed list: a base file plus the change lists since.

    Files live in POLICY_DNC_FILE_DIR/<list public id>/: `base_file` (a full import),
    `adds_file` and `dels_file` (sorted numbers added to / taken off the base by
    change lists since; empty names when there are none).
    """

    dnc_list = models.ForeignKey(
        DncList, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    mode = models.CharField(max_length=16, choices=ImportMode.choices)
    base_file = models.CharField(max_length=100)
    adds_file = models.CharField(max_length=100, blank=True)
    dels_file = models.CharField(max_length=100, blank=True)
    count = models.PositiveBigIntegerField(default=0)
    base_count = models.PositiveBigIntegerField(default=0)
    additions = models.PositiveBigIntegerField(default=0)
    deletions = models.PositiveBigIntegerField(default=0)
    as_of = models.DateField(null=True, blank=True)
    # Single-number changes (DncChange) with a higher id apply on top of this
    # version; older ones were made before the registry file was imported.
    change_floor = models.BigIntegerField(default=0)
    source_name = models.CharField(max_length=255, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["dnc_list", "number"], name="dnc_version_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"Version {self.number} of {self.dnc_list_id}"

    @property
    def files(self) -> list[str]:
        """Names of the files this version reads."""
        return [
            name for name in (self.base_file, self.adds_file, self.dels_file) if name
        ]


class DncChange(models.Model):
    """A single-number change to a list, replayed by every process's in-memory copy."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    dnc_list = models.ForeignKey(DncList, on_delete=models.CASCADE)
    number = models.BigIntegerField()
    # File-backed lists only: whether the number is on the list after this change
    # (database lists read that from DncEntry).
    present = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "id"], name="dnc_change_org")]

    def __str__(self) -> str:
        return f"+{self.number} on {self.dnc_list_id}"


class DncImport(models.Model):
    """A CSV import into a list; its progress is what the import page shows."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="dnc_imports"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dnc_list = models.ForeignKey(
        DncList, on_delete=models.CASCADE, related_name="imports"
    )
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    region = models.CharField(max_length=2, blank=True)
    mode = models.CharField(
        max_length=16, choices=ImportMode.choices, default=ImportMode.FULL
    )
    as_of = models.DateField(null=True, blank=True)
    version = models.ForeignKey(
        DncListVersion, null=True, blank=True, on_delete=models.SET_NULL
    )
    bytes_read = models.PositiveBigIntegerField(default=0)
    rows_read = models.PositiveBigIntegerField(default=0)
    valid = models.PositiveBigIntegerField(default=0)
    invalid = models.PositiveBigIntegerField(default=0)
    added = models.PositiveBigIntegerField(default=0)
    duplicates = models.PositiveBigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import of {self.file_name} into {self.dnc_list_id}"

    @property
    def percent(self) -> int:
        """How far through the file the import is (0–100)."""
        if self.status == ImportStatus.DONE:
            return 100
        if not self.file_size:
            return 0
        return min(100, int(self.bytes_read * 100 / self.file_size))

    @property
    def is_active(self) -> bool:
        """Still waiting or running."""
        return self.status in (ImportStatus.PENDING, ImportStatus.RUNNING)


class VerifiedCallerId(models.Model):
    """A number an account (or the organisation itself) has proven it may present."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="verified_caller_ids"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="verified_caller_ids",
    )
    number = models.CharField(max_length=20)
    method = models.CharField(max_length=16, choices=VerificationMethod.choices)
    note = models.CharField(max_length=500, blank=True)
    verified_by = models.CharField(max_length=200)
    verified_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-verified_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "account", "number"],
                condition=Q(account__isnull=False),
                name="verified_caller_id_unique_account",
            ),
            models.UniqueConstraint(
                fields=["organisation", "number"],
                condition=Q(account__isnull=True),
                name="verified_caller_id_unique_org",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class ConsentRecord(models.Model):
    """A destination's recorded consent to be called; it overrides Do-Not-Call."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="consent_records"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=20)
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="consent_records",
        help_text="Empty: consent to the organisation and every account.",
    )
    evidence = models.CharField(
        max_length=500, help_text="How and where consent was given."
    )
    given_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-given_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "account", "number"],
                condition=Q(account__isnull=False),
                name="consent_unique_account",
            ),
            models.UniqueConstraint(
                fields=["organisation", "number"],
                condition=Q(account__isnull=True),
                name="consent_unique_org",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OutboundDenial(models.Model):
    """A refused outbound call, with every violation the check found."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="outbound_denials"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_denials",
    )
    from_number = models.CharField(max_length=64)
    to_number = models.CharField(max_length=64)
    violations = models.JSONField(default=list)
    codes = models.CharField(max_length=200, help_text="Violation codes, for filters.")
    # What decided each identity violation (trustconsole.policy.decide.explanation).
    explanation = models.JSONField(default=list, blank=True)
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["organisation", "-created_at"], name="outbound_denial_org_time"
            ),
            models.Index(
                fields=["organisation", "account", "-created_at"],
                name="outbound_denial_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_number} → {self.to_number}: {self.codes}"


class OutboundCheck(models.Model):
    """One outbound check (allowed or refused) with the facts the outbound-check
    rules saw: the history their backtests replay. Written in bulk by
    `voicegate.policy.checklog`; allowed checks capped per organisation and hour,
    every row kept `POLICY_CHECK_LOG_DAYS`."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Whose calls the sliding windows count: "account:<public id>" or "org".
    account_key = models.CharField(max_length=60)
    account_status = models.CharField(max_length=16, blank=True)
    numbers_owned = models.PositiveIntegerField(default=0)
    from_number = models.CharField(max_length=64)
    from_e164 = models.CharField(max_length=64)
    caller_id_owned = models.BooleanField(default=False)
    to_number = models.CharField(max_length=64)
    to_e164 = models.CharField(max_length=64, blank=True)
    destination_status = models.CharField(max_length=16, blank=True)
    # A whitelisted destination: the rules did not run (never refused by them).
    whitelisted = models.BooleanField(default=False)
    calls_made = models.PositiveIntegerField(default=0)
    harassment_limit = models.PositiveIntegerField(default=0)
    harassment_window_seconds = models.PositiveIntegerField(default=0)
    allowed = models.BooleanField()
    codes = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                fields=["organisation", "occurred_at"], name="outbound_check_org_time"
            ),
            models.Index(fields=["occurred_at"], name="outbound_check_time"),
        ]

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else f"refused ({self.codes})"
        return f"{self.from_e164} → {self.to_e164 or self.to_number}: {verdict}"
