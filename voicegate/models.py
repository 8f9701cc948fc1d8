"""Voice connections, the organisation block list and the call decision log.

The outbound policy check's models are in `voicegate/policy/models.py`; they are
imported here so that they register with this app (their app label is voicegate).
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.db.models import Q

from trustconsole.core.models import Organisation
from trustconsole.lib.crypto import UNREADABLE, EncryptedTextField, hint, is_unreadable
from voicegate.choices import (
    CallerPolicy,
    CommandStatus,
    Decision,
    FailMode,
    OutboxKind,
    Provider,
    Reason,
)
from voicegate.policy import models as policy_models  # noqa: F401 - registers them


def _webhook_token() -> str:
    return secrets.token_urlsafe(24)


class VoiceConnection(models.Model):
    """One provider account (or PBX) whose call webhooks the gate answers."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="voice_connections"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    provider = models.CharField(max_length=32, choices=Provider.choices)
    # Both encrypted at rest (ENCRYPTION_KEYS); pages and the API show hints only.
    secret = EncryptedTextField(
        help_text=(
            "Telnyx: the account's Ed25519 public key (base64). Twilio and Plivo: the "
            "auth token. Generic: a shared token sent as a Bearer token."
        )
    )
    api_key = EncryptedTextField(
        blank=True,
        help_text="Telnyx Call Control only: API key used to send the reject command.",
    )
    downstream_url = models.URLField(
        max_length=2048,
        blank=True,
        help_text="Your own voice application; allowed calls are handed on to it.",
    )
    fail_mode = models.CharField(
        max_length=8, choices=FailMode.choices, default=FailMode.OPEN
    )
    webhook_token = models.CharField(
        max_length=64, unique=True, default=_webhook_token, editable=False
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="voice_connection_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    @property
    def secret_hint(self) -> str:
        """The verification secret as pages show it: '••••' and its end."""
        return hint(self.secret)

    @property
    def api_key_hint(self) -> str:
        """The Telnyx API key as pages show it ('' when there is none)."""
        return hint(self.api_key)

    @property
    def credential_error(self) -> str:
        """Why a stored credential cannot be used ('' when all can be read)."""
        if is_unreadable(self.secret) or is_unreadable(self.api_key):
            return UNREADABLE
        return ""


class VoiceSettings(models.Model):
    """Per-organisation rules of the call gate."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="voice_settings"
    )
    anonymous_policy = models.CharField(
        max_length=8, choices=CallerPolicy.choices, default=CallerPolicy.ALLOW
    )
    unparseable_policy = models.CharField(
        max_length=8, choices=CallerPolicy.choices, default=CallerPolicy.ALLOW
    )
    repeated_call_threshold = models.PositiveIntegerField(
        default=5,
        help_text="Calls from one number in the window above which a signal is added.",
    )
    repeated_call_window_seconds = models.PositiveIntegerField(default=600)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "voice settings"

    def __str__(self) -> str:
        return f"Voice settings of {self.organisation}"


class BlockedNumber(models.Model):
    """A caller number rejected by the gate whoever it belongs to."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="blocked_numbers"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=20)
    reason = models.CharField(max_length=500, blank=True)
    added_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Shadow: the gate only logs "would have rejected" (a safe way to try a block).
    shadow = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number"], name="blocked_number_unique"
            )
        ]

    def __str__(self) -> str:
        return self.number


class CallDecision(models.Model):
    """What the gate answered for one call, and how fast."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="call_decisions"
    )
    connection = models.ForeignKey(
        VoiceConnection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="decisions",
    )
    provider = models.CharField(max_length=32, choices=Provider.choices)
    event_id = models.CharField(max_length=200, blank=True)
    call_id = models.CharField(max_length=200, blank=True)
    caller = models.CharField(max_length=200, blank=True)
    caller_e164 = models.CharField(max_length=20, blank=True)
    callee = models.CharField(max_length=200, blank=True)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    visitor_id = models.BigIntegerField(null=True, blank=True)
    latency_us = models.PositiveIntegerField(default=0)
    command_status = models.CharField(
        max_length=16,
        choices=CommandStatus.choices,
        default=CommandStatus.NONE,
        blank=True,
    )
    command_detail = models.CharField(max_length=500, blank=True)
    # What decided (trustconsole.policy.decide.explanation).
    explanation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "provider", "event_id"],
                condition=~Q(event_id=""),
                name="call_decision_event_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["organisation", "-created_at"], name="call_decision_org_time"
            ),
            models.Index(
                fields=["organisation", "caller_e164", "-created_at"],
                name="call_decision_org_caller",
            ),
            models.Index(
                fields=["organisation", "visitor_id", "-created_at"],
                name="call_decision_org_visitor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caller} → {self.callee}: {self.decision}"


class OutboxItem(models.Model):
    """Work that must leave a webhook request: a reject command or a forward.

    Written in the request (one row per event and kind: a redelivered event finds
    its row and adds nothing), delivered at once by a worker task and, whatever
    happens to the broker or a worker, by the beat drain until it succeeds or runs
    out of attempts. A row is never deleted by the gate; a finished one (delivered
    or given up) is deleted after VOICEGATE_OUTBOX_DAYS (voicegate/retention.py).
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="voice_outbox"
    )
    connection = models.ForeignKey(
        VoiceConnection, on_delete=models.CASCADE, related_name="outbox"
    )
    kind = models.CharField(max_length=8, choices=OutboxKind.choices)
    event_id = models.CharField(max_length=200)
    # reject: {"call_control_id", "provider"}; forward: {"body", "headers"}.
    payload = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "event_id"], name="voice_outbox_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(delivered_at__isnull=True, gave_up_at__isnull=True),
                name="voice_outbox_due",
            ),
            # Retention picks finished items by age (voicegate/retention.py).
            models.Index(
                fields=["organisation", "created_at"],
                condition=Q(delivered_at__isnull=False) | Q(gave_up_at__isnull=False),
                name="voice_outbox_done_org_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.event_id}"
