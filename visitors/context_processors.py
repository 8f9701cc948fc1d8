"""The review queue's count for the navigation on every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from visitors.selectors import review_queue_count


def review_queue(request: HttpRequest) -> dict[str, Any]:
    """`review_queue_count`: open review items of the current organisation."""
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"review_queue_count": 0}
    return {
        "review_queue_count": review_queue_count(organisation_id=actor.organisation.pk)
    }
