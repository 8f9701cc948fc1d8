"""The plain-WSGI path of the chat widget's messages: no WSGIRequest, no signals.

`POST /widget/v1/messages` is the console's busiest request after the call
gate's webhooks. `PlainWidget` answers it from the WSGI environ as
`trustconsole.hookpath` answers Telnyx webhooks: a small request object
(`WidgetRequest`: the method, the headers read from the environ, the content
type, the raw body) goes to the same code as on the Django path
(`visitors.api.views.widget_message_short`: widget key, body, rate limits, the
gate, the 4xx in the console's shape, the CORS headers), and the answer is
written straight to the server with the request id and the security headers,
exactly as `PlainHooks` writes a webhook's (its helpers, inherited).

Anything unusual takes the Django path (`fallback`, `HotRouter.short`)
unchanged: a query string, a script prefix, an SSL redirect, a host that is
not plainly allowed, a body with no usable length or over the limits, and
every message the short path leaves to the DRF view (an unknown widget key,
another content type or `Accept` header, a body WidgetMessageInput must judge).

The connection health check's `SELECT 1` is skipped for a connection plainly
alive, as on every plain path (`PlainHooks`, `trustconsole.lib.dbhealth`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.utils.http import parse_header_parameters

from trustconsole.hookpath import (
    HookRequest,
    PlainHooks,
    WsgiApp,
    host_allowed,
    is_secure,
)
from trustconsole.lib import jsonbody, logs


class WidgetRequest(HookRequest):
    """What the widget's short path reads of a request (`HookRequest`, plus the
    content type as Django parses it)."""

    def __init__(self, environ: dict[str, Any], request_id: str) -> None:
        super().__init__(environ, request_id)
        self.content_type, self.content_params = parse_header_parameters(
            environ.get("CONTENT_TYPE", "")
        )


class PlainWidget(PlainHooks):
    """Chat widget messages answered from the environ (see the module)."""

    def __init__(self, fallback: WsgiApp, *, recycle_connections: bool = True) -> None:
        from visitors.api.views import WidgetMessageApi

        super().__init__(fallback, recycle_connections=recycle_connections)
        self.allow = ", ".join(WidgetMessageApi().allowed_methods)

    def plain_message(self, environ: dict[str, Any]) -> bool:
        """Can this message take the plain path?"""
        if environ.get("QUERY_STRING") or environ.get("SCRIPT_NAME"):
            return False
        if self.ssl_redirect and not is_secure(environ):
            return False
        length = jsonbody.declared_length(environ)
        upload_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not length or length < 0 or length > jsonbody.max_bytes():
            return False  # no body, or a 413: the Django path answers
        if upload_limit is not None and length > upload_limit:
            return False
        return host_allowed(environ)

    def __call__(  # type: ignore[override]
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        from visitors.api.views import widget_message_short

        if not self.plain_message(environ):
            return self.fallback(environ, start_response)
        request_id = logs.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        request = WidgetRequest(environ, request_id)
        # None: the DRF view answers (and refuses what is wrong with its 4xx).
        return self.serve(
            request,
            lambda: widget_message_short(request, self.allow),  # type: ignore[arg-type]
            start_response,
        )
