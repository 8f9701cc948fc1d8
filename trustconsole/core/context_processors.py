"""Values every page's layout needs: the actor and the organisation switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from trustconsole.core.models import Membership, Organisation


def console(request: HttpRequest) -> dict[str, Any]:
    """The current actor and the organisations the user may switch to."""
    actor = getattr(request, "actor", None)
    if actor is None or actor.user is None:
        return {"actor": actor, "switch_organisations": []}
    others = (
        Membership.objects.filter(user=actor.user)
        .exclude(organisation=actor.organisation)
        .select_related("organisation")
        .order_by("organisation__name")
    )
    return {
        "actor": actor,
        "switch_organisations": [m.organisation for m in others],
    }


def nav_badges(request: HttpRequest) -> dict[str, Any]:
    """Counts of both review queues (and how many are overdue) and the member's
    unread notifications, in one query."""
    from accounts.selectors import review_badge_counts
    from notifications.models import Notification
    from trustconsole.lib.timeseries import count_subquery
    from visitors.selectors import review_queue_badge_counts

    counts = {**review_queue_badge_counts(), **review_badge_counts()}
    actor = getattr(request, "actor", None)
    empty = {**dict.fromkeys(counts, 0), "notifications_unread": 0}
    if actor is None:
        return empty
    if actor.user is not None:
        # The member's unread notifications (escalations to them), same query.
        counts["notifications_unread"] = count_subquery(
            Notification.objects.filter(recipient=actor.user, read_at__isnull=True)
        )
    row = Organisation.objects.filter(pk=actor.organisation.pk).values(**counts)
    return {**empty, **(row.first() or {})}
