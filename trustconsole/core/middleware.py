"""Attach the session user's Actor to each browser request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from trustconsole.core.actor import Actor
from trustconsole.core.models import Membership

SESSION_KEY = "organisation_id"


def actor_for_session(request: HttpRequest) -> Actor | None:
    """The session's current organisation, falling back to the user's first one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user).select_related("organisation")
    wanted = request.session.get(SESSION_KEY)
    membership = None
    if wanted is not None:
        membership = memberships.filter(organisation_id=wanted).first()
    if membership is None:
        membership = memberships.order_by("organisation__name").first()
    if membership is None:
        return None
    return Actor(organisation=membership.organisation, role=membership.role, user=user)


class ActorMiddleware:
    """Sets `request.actor` for session users; API tokens set it in authentication."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = actor_for_session(request)
        return self.get_response(request)
