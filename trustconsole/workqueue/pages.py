"""What a queue page needs to show who holds each item and to work it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse

from trustconsole.core.actor import ActorRequest
from trustconsole.workqueue import selectors
from trustconsole.workqueue.queues import note_target_for, queue_get

# The keys of a queue row, in the order the help overlay lists them.
KEYS = {
    "visitors": [
        ("j / k", "Next / previous item"),
        ("b", "Blacklist (asks for a reason)"),
        ("w", "Whitelist"),
        ("d", "Dismiss"),
        ("c", "Claim"),
        ("e", "Escalate"),
        ("n", "Write a note"),
        ("?", "Show or hide this help"),
    ],
    "accounts": [
        ("j / k", "Next / previous request"),
        ("Enter", "Open the request"),
        ("c", "Claim"),
        ("e", "Escalate"),
        ("n", "Write a note"),
        ("?", "Show or hide this help"),
    ],
}


def queue_context(
    request: ActorRequest, *, queue: str, items: Iterable[Any], back: str = ""
) -> dict[str, Any]:
    """Attach holders and notes to one page of items; the template's switches.
    The forms come back to `back`, else to the queue page."""
    items = list(items)
    selectors.assignments_attach(items)
    selectors.notes_attach(items)
    q = queue_get(queue)
    actor = request.actor
    home = reverse(q.url_name)
    can_work = actor.user is not None and actor.can(q.role)
    return {
        "work": {
            "queue": q.key,
            "note_kind": note_target_for(items[0]).key if items else "",
            "can_work": can_work,
            "is_admin": actor.can(),
            "me": actor.user.pk if actor.user is not None else None,
            "colleagues": selectors.colleagues(actor=actor, queue=q)
            if can_work
            else [],
            "keys": KEYS[q.key],
            "next": back or (request.get_full_path() if request.path == home else home),
        }
    }
