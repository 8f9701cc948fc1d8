"""The Actor: who is acting, in which organisation, with which role.

Every view, API call, task and command that reads or changes tenant data does so
as an Actor. Selectors scope by `actor.organisation`; services check
`actor.require(...)` and write audit entries naming `actor.label`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from trustconsole.core.choices import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from trustconsole.core.models import ApiToken, Organisation


@dataclass(frozen=True)
class Actor:
    """An authenticated principal acting inside one organisation."""

    organisation: Organisation
    role: str
    user: User | None = None
    token: ApiToken | None = None
    system: str = ""

    @property
    def label(self) -> str:
        """How the audit trail names this actor."""
        if self.user is not None:
            return self.user.get_username()
        if self.token is not None:
            return f"API token {self.token.name} ({self.token.prefix})"
        return f"system: {self.system or 'console'}"

    def can(self, *roles: str) -> bool:
        """Admins can do everything; others only what the listed roles allow."""
        return self.role == Role.ADMIN or self.role in roles

    def require(self, *roles: str) -> None:
        """Raise PermissionDenied unless the actor holds one of the roles."""
        if not self.can(*roles):
            allowed = ", ".join(sorted({Role.ADMIN.value, *roles}))
            raise PermissionDenied(
                f"Your role ({self.role}) cannot do this; it needs one of: {allowed}."
            )

    @classmethod
    def system_for(cls, organisation: Organisation, name: str) -> Actor:
        """An actor for automatic work (beat tasks, gates) inside an organisation."""
        return cls(organisation=organisation, role=Role.ADMIN, system=name)


class ActorRequest(HttpRequest):
    """The type of a console request once `ActorMiddleware` has run: `actor` is set.

    For annotations only (`def view(request: ActorRequest)`); Django still builds
    plain `HttpRequest`s and the middleware adds the attribute.
    """

    actor: Actor
