"""Organisations (tenants), memberships, API tokens, the append-only audit trail."""

from __future__ import annotations

import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from trustconsole.core.choices import Role


def time_zone_validate(value: str) -> None:
    """An IANA time zone name such as Europe/Berlin or America/New_York."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"{value!r} is not a known time zone (e.g. America/New_York)."
        ) from None


class Organisation(models.Model):
    """A tenant: every record of the console belongs to exactly one."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    # IANA name; business days and daily schedules are counted in it.
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[time_zone_validate]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The organisation's time zone (UTC if the stored name is unknown)."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


class Membership(models.Model):
    """A login user's role in one organisation."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("user__email",)
        constraints = [
            models.UniqueConstraint(
                fields=("user", "organisation"), name="membership_unique_user_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"


class ApiToken(models.Model):
    """A Bearer token of an organisation with a role; only its SHA-256 is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=16, choices=Role.choices)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        """A token works until it is revoked."""
        return self.revoked_at is None


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    """Refuses bulk changes: the audit trail is append-only."""

    def update(self, **kwargs: object) -> int:
        raise AuditImmutableError("audit entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError("audit entries cannot be deleted")

    def bulk_update(self, *args: object, **kwargs: object) -> int:
        raise AuditImmutableError("audit entries cannot be changed")


class AuditImmutableError(Exception):
    """Raised on any attempt to change or delete an audit entry."""


class AuditEntry(models.Model):
    """Who did what to which object, when, from what to what, and why."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="audit_entries"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_token = models.ForeignKey(
        ApiToken,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Kept as text so the entry reads the same after a user or token is gone.
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("organisation", "target_type", "target_id"),
                name="audit_target_idx",
            ),
            models.Index(fields=("organisation", "-created_at"), name="audit_org_idx"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_label}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise AuditImmutableError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError("audit entries cannot be deleted")


class WorkerHeartbeat(models.Model):
    """When a periodic task last ran: shows that the worker and beat are alive."""

    name = models.CharField(max_length=80, unique=True)
    last_run_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_run_at}"
