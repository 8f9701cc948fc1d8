"""The WSGI application sends provider webhooks down a short path (no sessions,
auth, CSRF or URL resolver) that answers exactly as the full stack does, with the
request id, the security headers, host checking and error logging kept."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from tests.voicegate.conftest import (
    BLACKLISTED_CALLER,
    call_initiated,
    hook_path,
    logged,
)
from trustconsole.core.actor import Actor
from trustconsole.hotpath import hook_token
from voicegate.choices import CommandStatus

pytestmark = pytest.mark.django_db

BLOCKED = BLACKLISTED_CALLER  # blacklisted by the `hook` fixture


def _call(app: Any, method: str, path: str, body: bytes = b"", **headers: str):
    """One request through a WSGI app: (status, headers, body)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **headers,
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(response_headers)

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(seen["status"].split()[0]), seen["headers"], content


def test_only_provider_webhooks_take_the_short_path() -> None:
    def env(method: str, path: str) -> dict[str, str]:
        return {"REQUEST_METHOD": method, "PATH_INFO": path}

    assert hook_token(env("POST", "/voice/hooks/abc123/")) == "abc123"
    assert hook_token(env("GET", "/voice/hooks/abc123/")) is None
    assert hook_token(env("POST", "/voice/hooks/abc123")) is None
    assert hook_token(env("POST", "/voice/hooks/a/b/")) is None
    assert hook_token(env("POST", "/voice/hooks//")) is None
    assert hook_token(env("POST", "/api/v1/voice/decide")) is None


def test_a_blacklisted_caller_is_rejected_on_the_short_path(
    router, hook, telnyx_signer, telnyx_api
) -> None:
    """GIVEN a blacklisted caller WHEN the webhook reaches the WSGI app THEN the
    answer, the call log and the reject command are those of the full stack, the
    request id is echoed and the security headers are set; no session cookie."""
    body = json.dumps(call_initiated(BLOCKED)).encode()
    status, headers, content = _call(
        router, "POST", hook_path(hook), body,
        HTTP_X_REQUEST_ID="lb-42", **telnyx_signer.headers(body),
    )  # fmt: skip
    assert status == 200
    assert json.loads(content) == {
        "decision": "reject",
        "reason": "blacklisted_visitor",
    }
    assert headers["X-Request-ID"] == "lb-42"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in headers
    assert "X-Frame-Options" not in headers  # the short path: no page middlewares
    decision = logged().get()
    assert decision.caller_e164 == BLOCKED
    assert decision.command_status == CommandStatus.SENT
    assert len(telnyx_api.requests) == 1


def test_a_bad_signature_is_refused_and_logged_as_on_the_full_stack(
    router, hook, telnyx_signer, caplog
) -> None:
    body = json.dumps(call_initiated(BLOCKED)).encode()
    forged = {**telnyx_signer.headers(body + b" ")}
    with caplog.at_level(logging.WARNING, logger="django.request"):
        status, _, content = _call(router, "POST", hook_path(hook), body, **forged)
    full, _, full_content = _call(
        WSGIHandler(), "POST", hook_path(hook), body, **forged
    )
    assert status == full == 403
    assert content == full_content
    assert any("Forbidden: /voice/hooks/" in r.getMessage() for r in caplog.records)
    assert not logged().exists()


def test_an_unknown_host_is_refused(router, hook, telnyx_signer) -> None:
    body = json.dumps(call_initiated(BLOCKED)).encode()
    status, _, _ = _call(
        router, "POST", hook_path(hook), body,
        HTTP_HOST="attacker.example", **telnyx_signer.headers(body),
    )  # fmt: skip
    assert status == 400
    assert not logged().exists()


def test_everything_else_is_the_django_application(router, hook) -> None:
    for method, path in (("GET", hook_path(hook)), ("GET", "/healthz")):
        status, headers, content = _call(router, method, path)
        full, full_headers, full_content = _call(WSGIHandler(), method, path)
        assert (status, content) == (full, full_content)
        # The full stack's headers (its CSP and frame options among them).
        assert set(headers) == set(full_headers)


def test_the_outbound_check_takes_the_short_path_and_answers_as_the_api_does(
    router, org
) -> None:
    """The dialer's outbound check through the WSGI app: the same answers as the
    full stack for an allowed call, a bad body, no token and a viewer's token."""
    from rest_framework.test import APIClient

    from trustconsole.core.services import token_create

    actor = Actor.system_for(org, "test")
    _, operator = token_create(actor=actor, name="dialer", role="operator")
    _, viewer = token_create(actor=actor, name="reader", role="viewer")
    path = "/api/v1/voice/outbound-check"
    good = json.dumps({"from": "+14155550100", "to": "+12025550199"}).encode()
    bad = json.dumps({"to": "+12025550199"}).encode()
    cases = ((good, operator), (bad, operator), (good, ""), (good, viewer))

    def auth(token: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    # The full stack first: Django's test client reconnects the signals that
    # close database connections, which the router's requests here must not do.
    full = [
        APIClient().post(path, body, content_type="application/json", **auth(token))
        for body, token in cases
    ]
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    for (body, token), expected in zip(cases, full, strict=True):
        status, headers, content = _call(router, "POST", path, body, **auth(token))
        assert status == expected.status_code, (status, content)
        assert json.loads(content) == expected.json()
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "X-Request-ID" in headers
        # The page middlewares did not run (they add frame options to everything).
        assert "X-Frame-Options" not in headers and expected["X-Frame-Options"]
    assert [r.status_code for r in full] == [200, 400, 401, 403]


def test_widget_messages_take_the_short_path_and_answer_as_the_api_does(
    router, org
) -> None:
    """The chat widget's messages through the WSGI app: stored and answered as on
    the full stack (202 with ids, the CORS headers), the same 400 for a bad body,
    401 for an unknown key and 400 for a NUL in the query string."""
    from rest_framework.test import APIClient

    from tests.visitors.factories import WidgetFactory
    from visitors.models import Message

    widget = WidgetFactory(organisation=org, name="Main website")
    path = "/widget/v1/messages"
    key = {"HTTP_X_WIDGET_KEY": widget.key, "HTTP_ORIGIN": "https://shop.example"}
    good = json.dumps({"visitor_id": "w-1", "body": "Where is my order?"}).encode()
    bad = json.dumps({"visitor_id": "w-1"}).encode()
    full = [
        APIClient().post(path, body, content_type="application/json", **headers)
        for body, headers in ((bad, key), (good, {"HTTP_X_WIDGET_KEY": "nope"}))
    ]
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)

    status, headers, content = _call(router, "POST", path, good, **key)
    assert status == 202, content
    answer = json.loads(content)
    assert answer["status"] == "accepted"
    stored = Message.objects.get(public_id=answer["message_id"])
    assert stored.body == "Where is my order?"
    assert str(stored.conversation.public_id) == answer["conversation_id"]
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Request-ID" in headers and "X-Frame-Options" not in headers

    for (body, extra), expected in zip(
        ((bad, key), (good, {"HTTP_X_WIDGET_KEY": "nope"})), full, strict=True
    ):
        status, _, content = _call(router, "POST", path, body, **extra)
        assert status == expected.status_code, (status, content)
        assert json.loads(content) == expected.json()
    assert [r.status_code for r in full] == [400, 401]

    environ_extra = {**key, "QUERY_STRING": "x=%00"}
    status, _, content = _call(router, "POST", path, good, **environ_extra)
    assert status == 400
    assert json.loads(content)["errors"] == [
        {"field": "x", "reason": "Must not contain a NUL character."}
    ]
    assert Message.objects.count() == 1
