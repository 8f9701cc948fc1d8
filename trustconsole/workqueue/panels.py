"""Internal notes on the visitor profile and the customer account page."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest

from trustconsole.core.actor import ActorRequest
from trustconsole.workqueue import selectors
from trustconsole.workqueue.queues import NOTE_TARGETS, note_target_for

TEMPLATE = "workqueue/partials/_notes.html"


def notes_context(
    *, request: ActorRequest, target: Any, related: Any = None
) -> dict[str, Any]:
    """The notes of a record and of its queue items, and whether the actor writes."""
    notes = selectors.notes_of_related(main=target, related=related)
    own = note_target_for(target)
    for note in notes:
        # Shown as "on a queue item" beside notes kept on the record itself.
        setattr(note, "on_item", note.content_type.model != target._meta.model_name)  # noqa: B010
    return {
        "notes": notes,
        "note_kind": own.key,
        "target": target,
        "can_note": request.actor.user is not None
        and request.actor.can(NOTE_TARGETS[own.key].role),
    }


def visitor_notes_panel(
    *, visitor: Any, request: HttpRequest
) -> tuple[str, dict[str, Any]]:
    """The visitor profile's notes: on the visitor and on its review items."""
    return TEMPLATE, notes_context(
        request=cast(ActorRequest, request),
        target=visitor,
        related=visitor.review_items.all(),
    )
