"""A thin WSGI router in front of the console for its hottest endpoints.

Provider webhooks (`POST /voice/hooks/<token>/`), the dialer's outbound check
(`POST /api/v1/voice/outbound-check`) and the chat widget's messages (`POST
/widget/v1/messages`) are answered many times a second and need none of what the
console's pages need: sessions, CSRF, messages, htmx, the session actor, static
files, the URL resolver walking every pattern. `HotRouter` sends them straight to
their views — the same view functions the URL patterns name — through the
middlewares they do need: the request id (`trustconsole.lib.logs`: echoed, logged,
in the access log), Django's security headers and the query-string guard
(`trustconsole.lib.params`), with Django's own exception handling, request signals
(database connections are opened and recycled as for any request) and error
logging. The outbound check authenticates its API token in its view: ordinary
checks by its short path (`voicegate/policy/api/hot.py`), the rest by its DRF
view. Telnyx Call Control webhooks, ordinary outbound checks and the chat
widget's messages go further: answered from the WSGI environ, without Django's
request and response objects or its request signals (`trustconsole.hookpath`,
`trustconsole.outpath`, `trustconsole.widgetpath`); what those cannot vouch for
comes back to `short`. Anything else, including any other method on those
paths, goes to the Django application unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core import signals
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest, get_script_name
from django.http import HttpRequest, HttpResponse
from django.urls import set_script_prefix
from django.utils.log import log_response

HOOK_PREFIX = "/voice/hooks/"

# Outermost first, as in settings.MIDDLEWARE.
HOT_MIDDLEWARE = (
    "trustconsole.lib.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "trustconsole.lib.params.QueryGuardMiddleware",
)


OUTBOUND_CHECK = "/api/v1/voice/outbound-check"
WIDGET_MESSAGES = "/widget/v1/messages"
HOT_POSTS = (OUTBOUND_CHECK, WIDGET_MESSAGES)


def hook_token(environ: dict[str, Any]) -> str | None:
    """The webhook token when this request is a provider webhook, else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    path = environ.get("PATH_INFO", "")
    if not path.startswith(HOOK_PREFIX) or not path.endswith("/"):
        return None
    token = path[len(HOOK_PREFIX) : -1]
    return token if token and "/" not in token else None


class HotRouter:
    """The WSGI application: webhooks on the short path, the rest to Django."""

    def __init__(
        self, django_app: WSGIHandler, *, recycle_connections: bool = True
    ) -> None:
        from django.utils.module_loading import import_string

        from trustconsole.hookpath import PlainHooks
        from trustconsole.outpath import PlainOutbound
        from trustconsole.widgetpath import PlainWidget
        from visitors.api.views import widget_messages_view
        from voicegate import webhooks
        from voicegate.policy.api.views import outbound_check_view

        self.django_app = django_app

        def view(request: HttpRequest) -> HttpResponse:
            request.get_host()  # ALLOWED_HOSTS, as on every path (400 otherwise)
            if request.path_info == WIDGET_MESSAGES:
                widget_response: HttpResponse = widget_messages_view(request)
                if hasattr(widget_response, "render"):  # a DRF response
                    widget_response.render()  # as Django's handler does
                return widget_response
            token = request.hook_token  # type: ignore[attr-defined]
            if token is None:
                response: HttpResponse = outbound_check_view(request)
                if hasattr(response, "render"):  # a DRF response (not the short path)
                    response.render()  # as Django's handler does
                return response
            return webhooks.voice_hook(request, token)

        chain: Callable[[HttpRequest], Any] = convert_exception_to_response(view)
        for path in reversed(HOT_MIDDLEWARE):
            chain = convert_exception_to_response(import_string(path)(chain))
        self.chain: Callable[[HttpRequest], HttpResponse] = chain
        # Telnyx Call Control webhooks: straight from the environ, the rest of
        # the webhooks (and anything unusual) through `short`.
        self.plain_hooks = PlainHooks(
            self.short, recycle_connections=recycle_connections
        )
        # Ordinary outbound checks: straight from the environ too.
        self.plain_outbound = PlainOutbound(self.short, hooks=self.plain_hooks)
        self.plain_widget = PlainWidget(
            self.short, recycle_connections=recycle_connections
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        token = hook_token(environ)
        if token is not None:
            return self.plain_hooks(environ, start_response, token)
        path = environ.get("PATH_INFO")
        if path not in HOT_POSTS or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        if path == OUTBOUND_CHECK:
            return self.plain_outbound(environ, start_response)
        return self.plain_widget(environ, start_response)

    def short(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """The hot endpoints' Django path: their middlewares, then their views."""
        token = hook_token(environ)
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        request.hook_token = token  # type: ignore[attr-defined]
        response = self.chain(request)
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path,
                response=response, request=request,
            )  # fmt: skip
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [
                *response.items(),
                *(
                    ("Set-Cookie", c.output(header=""))
                    for c in response.cookies.values()
                ),
            ],
        )
        # The server closes the response when it is done; that sends
        # request_finished (database connections recycled, the request id
        # forgotten), as for every Django response.
        return response
