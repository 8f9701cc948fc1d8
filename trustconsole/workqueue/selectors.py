"""Reads of the shared queues: who holds what, unclaimed items, notes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.workqueue.models import Assignment, Note
from trustconsole.workqueue.queues import Queue


def assignments_attach(items: Iterable[Any]) -> None:
    """Set `item.assignment` (or None) on each item of one page, in one query."""
    items = list(items)
    if not items:
        return
    content_type = ContentType.objects.get_for_model(items[0])
    rows = {
        a.object_id: a
        for a in Assignment.objects.filter(
            content_type=content_type, object_id__in=[i.pk for i in items]
        ).select_related("assignee")
    }
    for item in items:
        item.assignment = rows.get(item.pk)


def assignment_of(item: Any) -> Assignment | None:
    """The holder and escalation of one item."""
    assignments_attach([item])
    assignment: Assignment | None = item.assignment
    return assignment


def unclaimed_items(*, actor: Actor, queue: Queue) -> QuerySet[Any]:
    """Open items nobody holds that the actor may take, oldest first: items
    escalated to a role wait for members of that role."""
    items = queue.open_items(actor)
    held = Assignment.objects.filter(
        content_type=ContentType.objects.get_for_model(items.model),
        object_id=OuterRef("pk"),
    )
    blocked = Q(assignee__isnull=False)
    if not actor.can():
        blocked |= ~Q(escalated_to_role="") & ~Q(escalated_to_role=actor.role)
    return items.exclude(Exists(held.filter(blocked)))


def colleagues(*, actor: Actor, queue: Queue) -> list[Any]:
    """Members who may work the queue (escalation and assignment choices)."""
    return list(
        get_user_model()
        .objects.filter(
            memberships__organisation=actor.organisation,
            memberships__role__in=(Role.ADMIN, queue.role),
        )
        .order_by("email")
    )


def notes_attach(items: Iterable[Any]) -> None:
    """Set `item.notes` (newest first) on each item of one page, in one query."""
    items = list(items)
    for item in items:
        item.notes = []
    if not items:
        return
    by_pk = {i.pk: i for i in items}
    for note in Note.objects.filter(
        content_type=ContentType.objects.get_for_model(items[0]),
        object_id__in=list(by_pk),
    ):
        by_pk[note.object_id].notes.append(note)


def notes_of_related(
    *, main: models.Model, related: QuerySet[Any] | None = None
) -> list[Note]:
    """Notes on a record and on its queue items (e.g. a visitor's review items)."""
    where = Q(content_type=ContentType.objects.get_for_model(main), object_id=main.pk)
    if related is not None:
        where |= Q(
            content_type=ContentType.objects.get_for_model(related.model),
            object_id__in=related.values("pk"),
        )
    return list(Note.objects.filter(where).select_related("content_type")[:100])


def note_get(*, actor: Actor, public_id: str) -> Note:
    """One note of the actor's organisation (404 for any other or a bad id)."""
    try:
        return Note.objects.select_related("content_type").get(
            organisation=actor.organisation, public_id=public_id
        )
    except (Note.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such note.") from None
