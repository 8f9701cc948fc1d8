"""The outbound check's short path: the dialer's ordinary request without DRF.

A dialer asks `POST /api/v1/voice/outbound-check` before every call, so what DRF
does around the check (content negotiation, parser selection, the request
wrapper, a serializer built and deep-copied per request, the renderer) cost as
much as the check itself. `outbound_check_short` answers the one request that
matters — a JSON object with string fields, an `Authorization: Bearer` token of
a role that may check — with the same functions the DRF view uses: the same
token cache and actor, the same service, the same answer and error shape,
rendered by the same JSON renderer with the same headers.

Anything it cannot vouch for exactly as the DRF view would (no or another kind
of credentials, an unknown or revoked token, a viewer's token, a body that is
not JSON, not an object, a field that is not a plain string, too long, an
`Accept` header or query string to negotiate) it leaves to `OutboundCheckApi`,
which answers with its documented 4xx. `OutboundCheckInput` stays the schema
and the validator of those requests; `tests/voicegate/policy/test_api_short.py`
keeps the two in step.

The WSGI application's plain path (`trustconsole/outpath.py`) answers the same
ordinary requests from the environ with these same functions (`check_input`,
`check_token`, `checked`), before any Django request exists.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from trustconsole.core.actor import Actor
from trustconsole.core.api import short
from trustconsole.core.api.auth import (
    ApiTokenAuthentication,
    TokenPrincipal,
    bearer_value,
    token_actor,
    token_authenticate,
)
from trustconsole.core.api.permissions import ActorPermission
from trustconsole.core.models import ApiToken
from trustconsole.lib import metrics
from voicegate.policy import services

# The fields of OutboundCheckInput with their `max_length` (None: no limit). The
# short path takes a value only as DRF's CharField would pass it unchanged apart
# from trimming; anything else goes to the serializer.
REQUIRED: dict[str, int | None] = {"from": 64, "to": 64}
OPTIONAL: dict[str, int | None] = {"account": None, "region": 2}


def check_answer(*, actor: Actor, values: Mapping[str, Any]) -> dict:
    """Run the check for validated input and count it in the metrics."""
    started = time.perf_counter()
    outcome = services.outbound_check(
        actor=actor,
        from_number=values["from"],
        to_number=values["to"],
        account=values.get("account") or None,
        region=values.get("region") or None,
    )
    metrics.outbound_checked(outcome, seconds=time.perf_counter() - started)
    return outcome.answer()


def _text(value: Any, limit: int | None) -> str | None:
    """`value` trimmed, when DRF's CharField would accept it as this same string.

    Plain ASCII without NUL: trimming and the length are then the same for
    Python and DRF, and no validator of the field can refuse it.
    """
    if not isinstance(value, str) or not value.isascii() or "\x00" in value:
        return None
    value = value.strip()
    return value if limit is None or len(value) <= limit else None


def check_input(data: Any) -> dict[str, str | None] | None:
    """The check's input from a parsed body, or None when the serializer must
    judge it (it would refuse it, or convert a value)."""
    if not isinstance(data, dict):
        return None
    values: dict[str, str | None] = {}
    for name, limit in REQUIRED.items():
        if name not in data:
            return None
        text = _text(data[name], limit)
        if text is None:
            return None
        values[name] = text
    for name, limit in OPTIONAL.items():
        if name not in data:
            continue
        if data[name] is None and name == "account":  # allow_null
            values[name] = None
            continue
        text = _text(data[name], limit)
        if text is None:
            return None
        values[name] = text
    return values


def check_token(raw: str, roles: tuple[str, ...]) -> tuple[ApiToken, Actor] | None:
    """A raw API token of a role that may check, and its actor; or None: then
    the DRF view answers (401 for an unknown or revoked token, 403 for a viewer's)."""
    token = token_authenticate(raw)
    if token is None:
        return None
    actor = token_actor(token)
    return (token, actor) if actor.can(*roles) else None


def checked(request: Any, actor: Actor, values: Mapping[str, Any], allow: str) -> Any:
    """The check's answer (a dict), or the API's refusal of it (an HttpResponse).

    `request` is what logs and the exception handler read: it carries the actor,
    as DRF's token authentication leaves it."""
    request.actor = actor
    try:
        return check_answer(actor=actor, values=values)
    except Exception as exc:
        # Bad numbers (400), another organisation's account (404): the console's
        # API error shape from its own exception handler; anything else is a 500.
        response = short.refusal(exc, request, allow)
        if response is None:
            raise
        return response


def outbound_check_short(
    request: HttpRequest, *, roles: tuple[str, ...], allow: str
) -> HttpResponse | None:
    """The answer to an ordinary, token-authenticated check, or None: then the
    DRF view answers (and refuses what is wrong with its documented error)."""
    if request.method != "POST":
        return None
    raw = bearer_value(request.META)
    if raw is None:
        return None
    values = check_input(short.json_body(request))
    if values is None:
        return None
    authorised = check_token(raw, roles)
    if authorised is None:
        return None
    token, actor = authorised
    # What DRF's token authentication leaves on the request (logs read the actor).
    request.user = TokenPrincipal(token)  # type: ignore[assignment]
    request.auth = token  # type: ignore[attr-defined]
    answer = checked(request, actor, values, allow)
    if isinstance(answer, HttpResponse):
        return answer
    return short.json_response(answer, 200, allow)


def _drf_steps_are_known(cls: Any) -> bool:
    """True while the DRF view does only what the short path repeats: token auth
    first, the actor's role check, no throttles, the one JSON renderer."""
    return (
        cls.authentication_classes[:1] == [ApiTokenAuthentication]
        and list(cls.permission_classes) == [ActorPermission]
        and not cls.throttle_classes
        and list(cls.renderer_classes) == [JSONRenderer]
        and cls.versioning_class is None
    )


def short_terms(drf_view: Callable[..., Any]) -> tuple[tuple[str, ...], str] | None:
    """The roles that may check and the `Allow` header of the check's DRF view,
    or None when that view does more than the short paths repeat."""
    cls: Any = getattr(drf_view, "cls", None)
    if cls is None or not _drf_steps_are_known(cls):
        return None
    return tuple(cls.write_roles), ", ".join(cls().allowed_methods)


def with_short_path(drf_view: Callable[..., Any]) -> Callable[..., Any]:
    """The DRF view of the check, answering ordinary checks by the short path.

    The wrapper carries the DRF view's attributes (its class for the OpenAPI
    schema, `csrf_exempt` for the middleware), so it is the view the URL pattern
    and the thin WSGI router both name.
    """
    terms = short_terms(drf_view)
    if terms is None:
        return drf_view
    roles, allow = terms

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = outbound_check_short(request, roles=roles, allow=allow)
        return response if response is not None else drf_view(request, *args, **kwargs)

    functools.update_wrapper(view, drf_view)
    return view
