"""The one role check of the API: members read, listed roles write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions, permissions

from trustconsole.core.actor import Actor

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


def request_actor(request: Request) -> Actor | None:
    """The Actor set by token authentication or by the session middleware."""
    return getattr(request._request, "actor", None)


class ActorPermission(permissions.BasePermission):
    """Reads need membership; writes need a role in the view's `write_roles`.

    Admins may always write. A view without `write_roles` is writable by admins only.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        actor = request_actor(request)
        if actor is None:
            raise exceptions.PermissionDenied(
                "You are not a member of any organisation."
            )
        if request.method in permissions.SAFE_METHODS:
            return True
        roles = getattr(view, "write_roles", ())
        if not actor.can(*roles):
            raise exceptions.PermissionDenied(
                f"Your role ({actor.role}) can read here but not change anything."
            )
        return True
