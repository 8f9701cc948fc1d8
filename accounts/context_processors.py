"""The account review queue's count for the navigation on every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.selectors import review_badge


def review_queue(request: HttpRequest) -> dict[str, Any]:
    """`account_review_count` / `account_review_overdue`: reassessment requests
    waiting for support, and how many are past their due date."""
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"account_review_count": 0, "account_review_overdue": 0}
    badge = review_badge(organisation_id=actor.organisation.pk)
    return {
        "account_review_count": badge["open"],
        "account_review_overdue": badge["overdue"],
    }
