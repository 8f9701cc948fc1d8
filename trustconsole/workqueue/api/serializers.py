"""Input and output shapes of the work-queue API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from trustconsole.workqueue.forms import ROLE_CHOICES


class AssignmentOutput(serializers.Serializer[Any]):
    """Who holds a queue item and where it was escalated."""

    queue = serializers.CharField()
    item = serializers.UUIDField()
    assignee = serializers.EmailField(allow_null=True)
    claimed_at = serializers.DateTimeField(allow_null=True)
    escalated_to_role = serializers.CharField(allow_blank=True)
    escalated_at = serializers.DateTimeField(allow_null=True)
    escalated_by = serializers.CharField(allow_blank=True)
    escalation_reason = serializers.CharField(allow_blank=True)


def assignment_data(*, queue: str, item: Any, assignment: Any) -> dict[str, Any]:
    """An item's assignment as the API shows it (unclaimed when there is none)."""
    user = assignment.assignee if assignment else None
    return {
        "queue": queue,
        "item": item.public_id,
        "assignee": user.email if user else None,
        "claimed_at": assignment.claimed_at if assignment else None,
        "escalated_to_role": assignment.escalated_to_role if assignment else "",
        "escalated_at": assignment.escalated_at if assignment else None,
        "escalated_by": assignment.escalated_by if assignment else "",
        "escalation_reason": assignment.escalation_reason if assignment else "",
    }


class AssignInput(serializers.Serializer[Any]):
    """Hand the item to a member (admins)."""

    assignee = serializers.EmailField()
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )


class EscalateInput(serializers.Serializer[Any]):
    """Escalate to one colleague (email) or one role, saying why."""

    to_user = serializers.EmailField(required=False, allow_null=True, default=None)
    to_role = serializers.ChoiceField(
        choices=[c for c, _ in ROLE_CHOICES if c], required=False, default=""
    )
    reason = serializers.CharField(max_length=2000)


class ReleaseInput(serializers.Serializer[Any]):
    """An optional reason, kept in the audit trail."""

    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )


class NextOutput(AssignmentOutput):
    """The item Next item claimed for the caller."""


class NoteInput(serializers.Serializer[Any]):
    """The text of an internal note."""

    body = serializers.CharField(max_length=5000)


class NoteOutput(serializers.Serializer[Any]):
    """An internal note."""

    id = serializers.UUIDField(source="public_id")
    author = serializers.CharField(source="author_label")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
