"""Visitors, their identifiers and risk signals, the review queue, IP blocks,
chat widgets, conversations and events."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator

from trustconsole.core.models import Organisation
from visitors.choices import (
    Band,
    BlockReason,
    Channel,
    ConversationStatus,
    IdentifierKind,
    ReviewStatus,
    Sender,
    SignalEnd,
    VisitorStatus,
    WeightLevel,
    signal_type_label,
)

# PostgreSQL needs the pattern operator class for `LIKE 'prefix%'` to use a b-tree
# index under a non-C collation; other databases ignore opclasses.
_PATTERN = "varchar_pattern_ops"


class Visitor(models.Model):
    """Someone who talks to the organisation by chat or phone."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Indexed by the visitor_org_* indexes below (organisation first), not on
    # its own: an index fewer to write on every message's visitor touch.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="visitors", db_index=False
    )
    name = models.CharField(max_length=200, blank=True)
    # Lower-cased name, kept by save(): the index behind name-prefix search.
    name_search = models.CharField(max_length=200, blank=True, editable=False)
    status = models.CharField(
        max_length=16, choices=VisitorStatus.choices, default=VisitorStatus.NONE
    )
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Who set the status (shown in decision explanations).
    status_changed_by = models.CharField(max_length=200, blank=True, db_default="")
    # A shadow blacklist (voice gate only): its calls are let through and logged as
    # "would have been rejected"; nothing else about the visitor changes.
    shadow_blacklisted_at = models.DateTimeField(null=True, blank=True)
    shadow_blacklisted_by = models.CharField(max_length=200, blank=True, db_default="")
    shadow_blacklist_reason = models.TextField(blank=True, db_default="")
    trust_score = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)]
    )
    band = models.CharField(max_length=8, choices=Band.choices, default=Band.SAFE)
    blocked_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Set by services.visitor_upsert on the visitor it returns (not stored).
    upsert_created: bool

    class Meta:
        ordering = ("-last_seen_at", "-id")
        indexes = [
            models.Index(
                fields=("organisation", "name_search"),
                name="visitor_org_name_idx",
                opclasses=("int8_ops", _PATTERN),
            ),
            models.Index(
                fields=("organisation", "status", "-last_seen_at"),
                name="visitor_org_status_idx",
            ),
            models.Index(
                fields=("organisation", "trust_score", "-last_seen_at"),
                name="visitor_org_score_idx",
            ),
            models.Index(
                fields=("organisation", "-last_seen_at", "-id"),
                name="visitor_org_seen_idx",
            ),
            # The call gate's phone map reads only blacklisted/whitelisted visitors.
            models.Index(
                fields=("organisation", "id"),
                include=("status",),
                condition=Q(status__in=("blacklisted", "whitelisted")),
                name="visitor_org_mapped_idx",
            ),
            # The few visitors on a shadow blacklist, read when the state is built.
            models.Index(
                fields=("organisation", "id"),
                condition=Q(shadow_blacklisted_at__isnull=False),
                name="visitor_org_shadow_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_search = self.name.strip().lower()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_search"}
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        """The name, or a short anonymous label."""
        return self.name or f"Visitor {str(self.public_id)[:8]}"


class VisitorIdentifier(models.Model):
    """One normalised email, E.164 number, IP or widget id; one visitor per value."""

    # Indexed by visitor_identifier_unique below (organisation first), not on its own.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Indexed by visitor_identifier_vk_idx below (visitor first), not on its own.
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="identifiers", db_index=False
    )
    kind = models.CharField(max_length=8, choices=IdentifierKind.choices)
    value = models.CharField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("kind", "value")
        constraints = [
            # Serves exact lookups and prefix search (pattern ops on PostgreSQL).
            models.UniqueConstraint(
                fields=("organisation", "kind", "value"),
                name="visitor_identifier_unique",
                opclasses=("int8_ops", _PATTERN, _PATTERN),
            )
        ]
        indexes = [
            # Covers the phone map's probe per mapped visitor (index-only on
            # PostgreSQL; other databases ignore `include`).
            models.Index(
                fields=("visitor", "kind"),
                include=("value",),
                name="visitor_identifier_vk_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class SignalWeightOverride(models.Model):
    """An organisation's own weight for one level (Low/Medium/High/Extreme), over
    the default scale. Absent rows mean the default weight."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="signal_weights"
    )
    level = models.CharField(max_length=8, choices=WeightLevel.choices)
    weight = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "level"), name="signal_weight_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} = +{self.weight} in {self.organisation}"


class Conversation(models.Model):
    """A chat conversation started through a widget; shown in the Inbox."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Both indexed by the indexes below (conversation_org_recent_idx,
    # conversation_visitor_idx), not on their own.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="conversations",
        db_index=False,
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    widget = models.ForeignKey(
        "Widget",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    status = models.CharField(
        max_length=8,
        choices=ConversationStatus.choices,
        default=ConversationStatus.OPEN,
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now)
    message_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-last_message_at", "-id")
        indexes = [
            models.Index(
                fields=("organisation", "-last_message_at"),
                name="conversation_org_recent_idx",
            ),
            models.Index(
                fields=("visitor", "-last_message_at"),
                name="conversation_visitor_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation with {self.visitor}"


class Message(models.Model):
    """One chat message of a conversation."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    # Indexed by message_conv_time_idx below (conversation first), not on its own.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    sender = models.CharField(max_length=8, choices=Sender.choices)
    author = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(
                fields=("conversation", "created_at"), name="message_conv_time_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sender}: {self.body[:40]}"


class Event(models.Model):
    """Something that happened to a visitor (a flagged keyword, a report, …).

    Rules registered for the event's kind turn it into a risk signal.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="events"
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    kind = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=32)
    recorded_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("visitor", "-created_at"), name="event_visitor_idx"),
            models.Index(
                fields=("visitor", "kind", "-created_at"), name="event_visitor_kind_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind_label} on {self.visitor}"

    @property
    def kind_label(self) -> str:
        """The human name of the event's kind."""
        from visitors.rules import rule_get

        rule = rule_get(self.kind)
        return rule.label if rule else self.kind.replace("_", " ").capitalize()

    @property
    def description(self) -> str:
        """The event's details in words, quoting the message it refers to (set
        `message` with selectors.events_attach_messages; no query here)."""
        detail = dict(self.detail or {})
        parts: list[str] = []
        if "keyword" in detail:
            parts.append(f"keyword “{detail.pop('keyword')}”")
        if "message_id" in detail:
            detail.pop("message_id")
            message = getattr(self, "message", None)
            quote = (
                f"in the message “{Truncator(message.body).chars(120)}”"
                if message is not None
                else "in a message that is no longer kept"
            )
            if parts:  # keyword “…” in the message “…”
                parts[-1] += " " + quote
            else:
                parts.append(quote)
        window = detail.pop("window_seconds", None)
        if "messages" in detail:
            parts.append(f"{detail.pop('messages')} messages")
        if "calls" in detail:
            calls = detail.pop("calls")
            number = detail.pop("number", "")
            parts.append(f"{calls} calls" + (f" from {number}" if number else ""))
        if window is not None:
            if parts:
                parts[-1] += f" within {window} seconds"
            else:
                parts.append(f"within {window} seconds")
        if "reason" in detail:
            parts.append(f"reason: {detail.pop('reason')}")
        if "widget" in detail:
            parts.append(f"on the widget {detail.pop('widget')}")
        parts += [f"{k.replace('_', ' ')}: {v}" for k, v in detail.items()]
        return ", ".join(parts)


class RiskSignal(models.Model):
    """A reason to trust a visitor less; active signals lower the trust score."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="signals"
    )
    signal_type = models.CharField(max_length=64)
    level = models.CharField(max_length=8, choices=WeightLevel.choices)
    # The weight at the time it was added (the organisation's, else the default).
    weight = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    source = models.CharField(max_length=32)
    note = models.TextField(blank=True)
    added_by = models.CharField(max_length=200)
    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signals",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=8, choices=SignalEnd.choices, blank=True)
    ended_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("visitor", "-created_at"), name="signal_visitor_idx"),
            # The expiry task's scan: only signals that still count and can expire.
            models.Index(
                fields=("expires_at",),
                name="signal_expiry_idx",
                condition=Q(ended_at__isnull=True, expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type_label} (+{self.weight}) on {self.visitor}"

    @property
    def type_label(self) -> str:
        """The human name of the signal type."""
        return signal_type_label(self.signal_type)

    def is_active(self, now: dt.datetime | None = None) -> bool:
        """Counts towards the score: not ended and not past its expiry."""
        now = now or timezone.now()
        return self.ended_at is None and (
            self.expires_at is None or self.expires_at > now
        )


def active_signals_q(now: object = None) -> Q:
    """Filter for signals that count towards the score right now."""
    now = now or timezone.now()
    return Q(ended_at__isnull=True) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


class ReviewItem(models.Model):
    """A flagged visitor waiting in the review queue, with what caused the flag."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="review_items"
    )
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField()
    score_at_flag = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.OPEN
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(
                fields=("organisation", "status", "created_at"),
                name="review_org_status_idx",
            ),
            models.Index(fields=("visitor", "status"), name="review_visitor_idx"),
        ]

    def __str__(self) -> str:
        return f"Review of {self.visitor} ({self.status})"

    @property
    def is_open(self) -> bool:
        """Waiting for Blacklist, Whitelist or Dismiss."""
        return self.status == ReviewStatus.OPEN


class IPBlock(models.Model):
    """A blocked IPv4/IPv6 address or CIDR range, optionally until a time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="ip_blocks"
    )
    # Canonical network text: 203.0.113.7/32, 198.51.100.0/24, 2001:db8::/32.
    network = models.CharField(max_length=64)
    version = models.PositiveSmallIntegerField(choices=((4, "IPv4"), (6, "IPv6")))
    reason = models.TextField()
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "network"), name="ip_block_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=("expires_at",),
                name="ip_block_expiry_idx",
                condition=Q(expires_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.network

    @property
    def display(self) -> str:
        """A single address without its /32 or /128."""
        addr, _, prefix = self.network.partition("/")
        if (self.version == 4 and prefix == "32") or (
            self.version == 6 and prefix == "128"
        ):
            return addr
        return self.network

    def is_active(self, now: dt.datetime | None = None) -> bool:
        """Applies until its expiry (if any) passes."""
        return self.expires_at is None or self.expires_at > (now or timezone.now())


def _widget_key() -> str:
    return "wk_" + secrets.token_urlsafe(24)


class Widget(models.Model):
    """A chat widget of the organisation; its key identifies it to the gate."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="widgets"
    )
    name = models.CharField(max_length=100)
    # Embedded in the organisation's web pages, so it is public: not a secret.
    key = models.CharField(max_length=64, unique=True, default=_widget_key)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class BlockedAttempt(models.Model):
    """A message or call refused because of a blacklist or an IP block."""

    # Both indexed by the indexes below (organisation or visitor first), not
    # on their own.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    visitor = models.ForeignKey(
        Visitor,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="blocked_attempt_rows",
        db_index=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    reason = models.CharField(max_length=32, choices=BlockReason.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    ip_block = models.ForeignKey(
        IPBlock, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    # What decided (trustconsole.policy.decide.explanation).
    explanation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("visitor", "-created_at"), name="blocked_attempt_visitor_idx"
            ),
            models.Index(
                fields=("organisation", "-created_at"), name="blocked_attempt_org_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} attempt blocked ({self.reason})"
