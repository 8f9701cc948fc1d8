"""The visitor page's shadow blacklist (voice gate): start it with a reason, end it."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from trustconsole.core.actor import ActorRequest
from trustconsole.lib.views import member_required
from visitors import selectors, services
from visitors.views import _profile_answer, _reason, _run


@member_required
@require_POST
def visitor_shadow_blacklist(request: ActorRequest, public_id: str) -> HttpResponse:
    """POST: start (or with `end`, end) the visitor's shadow blacklist."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    reason = _reason(request)
    if request.POST.get("end"):
        _run(
            request,
            lambda: services.visitor_shadow_clear(
                actor=request.actor, visitor=visitor, reason=reason
            ),
            f"The shadow blacklist of {visitor.display_name} has ended.",
        )
    else:
        _run(
            request,
            lambda: services.visitor_shadow_blacklist(
                actor=request.actor, visitor=visitor, reason=reason
            ),
            f"{visitor.display_name} is on a shadow blacklist: calls are logged as "
            "would-be rejections and let through.",
        )
    return _profile_answer(request, visitor)
