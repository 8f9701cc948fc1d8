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

**The connection health check.** With `CONN_HEALTH_CHECKS` Django sends
`SELECT 1` before the first query of every request that reuses a connection:
a round trip per message, for a statement that is itself one round trip. Here
the check still runs once per request before the first query, but a
connection is first asked without a round trip (`_quiet`): it is idle
(not in a transaction), this path used it less than
`HEALTH_CHECK_IDLE_SECONDS` ago, and its socket has nothing to read. A server
that ended the session (a restart, `pg_terminate_backend`, an idle timeout, a
pooler closing it) has sent its farewell or closed the socket, which makes it
readable; then, or when the connection sat idle longer, or after an error
(Django's own `close_if_unusable_or_obsolete` tests it), `SELECT 1` is sent
as Django sends it and a dead connection is replaced before the message's
statement. What this cannot see is a peer that vanished within that second
without a word (no FIN, no RST): the statement then fails as it would had
the connection died just after Django's `SELECT 1`, and the next request
tests the connection (its error noted).
"""

from __future__ import annotations

import select
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.http import parse_header_parameters

from trustconsole.hookpath import (
    HookRequest,
    PlainHooks,
    WsgiApp,
    host_allowed,
    is_secure,
)
from trustconsole.lib import jsonbody, logs

# A connection this path used less than this long ago, idle and with a silent
# socket, skips the `SELECT 1` health check (see the module's docstring).
HEALTH_CHECK_IDLE_SECONDS = 1.0


class WidgetRequest(HookRequest):
    """What the widget's short path reads of a request (`HookRequest`, plus the
    content type as Django parses it)."""

    def __init__(self, environ: dict[str, Any], request_id: str) -> None:
        super().__init__(environ, request_id)
        self.content_type, self.content_params = parse_header_parameters(
            environ.get("CONTENT_TYPE", "")
        )


def _quiet(raw: Any) -> bool:
    """The psycopg connection is idle and the server has said nothing since its
    last answer (no byte, no end of stream waiting on the socket)."""
    from psycopg import pq

    try:
        if raw.closed or raw.broken:
            return False
        if raw.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        waiting = select.poll()  # no descriptor limit, unlike select.select
        waiting.register(raw.fileno(), select.POLLIN | select.POLLPRI)
        ready = waiting.poll(0)  # a hang-up or an error is reported too
    except (OSError, ValueError, AttributeError):
        return False
    return not ready


class PlainWidget(PlainHooks):
    """Chat widget messages answered from the environ (see the module)."""

    def __init__(self, fallback: WsgiApp, *, recycle_connections: bool = True) -> None:
        from visitors.api.views import WidgetMessageApi

        super().__init__(fallback, recycle_connections=recycle_connections)
        self.allow = ", ".join(WidgetMessageApi().allowed_methods)
        # When this path last finished with each database connection (the
        # driver's connection object: a new one after a reconnect is unknown).
        self._used: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

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

    def _request_started(self) -> None:
        super()._request_started()
        if self.recycle_connections:
            self._health_checks_settled()

    def _request_finished(self) -> None:
        if self.recycle_connections:
            now = time.monotonic()
            for conn in connections.all(initialized_only=True):
                if conn.connection is not None and conn.vendor == "postgresql":
                    self._used[conn.connection] = now
        super()._request_finished()

    def _health_checks_settled(self) -> None:
        """Mark the health check done for each connection that is plainly alive
        without asking the server (see the module); the others keep theirs."""
        now = time.monotonic()
        # (django-stubs do not know the health-check attributes of Django 4.1+.)
        for conn in connections.all(initialized_only=True):
            raw = conn.connection
            if (
                raw is None
                or conn.vendor != "postgresql"
                or not conn.health_check_enabled  # type: ignore[attr-defined]
                or conn.health_check_done  # type: ignore[attr-defined]
            ):
                continue
            used = self._used.get(raw)
            if used is None or now - used > HEALTH_CHECK_IDLE_SECONDS:
                continue
            if _quiet(raw):
                conn.health_check_done = True  # type: ignore[attr-defined]
