"""Customer accounts of an organisation (not login users) and their reviews."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.choices import (
    ALL_SERVICES,
    OPEN_REQUEST_STATUSES,
    AccountStatus,
    EmailKind,
    EvidenceKind,
    RefundStatus,
    RequestStatus,
    SignalSource,
    SignalType,
    SlaState,
)
from accounts.storage import evidence_storage
from trustconsole.core.models import Organisation


def _default_high_risk_countries() -> list[str]:
    return []


class AccountSettings(models.Model):
    """Per-organisation thresholds of the signup assessment and continuous review."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="account_settings"
    )
    hold_threshold = models.PositiveIntegerField(
        default=50, help_text="Signup risk score at or above which an account is held."
    )
    high_risk_countries = models.JSONField(
        default=_default_high_risk_countries,
        blank=True,
        help_text="ISO country codes treated as high-risk destinations or origins.",
    )
    review_window_days = models.PositiveIntegerField(default=7)
    numbers_min_for_usage_check = models.PositiveIntegerField(default=10)
    min_outbound_per_number = models.PositiveIntegerField(
        default=1, help_text="Outbound calls+SMS per owned number in the window."
    )
    complaints_threshold = models.PositiveIntegerField(default=1)
    spike_factor = models.PositiveIntegerField(
        default=5, help_text="A day this many times the account's own daily average."
    )
    spike_min_volume = models.PositiveIntegerField(default=200)
    spike_history_days = models.PositiveIntegerField(default=14)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "account settings"

    def __str__(self) -> str:
        return f"Account settings of {self.organisation}"


class Account(models.Model):
    """A customer account that buys voice/SMS service from the organisation."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="customer_accounts"
    )
    company_name = models.CharField(max_length=200)
    email = models.EmailField()
    website = models.URLField(blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    signup_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    restricted_services = models.JSONField(default=list, blank=True)
    balance = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    payment_flagged = models.BooleanField(default=False)
    risk_score = models.PositiveIntegerField(default=0)
    # Internal only: never shown to the customer.
    status_reason = models.TextField(blank=True)
    decision_final_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Who or what decided the current status: the support agent's name, or the
    # automatic rule ("the signup risk assessment") that set it. Internal only.
    status_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("-signup_at", "-id")
        indexes = [
            models.Index(fields=("organisation", "status"), name="account_org_status"),
            models.Index(fields=("organisation", "email"), name="account_org_email"),
        ]

    def __str__(self) -> str:
        return f"{self.company_name} <{self.email}>"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        unknown = set(self.restricted_services) - set(ALL_SERVICES)
        if unknown:
            raise ValidationError(
                {"restricted_services": f"Unknown services: {sorted(unknown)}."}
            )
        self.country = (self.country or "").upper()

    @property
    def decision_final(self) -> bool:
        """A second review kept the hold: further requests are refused."""
        return self.decision_final_at is not None


class AccountNumber(models.Model):
    """A phone number (E.164) owned by an account."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="numbers"
    )
    e164 = models.CharField(max_length=16)
    acquired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("e164",)
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "e164"), name="account_number_unique_org"
            )
        ]

    def __str__(self) -> str:
        return self.e164


class AccountUsageDay(models.Model):
    """One day of an account's usage counters, as reported by the usage feed."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    numbers_bought = models.PositiveIntegerField(default=0)
    outbound_calls = models.PositiveIntegerField(default=0)
    outbound_sms = models.PositiveIntegerField(default=0)
    carrier_complaints = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-day",)
        constraints = [
            models.UniqueConstraint(fields=("account", "day"), name="usage_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}"


class AccountSignalQuerySet(models.QuerySet["AccountSignal"]):
    """Reads of account signals: `active()` is every read of the live ones."""

    def active(self, *, at: dt.datetime | None = None) -> AccountSignalQuerySet:
        """The signals that count now (or at `at`): no expiry, or one still ahead."""
        at = at or timezone.now()
        return self.filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at)
        )

    def expired(self, *, at: dt.datetime | None = None) -> AccountSignalQuerySet:
        """The signals whose expiry has passed (kept for the account's history)."""
        return self.filter(expires_at__lte=at or timezone.now())


class AccountSignal(models.Model):
    """One explainable reason an account looks risky, with its weight."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="signals"
    )
    signal_type = models.CharField(max_length=32, choices=SignalType.choices)
    weight = models.PositiveIntegerField()
    source = models.CharField(max_length=32, choices=SignalSource.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # After `expires_at` the signal no longer counts; the beat task that notices it
    # recomputes the stored score, audits, and sets `expiry_recorded_at` (once).
    expires_at = models.DateTimeField(null=True, blank=True)
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)

    objects = AccountSignalQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (
            models.Index(
                fields=("expires_at",),
                name="accounts_signal_expiry_due",
                condition=models.Q(
                    expires_at__isnull=False, expiry_recorded_at__isnull=True
                ),
            ),
        )

    def __str__(self) -> str:
        return f"{self.get_signal_type_display()} (+{self.weight})"

    @property
    def expired(self) -> bool:
        """Has its expiry passed (it no longer counts in the score)?"""
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def expiry_words(self) -> str:
        """ "expires in 3 h", "expires in 20 min", "expired" or "" (never expires)."""
        if self.expires_at is None:
            return ""
        left = (self.expires_at - timezone.now()).total_seconds()
        if left <= 0:
            return "expired"
        if left < 3600:
            return f"expires in {max(1, round(left / 60))} min"
        if left < 72 * 3600:
            return f"expires in {round(left / 3600)} h"
        return f"expires in {round(left / 86400)} days"


class CustomerEmail(models.Model):
    """An email sent to the customer; kept for the account's timeline."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="emails"
    )
    kind = models.CharField(max_length=20, choices=EmailKind.choices)
    to = models.EmailField()
    subject = models.CharField(max_length=250)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.subject


class ReassessmentRequest(models.Model):
    """A customer's request to lift or limit the restrictions on an account."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="requests"
    )
    company_name = models.CharField(max_length=200)
    company_website = models.URLField()
    use_case = models.TextField()
    services_wanted = models.JSONField()
    sample_message = models.TextField(blank=True)
    destination_countries = models.JSONField()
    estimated_units_per_month = models.PositiveIntegerField()
    estimated_spend_per_month = models.DecimalField(max_digits=12, decimal_places=2)
    submitted_by = models.CharField(max_length=200)
    submitted_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=32, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    warn_on = models.DateField(help_text="5 business days after submission.")
    due_on = models.DateField(help_text="7 business days after submission.")
    paused_at = models.DateTimeField(null=True, blank=True)
    info_request_message = models.TextField(blank=True)
    decision = models.CharField(max_length=16, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=200, blank=True)
    internal_reason = models.TextField(blank=True)
    services_lifted = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("submitted_at", "id")
        indexes = [
            models.Index(fields=("organisation", "status", "due_on"), name="req_queue"),
        ]

    def __str__(self) -> str:
        return f"Reassessment of {self.company_name} ({self.submitted_at:%Y-%m-%d})"

    @property
    def is_open(self) -> bool:
        """Still waiting for a decision."""
        return self.status in OPEN_REQUEST_STATUSES

    def sla_state(self, today: dt.date | None = None) -> str:
        """On time, warn (5 business days), overdue (7), paused or done."""
        if not self.is_open:
            return SlaState.DONE
        if self.status == RequestStatus.INFO_REQUESTED:
            return SlaState.PAUSED
        today = today or timezone.localdate()
        if today >= self.due_on:
            return SlaState.OVERDUE
        if today >= self.warn_on:
            return SlaState.WARN
        return SlaState.ON_TIME


class Evidence(models.Model):
    """An uploaded file or a link backing a reassessment request."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    request = models.ForeignKey(
        ReassessmentRequest, on_delete=models.CASCADE, related_name="evidence"
    )
    kind = models.CharField(max_length=32, choices=EvidenceKind.choices)
    file = models.FileField(storage=evidence_storage, blank=True, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    url = models.URLField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name or self.url}"

    @property
    def is_file(self) -> bool:
        """An upload rather than a link."""
        return bool(self.file)


class PortAwayGrant(models.Model):
    """Temporary access to port a closed account's numbers away, fee waived."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="port_away_grants"
    )
    numbers = models.JSONField()
    expires_at = models.DateTimeField()
    port_out_fee_waived = models.BooleanField(default=True)
    granted_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Port-away for {self.account} until {self.expires_at:%Y-%m-%d}"

    def is_active(self, now: dt.datetime | None = None) -> bool:
        """The grant lets the numbers be ported until it expires."""
        return self.expired_at is None and (now or timezone.now()) < self.expires_at


class RefundRequest(models.Model):
    """A request for a refund of a permanently blocked account's unused funds."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="refunds"
    )
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED
    )
    outcome_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Refund of {self.amount} for {self.account}"


class Feedback(models.Model):
    """Feedback on the block review process: stored and listed, never an appeal."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="feedback"
    )
    subject = models.CharField(max_length=300)
    ticket_id = models.CharField(max_length=100)
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-received_at", "-id")
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return self.subject
