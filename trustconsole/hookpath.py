"""The plain-WSGI path of the call gate's webhooks: no WSGIRequest, no signals.

`POST /voice/hooks/<token>/` of a Telnyx Call Control connection is the console's
hottest request. `PlainHooks` answers it from the WSGI environ: a small request
object (`HookRequest`: the method, the headers, the raw body) goes to the same
webhook code as on the Django path (`voicegate.webhooks.hook_answer`), and the
JSON answer is written straight to the server (a 200 as the bytes the webhook
code encoded once, `webhooks.JsonAnswer`, without a response object). What the
Django path does around the view is done here by hand, each for the same reason:

- the request id (`trustconsole.lib.logs`): the caller's `X-Request-ID` or a new
  one, echoed, on every line logged meanwhile and in the access log;
- the headers `SecurityMiddleware` sets on such a response (computed by that
  middleware itself, once per secure/insecure);
- a 4xx is logged by `django.request` as Django logs it; an exception is answered
  by Django's own handler (`response_for_exception`: the 500 page, the traceback
  logged, `got_request_exception` sent);
- database connections: what `close_old_connections` does on `request_started`
  and `request_finished` (a connection past `CONN_MAX_AGE`, or broken, or left
  out of autocommit, is closed; health checks rearmed), called directly before
  and after the request instead of through the signals. It costs a loop over the
  connections opened in this thread, a few µs, so it runs on every request: a
  connection is recycled exactly as on the Django path. Django's health check
  (`SELECT 1` before a reused connection's first query) is skipped for a
  connection this path used less than a second ago that is idle and whose
  socket is silent (`trustconsole.lib.dbhealth`): a rejection, an outbound
  refusal or a chat message then costs its own statements only.

Anything unusual takes the Django path (`fallback`) unchanged: a query string
(the query-string guard), a host that is not plainly allowed (Django answers
400), an SSL redirect, a script prefix, a body over the limit announced by its
Content-Length, a connection this process does not know yet or of another
provider (TeXML, TwiML and PBX webhooks read forms and URLs).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections, reset_queries
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.middleware.security import SecurityMiddleware
from django.utils.log import log_response

from trustconsole.lib import dbhealth, jsonbody, logs
from voicegate import webhooks
from voicegate.choices import Provider
from voicegate.gate import GateUnavailable, connection_cached, context_for_token

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HookHeaders:
    """The request's headers by their HTTP names, read from the environ."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    @staticmethod
    def _key(name: str) -> str:
        key = name.upper().replace("-", "_")
        return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.environ.get(self._key(name), default)

    def __getitem__(self, name: str) -> str:
        return str(self.environ[self._key(name)])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self.environ


class HookRequest:
    """What the webhook code reads of a request, without Django's request object."""

    method = "POST"

    def __init__(self, environ: dict[str, Any], request_id: str) -> None:
        self.META = environ
        self.path = environ["PATH_INFO"]
        self.headers = HookHeaders(environ)
        self.request_id = request_id
        self._body: bytes | None = None

    @property
    def body(self) -> bytes:
        """The raw body, read once (its length was checked by `PlainHooks.plain`)."""
        if self._body is None:
            length = jsonbody.declared_length(self.META) or 0
            self._body = self.META["wsgi.input"].read(length) if length > 0 else b""
        return self._body


def is_secure(environ: dict[str, Any]) -> bool:
    """`HttpRequest.is_secure()` for this environ."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        header, secure_value = proxy
        value = environ.get(header)
        if value is not None:
            return bool(str(value).split(",", 1)[0].strip() == secure_value)
    return bool(environ.get("wsgi.url_scheme") == "https")


def host_allowed(environ: dict[str, Any]) -> bool:
    """The Host header plainly names an allowed host (False: Django decides)."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        return False  # Django's own host logic decides
    host = environ.get("HTTP_HOST")
    if host is None:  # rebuilt from the server's name, as PEP 333 says
        if settings.USE_X_FORWARDED_PORT and "HTTP_X_FORWARDED_PORT" in environ:
            port = str(environ["HTTP_X_FORWARDED_PORT"])
        else:
            port = str(environ.get("SERVER_PORT", ""))
        host = environ.get("SERVER_NAME", "")
        if port != ("443" if is_secure(environ) else "80"):
            host = f"{host}:{port}"
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return _host_valid(str(host), tuple(allowed))


# Answers of `_host_valid` by (Host, ALLOWED_HOSTS): a provider sends the same
# Host on every webhook. Hosts are the client's to choose, so few are kept.
_HOSTS: dict[tuple[str, tuple[str, ...]], bool] = {}
HOSTS_KEPT = 64


def _host_valid(host: str, allowed: tuple[str, ...]) -> bool:
    """Django's `split_domain_port` + `validate_host` (~10 µs), once per host."""
    key = (host, allowed)
    found = _HOSTS.get(key)
    if found is None:
        domain, _port = split_domain_port(host)
        found = bool(domain) and validate_host(domain, allowed)
        if len(_HOSTS) >= HOSTS_KEPT:
            _HOSTS.clear()
        _HOSTS[key] = found
    return found


class PlainHooks:
    """Telnyx Call Control webhooks answered from the environ (see the module)."""

    def __init__(self, fallback: WsgiApp, *, recycle_connections: bool = True) -> None:
        self.fallback = fallback
        # Off only where Django's test client also leaves connections alone (a
        # test's transaction must survive its requests).
        self.recycle_connections = recycle_connections
        self.recent = dbhealth.RecentUse()
        security = SecurityMiddleware(lambda request: HttpResponse())
        self.ssl_redirect = security.redirect
        self.security_headers = {
            secure: self._headers_of(security, secure=secure)
            for secure in (False, True)
        }

    @staticmethod
    def _headers_of(
        security: SecurityMiddleware, *, secure: bool
    ) -> list[tuple[str, str]]:
        class Probe:
            def is_secure(self) -> bool:
                return secure

        probe = HttpResponse()
        del probe["Content-Type"]
        security.process_response(Probe(), probe)  # type: ignore[arg-type]
        return list(probe.items())

    def plain(self, environ: dict[str, Any], token: str) -> bool:
        """Can this webhook take the plain path?"""
        if environ.get("QUERY_STRING") or environ.get("SCRIPT_NAME"):
            return False
        connection = connection_cached(token)
        if connection is None:  # this process's first call of it: load it now
            try:
                connection, _ = context_for_token(token)
            except GateUnavailable:
                return False
        if connection is None or connection.provider != Provider.TELNYX_CALL_CONTROL:
            return False
        if self.ssl_redirect and not is_secure(environ):
            return False
        length = jsonbody.declared_length(environ)
        upload_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length is None or length > jsonbody.max_bytes():
            return False  # the 413 (or the unreadable length) is Django's to answer
        if upload_limit is not None and length > upload_limit:
            return False
        return host_allowed(environ)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any], token: str
    ) -> Iterable[bytes]:
        if not self.plain(environ, token):
            return self.fallback(environ, start_response)
        request_id = logs.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        request = HookRequest(environ, request_id)
        # None: the connection changed provider since `plain` looked.
        return self.serve(
            request,
            lambda: webhooks.hook_answer(
                request,  # type: ignore[arg-type]
                token,
                handlers=webhooks.PLAIN_HANDLERS,
            ),
            start_response,
        )

    def serve(
        self,
        request: HookRequest,
        answer: Callable[[], Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        """One plain request: its id bound for the log lines, connections
        recycled around it, `answer()` written (an exception answered as Django
        does); when `answer()` gives None, the Django path answers instead."""
        logs.request_bound(request.request_id)
        self._request_started()
        try:
            try:
                response = answer()
            except Exception as exc:  # answered and logged as Django does
                response = response_for_exception(self._django_request(request), exc)
            if response is not None:
                return self._respond(request, response, start_response)
        finally:
            self._request_finished()
        environ = request.META
        if request._body is not None:
            environ["wsgi.input"] = io.BytesIO(request._body)
        return self.fallback(environ, start_response)

    def _respond(
        self,
        request: HookRequest,
        response: webhooks.HookResponse,
        start_response: Callable[..., Any],
    ) -> list[bytes]:
        if isinstance(response, webhooks.JsonAnswer):  # a 200: its bytes as they are
            items: list[tuple[str, str]] = [("Content-Type", response.content_type)]
        else:
            if response.status_code >= 400:
                log_response(
                    "%s: %s", response.reason_phrase, request.path,
                    response=response, request=request,  # type: ignore[arg-type]
                )  # fmt: skip
            items = list(response.items())
        content = response.content
        headers = [
            *items,
            *self.security_headers[is_secure(request.META)],
            (logs.HEADER, request.request_id),
            ("Content-Length", str(len(content))),
        ]
        request.META[logs.ACCESS_KEY] = {
            "request_id": request.request_id,
            "organisation": "",
            "user": "",
        }
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [content]

    def _django_request(self, request: HookRequest) -> WSGIRequest:
        """Django's request for this environ (to answer an exception as Django does)."""
        environ = request.META
        body = request._body if request._body is not None else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        django_request = WSGIRequest(environ)
        django_request.request_id = request.request_id  # type: ignore[attr-defined]
        return django_request

    def _request_started(self) -> None:
        if settings.DEBUG:
            reset_queries()
        if self.recycle_connections:
            close_old_connections()
            self.recent.settle()

    def _request_finished(self) -> None:
        if self.recycle_connections:
            self.recent.noted()
            close_old_connections()
        logs.request_forgotten()
