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
        request.actor = actor_for_session(request)  # type: ignore[attr-defined]
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send `CONTENT_SECURITY_POLICY` with every HTML page (scripts and styles from
    this origin only: no inline script, no inline style). A response that set its
    own policy keeps it; paths under a `CONTENT_SECURITY_POLICY_PATHS` prefix get
    that policy instead (the API's Swagger UI, which styles itself inline)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        self.by_path = tuple(settings.CONTENT_SECURITY_POLICY_PATHS.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" in response or not response.get(
            "Content-Type", ""
        ).startswith("text/html"):
            return response
        policy = self.policy
        for prefix, special in self.by_path:
            if request.path.startswith(prefix):
                policy = special
                break
        response["Content-Security-Policy"] = policy
        return response
