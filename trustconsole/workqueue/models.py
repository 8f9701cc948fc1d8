"""Who holds a shared queue item, where it was escalated, and internal notes.

Both rows point at their object through a generic relation (content type + primary
key), so any queue (visitor review items, reassessment requests) and any record
(visitors, customer accounts) uses the same two tables.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from trustconsole.core.choices import Role
from trustconsole.core.models import Organisation


class Assignment(models.Model):
    """A queue item's holder (claimed by) and its escalation, one row per item."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    queue = models.CharField(max_length=16)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    item = GenericForeignKey("content_type", "object_id")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    escalated_to_role = models.CharField(
        max_length=16, choices=Role.choices, blank=True
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.CharField(max_length=200, blank=True)
    escalation_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("content_type", "object_id"), name="assignment_unique_item"
            )
        ]
        indexes = [
            models.Index(
                fields=("organisation", "queue", "assignee"),
                name="assignment_org_queue_idx",
            )
        ]

    def __str__(self) -> str:
        holder = self.assignee.get_username() if self.assignee else "nobody"
        return f"{self.queue} item {self.object_id} held by {holder}"

    @property
    def is_escalated(self) -> bool:
        """Escalated to a colleague or a role and not claimed back since."""
        return self.escalated_at is not None


class Note(models.Model):
    """An internal note on a queue item or a record; never shown to customers."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text so the note reads the same after its author is gone.
    author_label = models.CharField(max_length=200)
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when its author rewrote it (the audit trail keeps both texts).
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("content_type", "object_id", "-created_at"),
                name="note_target_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Note by {self.author_label}"
