"""The Inbox: filters that say what is wrong with a bad value, the sidebar's other
conversations and calls, the conversation's events, and Resolve / Reopen.

A new message from the visitor reopens a resolved conversation (the widget gate
sets it open), so nothing waiting is hidden under "Resolved".
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from visitors import selectors
from visitors.choices import ConversationStatus, ReviewStatus, VisitorStatus
from visitors.models import Conversation, Event, ReviewItem

YES = [("", "Any"), ("1", "Yes")]
SIDEBAR_SIZE = 10


class InboxFilterForm(forms.Form):
    """The Inbox's filters; a value it does not know is an error, never ignored."""

    status = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "All"), *ConversationStatus.choices],
    )
    blocked = forms.ChoiceField(
        label="With blocked attempts", required=False, choices=YES
    )
    flagged = forms.ChoiceField(label="Flagged visitors", required=False, choices=YES)

    def filters(self) -> dict[str, Any]:
        """The selector's keyword arguments (call after is_valid())."""
        data = self.cleaned_data
        return {
            "status": data.get("status") or "",
            "blocked": data.get("blocked") == "1",
            "flagged": data.get("flagged") == "1",
        }


def conversation_inbox(
    *, actor: Actor, status: str = "", blocked: bool = False, flagged: bool = False
) -> QuerySet[Conversation]:
    """Conversations with the Inbox's filters, latest activity first."""
    rows = selectors.conversation_list(actor=actor, status=status)
    if blocked:
        rows = rows.filter(visitor__blocked_attempts__gt=0)
    if flagged:
        waiting = ReviewItem.objects.filter(
            visitor=OuterRef("visitor"), status=ReviewStatus.OPEN
        )
        rows = rows.filter(Q(visitor__status=VisitorStatus.FLAGGED) | Exists(waiting))
    return rows


def conversation_events(*, conversation: Conversation) -> list[Event]:
    """Events recorded in this conversation, oldest first, with their messages."""
    events = list(
        Event.objects.filter(conversation=conversation).order_by("created_at", "id")[
            :100
        ]
    )
    selectors.events_attach_messages(events)
    return events


def sidebar_context(*, conversation: Conversation) -> dict[str, Any]:
    """The visitor's other conversations and latest calls, for the sidebar."""
    from voicegate.models import CallDecision

    visitor = conversation.visitor
    others = (
        selectors.visitor_conversations(visitor=visitor)
        .exclude(pk=conversation.pk)
        .select_related("widget")
    )
    calls = CallDecision.objects.filter(
        organisation_id=visitor.organisation_id, visitor_id=visitor.pk
    ).order_by("-created_at", "-id")
    return {
        "other_conversations": list(others[:SIDEBAR_SIZE]),
        "calls": list(calls[:5]),
        "calls_total": calls.count(),
    }


@transaction.atomic
def conversation_status_set(
    *, actor: Actor, conversation: Conversation, status: str, reason: str = ""
) -> Conversation:
    """Resolve or reopen a conversation (operators), audited."""
    actor.require("operator")
    if status not in ConversationStatus.values:
        raise ValidationError({"status": "Choose Open or Resolved."})
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if conversation.status == status:
        return conversation
    before = {"status": conversation.status}
    conversation.status = status
    conversation.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="conversation.resolve"
        if status == ConversationStatus.CLOSED
        else "conversation.reopen",
        target=conversation,
        before=before,
        after={"status": status, "visitor": conversation.visitor.display_name},
        reason=reason,
    )
    return conversation
