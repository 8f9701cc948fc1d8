"""The plain-WSGI path of the dialer's outbound check: no WSGIRequest, no signals.

A dialer asks `POST /api/v1/voice/outbound-check` before every call. `PlainOutbound`
answers its ordinary request from the WSGI environ, as `trustconsole.hookpath`
answers Telnyx webhooks: a JSON object of plain strings, with `Authorization:
Bearer` and a token of a role that may check, goes to the functions the check's
short path uses (`voicegate/policy/api/hot.py`: the same token cache and actor,
the same service, the console's exception handler for bad numbers and other
organisations' accounts), and the answer — DRF's JSON renderer's bytes, with the
headers the router's Django path gives it — is written to the server without an
HttpResponse. Around it, what the Django path does is done as the webhook path
does it: the request id (echoed, on every line logged meanwhile, with the
token's organisation and user, and in the access log), the security headers
`SecurityMiddleware` computed for the webhook path, a 4xx logged by
`django.request`, an exception answered by Django's own handler (the 500,
the traceback logged), and database connections recycled before and after the
request exactly as `close_old_connections` does on the request signals. Every
plain answer carries a `Content-Length`.

Anything it cannot vouch for takes the router's Django path (`fallback`: the
view's short path, then DRF) unchanged: a query string, a script prefix, an
`Accept` to negotiate, a content type other than `application/json`, no
`Authorization: Bearer`, a body over the limit (or an unreadable length), a host
that is not plainly allowed, an SSL redirect; then, once read, a body that is not
JSON or not an object of plain strings within the serializer's limits, an
unknown or revoked token, a viewer's token (the body read is handed over).

The settings it reads on every request (the body limits, `DEBUG`) are read once
and again whenever a setting changes (`setting_changed`, sent by tests); the
verdict on a Host header is kept per header value (the dialer sends one).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.http import HttpResponse
from django.utils.log import log_response

from trustconsole.core.api import short
from trustconsole.core.api.auth import bearer_value
from trustconsole.hookpath import HookRequest, PlainHooks, WsgiApp, host_allowed
from trustconsole.hookpath import is_secure as _is_secure
from trustconsole.lib import jsonbody, logs

if TYPE_CHECKING:
    from trustconsole.core.actor import Actor

JSON = "application/json"
HOSTS_KEPT = 64  # Host header values whose verdict is kept (a dialer sends one)


class OutboundRequest(HookRequest):
    """What the check, the log lines and the exception handler read of a request:
    the environ, the headers, the raw body and, once authenticated, the actor."""

    actor: Actor | None = None


class PlainOutbound:
    """Ordinary outbound checks answered from the environ (see the module)."""

    def __init__(self, fallback: WsgiApp, *, hooks: PlainHooks) -> None:
        from voicegate.policy.api import hot
        from voicegate.policy.api.views import outbound_check_view

        self.fallback = fallback
        self.hot = hot
        # The webhook path's request lifecycle (connections, the request id, the
        # request Django builds to answer an exception) is this path's too.
        self.hooks = hooks
        # The webhook path's terms, computed once for the router: the headers
        # SecurityMiddleware adds, its SSL redirect, the connection recycling.
        self.security_headers = hooks.security_headers
        self.ssl_redirect = hooks.ssl_redirect
        self.recycle_connections = hooks.recycle_connections
        # Who may check and the Allow header, from the DRF view (None: that view
        # does more than the short path repeats, and every check goes to it).
        self.terms = hot.short_terms(outbound_check_view)
        allow = self.terms[1] if self.terms is not None else ""
        self.ok_headers = {
            secure: [("Content-Type", JSON), ("Allow", allow), *headers]
            for secure, headers in self.security_headers.items()
        }
        self.hosts: dict[str, bool] = {}
        self._read_settings()
        setting_changed.connect(self._read_settings)

    def _read_settings(self, **_: Any) -> None:
        json_limit = jsonbody.max_bytes()
        upload_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        self.json_limit = json_limit
        self.body_limit = (
            json_limit if upload_limit is None else min(json_limit, upload_limit)
        )
        self.depth_limit = jsonbody.max_depth()
        self.hosts = {}

    def host_allowed(self, environ: dict[str, Any]) -> bool:
        """`hookpath.host_allowed`, its verdict kept per Host header value."""
        host = environ.get("HTTP_HOST")
        if host is None or "HTTP_X_FORWARDED_HOST" in environ:
            return host_allowed(environ)
        allowed = self.hosts.get(host)
        if allowed is None:
            allowed = host_allowed(environ)
            if len(self.hosts) >= HOSTS_KEPT:
                self.hosts = {}
            self.hosts[host] = allowed
        return allowed

    def plain(self, environ: dict[str, Any]) -> str | None:
        """The raw API token when this request can take the plain path, else None."""
        if (
            self.terms is None
            or environ.get("QUERY_STRING")
            or environ.get("SCRIPT_NAME")
            or environ.get("CONTENT_TYPE") != JSON
            or environ.get("HTTP_ACCEPT", "").strip() not in short.PLAIN_ACCEPT
        ):
            return None
        length = jsonbody.declared_length(environ)
        if not length or length > self.body_limit:
            return None  # no body, or the 413 / unreadable length: Django answers
        if self.ssl_redirect and not _is_secure(environ):
            return None
        if not self.host_allowed(environ):
            return None  # Django answers 400 and logs the host
        return bearer_value(environ)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        raw = self.plain(environ)
        if raw is None:
            return self.fallback(environ, start_response)
        request_id = logs.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        request = OutboundRequest(environ, request_id)
        logs.request_bound(request_id, request)
        self._request_started()
        try:
            try:
                answer = self._answer(request, raw)
            except Exception as exc:  # answered and logged as Django does
                answer = response_for_exception(self._django_request(request), exc)
            if answer is not None:
                return self._respond(request, answer, start_response)
        finally:
            self._request_finished()
        if request._body is not None:  # the Django path reads the body again
            environ["wsgi.input"] = io.BytesIO(request._body)
        return self.fallback(environ, start_response)

    def _answer(
        self, request: OutboundRequest, raw: str
    ) -> bytes | HttpResponse | None:
        """The answer's JSON (allowed or refused), the API's 4xx, or None: the
        Django path answers."""
        assert self.terms is not None  # checked by `plain`
        roles, allow = self.terms
        try:
            data = jsonbody.parse(
                request.body, depth=self.depth_limit, size=self.json_limit
            )
        except jsonbody.JsonBodyError:
            return None
        values = self.hot.check_input(data)
        if values is None:
            return None
        authorised = self.hot.check_token(raw, roles)
        if authorised is None:
            return None
        answer = self.hot.checked(request, authorised[1], values, allow)
        if isinstance(answer, HttpResponse):
            return answer
        return short.json_bytes(answer)

    def _respond(
        self,
        request: OutboundRequest,
        answer: bytes | HttpResponse,
        start_response: Callable[..., Any],
    ) -> list[bytes]:
        secure = _is_secure(request.META)
        if isinstance(answer, bytes):
            status = "200 OK"
            content = answer
            headers = [*self.ok_headers[secure]]
        else:
            if answer.status_code >= 400:
                log_response(
                    "%s: %s", answer.reason_phrase, request.path,
                    response=answer, request=request,  # type: ignore[arg-type]
                )  # fmt: skip
            status = f"{answer.status_code} {answer.reason_phrase}"
            content = answer.content
            headers = [*answer.items(), *self.security_headers[secure]]
        headers.append((logs.HEADER, request.request_id))
        headers.append(("Content-Length", str(len(content))))
        request.META[logs.ACCESS_KEY] = logs.access_entry(request.request_id, request)
        start_response(status, headers)
        return [content]

    def _django_request(self, request: OutboundRequest) -> WSGIRequest:
        """Django's request for this environ (to answer an exception as Django does)."""
        django_request = self.hooks._django_request(request)
        django_request.actor = request.actor  # type: ignore[attr-defined]
        return django_request

    def _request_started(self) -> None:
        self.hooks._request_started()

    def _request_finished(self) -> None:
        self.hooks._request_finished()
