"""The review queue's count for the navigation on every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from visitors.selectors import review_queue_badge


def review_queue(request: HttpRequest) -> dict[str, Any]:
    """`review_queue_count` / `review_queue_overdue`: open visitor review items of
    the current organisation, and how many of them are overdue."""
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"review_queue_count": 0, "review_queue_overdue": 0}
    badge = review_queue_badge(organisation_id=actor.organisation.pk)
    return {
        "review_queue_count": badge["open"],
        "review_queue_overdue": badge["overdue"],
    }
