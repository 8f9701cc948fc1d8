"""Enterprises, their numbers, remediation requests, status webhooks, the sandbox."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from remediation.choices import (
    ELEVATED_RISKS,
    IN_FLIGHT_STATUSES,
    TERMINAL_STATUSES,
    Bucket,
    CheckFrequency,
    DeliveryStatus,
    GateStatus,
    ObservationSource,
    Provider,
    RefreshKind,
    RefreshStatus,
    RemediationStatus,
    SpamRisk,
)
from trustconsole.core.models import Organisation
from trustconsole.lib.crypto import EncryptedTextField, hint


def webhook_secret_generate() -> str:
    """A new per-organisation signing secret for status webhooks."""
    return "whsec_" + secrets.token_urlsafe(32)


class RemediationSettings(models.Model):
    """Per-organisation remediation settings: provider, cooldown, webhook secret."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="remediation_settings"
    )
    provider = models.CharField(
        max_length=16, choices=Provider.choices, default=Provider.SANDBOX
    )
    api_base = models.CharField(
        max_length=500,
        blank=True,
        help_text="Override of the provider's API base URL (blank: the default).",
    )
    # The upstream API key and the webhook signing secret must be readable to be
    # used, so they are encrypted (not hashed) with ENCRYPTION_KEYS: a database dump
    # alone leaks nothing.
    api_key = EncryptedTextField(blank=True)
    cooldown_days = models.PositiveIntegerField(
        default=30,
        validators=[MaxValueValidator(365)],
        help_text="A number remediated within this many days is accepted as "
        "ineligible instead of being submitted again.",
    )
    webhook_secret = EncryptedTextField(default=webhook_secret_generate)
    # Number reputation monitoring: newly elevated numbers go to a review list with
    # a suggested remediation batch; the provider's webhooks are verified with this
    # Ed25519 public key (blank: the keys of the organisation's Telnyx connections).
    review_flagged = models.BooleanField(
        default=True,
        help_text="List newly flagged numbers for review with a suggested batch.",
    )
    telnyx_public_key = models.CharField(
        max_length=100,
        blank=True,
        help_text="Base64 Ed25519 public key of the provider's webhooks (Telnyx "
        "Mission Control → Keys & Credentials → Public Key).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "remediation settings"

    def __str__(self) -> str:
        return f"Remediation settings of {self.organisation}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A saved row always has a signing secret."""
        self.webhook_secret_fill()
        super().save(*args, **kwargs)

    def webhook_secret_fill(self) -> None:
        """Make the signing secret of a row that has none (the defaults read before
        the first save have none: a read never makes one up)."""
        if not self.webhook_secret:
            self.webhook_secret = webhook_secret_generate()

    @property
    def api_key_hint(self) -> str:
        """How pages show the API key: '••••' and its last four characters."""
        return hint(self.api_key)

    @property
    def webhook_secret_hint(self) -> str:
        """How pages show the webhook signing secret after it was first shown."""
        return hint(self.webhook_secret)


class Enterprise(models.Model):
    """A legal entity of the organisation with the two Number Reputation gates."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="enterprises"
    )
    name = models.CharField(max_length=200)
    upstream_enterprise_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="The enterprise id at Telnyx (the sandbox uses this id if blank).",
    )
    reputation_status = models.CharField(
        max_length=16, choices=GateStatus.choices, default=GateStatus.PENDING
    )
    loa_status = models.CharField(
        max_length=16, choices=GateStatus.choices, default=GateStatus.PENDING
    )
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    terms_accepted_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Number reputation monitoring with the provider (None: not enabled).
    reputation_enabled_at = models.DateTimeField(null=True, blank=True)
    loa_document_id = models.CharField(max_length=255, blank=True)
    check_frequency = models.CharField(
        max_length=16,
        choices=CheckFrequency.choices,
        default=CheckFrequency.BUSINESS_DAILY,
    )
    rejection_reasons = models.JSONField(null=True, blank=True)
    reputation_synced_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    # The provider asked us to wait (Retry-After) until then.
    refresh_blocked_until = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    sync_claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "name"), name="enterprise_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def missing_gates(self) -> list[str]:
        """What still stands between this enterprise and remediation, in words."""
        missing = []
        if self.reputation_status != GateStatus.APPROVED:
            missing.append(f"reputation status is {self.reputation_status}")
        if self.loa_status != GateStatus.APPROVED:
            missing.append(f"loa_status is {self.loa_status}")
        if self.terms_accepted_at is None:
            missing.append("the Number Reputation Terms of Service are not accepted")
        return missing

    @property
    def can_remediate(self) -> bool:
        """Both gates approved and the terms accepted."""
        return not self.missing_gates

    @property
    def upstream_id(self) -> str:
        """The id the provider knows this enterprise by."""
        return self.upstream_enterprise_id or str(self.public_id)

    @property
    def monitoring_enabled(self) -> bool:
        """Number reputation monitoring is enabled with the provider."""
        return self.reputation_enabled_at is not None

    @property
    def monitoring_approved(self) -> bool:
        """Enabled and both gates approved: numbers may be registered."""
        return (
            self.monitoring_enabled
            and self.reputation_status == GateStatus.APPROVED
            and self.loa_status == GateStatus.APPROVED
        )


class OwnedNumber(models.Model):
    """A phone number (E.164) of an enterprise, monitored for spam risk."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="numbers"
    )
    e164 = models.CharField(max_length=16)
    monitored = models.BooleanField(default=True)
    spam_risk = models.CharField(
        max_length=8, choices=SpamRisk.choices, null=True, blank=True
    )
    spam_risk_checked_at = models.DateTimeField(null=True, blank=True)
    last_remediated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Number reputation monitoring: registered with the provider, latest data.
    registered_at = models.DateTimeField(null=True, blank=True)
    spam_category = models.CharField(max_length=100, blank=True)
    reputation_refreshed_at = models.DateTimeField(null=True, blank=True)
    # When the number last became elevated (medium/high) from low or no data.
    elevated_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.CharField(max_length=100, blank=True)
    verification_status = models.CharField(max_length=64, blank=True)
    # Set on the rows `selectors.review_list` returns (not stored).
    suggested: bool

    class Meta:
        ordering = ("e164",)
        constraints = [
            models.UniqueConstraint(
                fields=("enterprise", "e164"), name="owned_number_unique"
            )
        ]
        indexes = [
            models.Index(fields=("enterprise", "spam_risk"), name="owned_number_risk")
        ]

    def __str__(self) -> str:
        return self.e164

    @property
    def is_flagged(self) -> bool:
        """Monitored with an elevated spam risk."""
        return self.monitored and self.spam_risk in ELEVATED_RISKS

    @property
    def is_registered(self) -> bool:
        """Registered for monitoring with the provider."""
        return self.registered_at is not None


class RemediationRequest(models.Model):
    """A batch of numbers sent for re-evaluation, mirrored from the provider."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="remediation_requests"
    )
    status = models.CharField(
        max_length=16,
        choices=RemediationStatus.choices,
        default=RemediationStatus.PENDING,
    )
    call_purpose = models.TextField()
    contact_email = models.CharField(max_length=255, blank=True)
    webhook_url = models.CharField(max_length=2048, blank=True)
    phone_numbers_count = models.PositiveIntegerField()
    phone_numbers_submitted = models.PositiveIntegerField()
    phone_numbers_ineligible = models.PositiveIntegerField()
    results_available = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    tier1_completed_at = models.DateTimeField(null=True, blank=True)
    tier2_completed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200)
    failure_reason = models.TextField(blank=True)
    # Upstream bookkeeping (never part of the seed's shapes).
    provider = models.CharField(max_length=16, choices=Provider.choices)
    upstream_id = models.CharField(max_length=100, blank=True)
    forward_started_at = models.DateTimeField(null=True, blank=True)
    forwarded_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    poll_delay_seconds = models.PositiveIntegerField(default=0)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The lease: a worker owns the request until claimed_until; a killed worker's
    # lease simply runs out and the next tick hands the request to another one.
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Closing the loop: once completed, the numbers are refreshed (billable) at
    # the next allowed time to see whether their risk actually fell.
    follow_up_due_at = models.DateTimeField(null=True, blank=True)
    follow_up_done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("enterprise", "-created_at"), name="remediation_req_list"
            ),
            models.Index(
                fields=("next_check_at",),
                condition=Q(status__in=IN_FLIGHT_STATUSES),
                name="remediation_req_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("provider", "upstream_id"),
                condition=~Q(upstream_id=""),
                name="remediation_req_one_per_upstream",
            )
        ]

    def __str__(self) -> str:
        return f"Remediation of {self.phone_numbers_count} number(s) ({self.status})"

    @property
    def is_in_flight(self) -> bool:
        """Pending or in progress."""
        return self.status in IN_FLIGHT_STATUSES

    @property
    def is_terminal(self) -> bool:
        """Completed, failed or cancelled: nothing changes any more."""
        return self.status in TERMINAL_STATUSES


class RemediationNumber(models.Model):
    """One number of a request, with the bucket it landed in."""

    # Indexed through the two unique constraints below, which lead with these
    # columns; fewer indexes keep a 2,000-row batch insert fast.
    request = models.ForeignKey(
        RemediationRequest,
        on_delete=models.CASCADE,
        related_name="numbers",
        db_index=False,
    )
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, db_index=False)
    e164 = models.CharField(max_length=16)
    position = models.PositiveIntegerField()
    eligible = models.BooleanField()
    # True while the request is pending or in progress: the partial unique
    # constraint below makes "one in-flight request per number" a database fact.
    in_flight = models.BooleanField()
    outcome = models.CharField(max_length=16, choices=Bucket.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # Spam risk when submitted, and as the follow-up refresh found it.
    risk_before = models.CharField(
        max_length=8, choices=SpamRisk.choices, null=True, blank=True
    )
    risk_after = models.CharField(
        max_length=8, choices=SpamRisk.choices, null=True, blank=True
    )
    risk_after_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("request", "position")
        constraints = [
            models.UniqueConstraint(
                fields=("request", "e164"), name="remediation_number_once"
            ),
            models.UniqueConstraint(
                fields=("enterprise", "e164"),
                condition=Q(in_flight=True),
                name="remediation_number_one_in_flight",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.e164} → {self.outcome or 'no result yet'}"

    @property
    def effect(self) -> str:
        """What the follow-up refresh found, in words ('' before it ran)."""
        if self.risk_after_at is None:
            return ""
        low = self.risk_after == SpamRisk.LOW
        if self.outcome == Bucket.REMEDIATED:
            return "remediated and now low" if low else "remediated but still flagged"
        if self.risk_after is None:
            return "no reputation data"
        return "now low" if low else "still flagged"


class WebhookDelivery(models.Model):
    """One status notification to a request's webhook_url, with its retries."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    request = models.ForeignKey(
        RemediationRequest, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=80)
    status_from = models.CharField(max_length=16)
    status_to = models.CharField(max_length=16)
    url = models.CharField(max_length=2048)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(
                fields=("next_attempt_at",),
                condition=Q(status=DeliveryStatus.PENDING),
                name="remediation_delivery_due",
            )
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} {self.status_from}→{self.status_to} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: every attempt is kept."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ("delivery", "number")

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error[:40]}"


class ReputationObservation(models.Model):
    """One observation of a number's reputation data (the history behind charts).

    Every field of the provider's `reputation_data` is nullable and read by key;
    `data` keeps the whole object, so fields added later are not lost.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE)
    number = models.ForeignKey(
        OwnedNumber, on_delete=models.CASCADE, related_name="observations"
    )
    observed_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=ObservationSource.choices)
    spam_risk = models.CharField(
        max_length=8, choices=SpamRisk.choices, null=True, blank=True
    )
    spam_category = models.CharField(max_length=100, null=True, blank=True)
    maturity_score = models.PositiveSmallIntegerField(null=True, blank=True)
    connection_score = models.PositiveSmallIntegerField(null=True, blank=True)
    engagement_score = models.PositiveSmallIntegerField(null=True, blank=True)
    sentiment_score = models.PositiveSmallIntegerField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("number", "observed_at", "id")
        indexes = [
            models.Index(fields=("number", "observed_at"), name="reputation_obs_number")
        ]

    def __str__(self) -> str:
        return f"{self.number_id} {self.spam_risk or 'no data'} at {self.observed_at}"


class ReputationRefresh(models.Model):
    """A billable refresh of chosen numbers (a job the console shows)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="refreshes"
    )
    request = models.ForeignKey(
        RemediationRequest,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="follow_ups",
    )
    kind = models.CharField(max_length=16, choices=RefreshKind.choices)
    status = models.CharField(
        max_length=16, choices=RefreshStatus.choices, default=RefreshStatus.QUEUED
    )
    phone_numbers = models.JSONField()
    total_successful = models.PositiveIntegerField(default=0)
    total_failed = models.PositiveIntegerField(default=0)
    results = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    run_after = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("enterprise", "-created_at"), name="reputation_ref_list"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {len(self.phone_numbers)} ({self.status})"


class ReputationEvent(models.Model):
    """A Number Reputation webhook as received: kept once per event id (dedup)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=100)
    phone_number = models.CharField(max_length=32, blank=True)
    payload = models.JSONField()
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ("-received_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "event_id"), name="reputation_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.phone_number}"


# --- The built-in sandbox provider's own state ------------------------------------


class SandboxRemediation(models.Model):
    """A request as the sandbox provider holds it; its status follows the clock."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account_key = models.CharField(max_length=64, db_index=True)
    enterprise_id = models.CharField(max_length=100)
    phone_numbers = models.JSONField()
    call_purpose = models.TextField()
    contact_email = models.CharField(max_length=255, blank=True)
    webhook_url = models.CharField(max_length=2048, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"sandbox remediation {self.id}"


class SandboxFault(models.Model):
    """A failure the sandbox will serve next: an error, a 429 or a slow answer."""

    ERROR = "error"
    RATE_LIMIT = "rate_limit"
    DELAY = "delay"
    KINDS = [(ERROR, "HTTP error"), (RATE_LIMIT, "429 rate limit"), (DELAY, "Delay")]

    account_key = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=16, choices=KINDS)
    method = models.CharField(max_length=8, blank=True, help_text="Blank: any.")
    status_code = models.PositiveIntegerField(default=503)
    retry_after = models.PositiveIntegerField(default=1)
    delay_seconds = models.FloatField(default=0)
    remaining = models.PositiveIntegerField(default=1)
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.kind} × {self.remaining}"


class SandboxReputation(models.Model):
    """An enterprise's Number Reputation record as the sandbox provider holds it."""

    account_key = models.CharField(max_length=64)
    enterprise_id = models.CharField(max_length=100)
    loa_document_id = models.CharField(max_length=255)
    check_frequency = models.CharField(max_length=16)
    webhook_url = models.CharField(max_length=2048, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    loa_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("account_key", "enterprise_id"), name="sandbox_reputation_once"
            )
        ]

    def __str__(self) -> str:
        return f"sandbox reputation {self.enterprise_id}"


class SandboxNumber(models.Model):
    """A number the sandbox monitors; a flag (control endpoint) raises its risk."""

    account_key = models.CharField(max_length=64)
    enterprise_id = models.CharField(max_length=100)
    e164 = models.CharField(max_length=16)
    registered_at = models.DateTimeField(default=timezone.now)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_risk = models.CharField(max_length=8, blank=True)
    flag_category = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ("e164",)
        constraints = [
            models.UniqueConstraint(
                fields=("account_key", "enterprise_id", "e164"),
                name="sandbox_number_once",
            )
        ]

    def __str__(self) -> str:
        return f"sandbox {self.e164}"
