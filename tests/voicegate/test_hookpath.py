"""Telnyx Call Control webhooks are answered from the WSGI environ (no Django
request or response objects, no request signals) with what the Django path gives
the caller and the operators: the request id, the security headers, host checks,
body limits, error logging and recycled database connections."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from tests.voicegate.conftest import (
    BLACKLISTED_CALLER,
    call_initiated,
    hook_path,
    logged,
)
from tests.voicegate.test_hotpath import _call as wsgi_call
from trustconsole.core.actor import Actor
from trustconsole.hotpath import HotRouter
from trustconsole.lib import logs
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate import webhooks

pytestmark = pytest.mark.django_db

BLOCKED = BLACKLISTED_CALLER  # blacklisted by the `hook` fixture
CALLER = "+12025550142"


def _signed(signer: Any, caller: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(call_initiated(caller)).encode()
    return body, signer.headers(body)


def test_the_answer_and_headers_are_those_of_the_django_path(
    router, hook, telnyx_signer, telnyx_api
) -> None:
    """GIVEN an allowed caller WHEN the webhook takes the plain path THEN the body,
    the status and every header but the length are those the router's Django path
    (request id and security middlewares) gives the same webhook."""
    answers = []
    for app in (router, router.short):
        body, headers = _signed(telnyx_signer, CALLER)
        answers.append(
            wsgi_call(
                app, "POST", hook_path(hook), body, HTTP_X_REQUEST_ID="rq-1", **headers
            )  # fmt: skip
        )
    (status, plain, content), (django_status, full, django_content) = answers
    assert status == django_status == 200
    assert json.loads(content) == json.loads(django_content)
    assert json.loads(content) == {"decision": "allow", "reason": "not_listed"}
    assert plain.pop("Content-Length") == str(len(content))
    assert plain == full
    assert plain["X-Request-ID"] == "rq-1"
    assert plain["X-Content-Type-Options"] == "nosniff"
    assert plain["Referrer-Policy"] == "same-origin"
    assert len(logged()) == 2


def test_the_request_id_names_log_lines_and_the_access_log(
    router, hook, telnyx_signer, telnyx_api, caplog
) -> None:
    """A refused signature is logged with the request's id (the caller's, or a
    new one when it is not a sane token); the id is echoed and handed to the
    access log through the environ."""
    body, headers = _signed(telnyx_signer, CALLER)
    forged = telnyx_signer.headers(body + b" ")
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen["environ"] = environ
        return router(environ, start_response)

    with caplog.at_level(logging.WARNING):
        status, out, _ = wsgi_call(
            app, "POST", hook_path(hook), body, HTTP_X_REQUEST_ID="lb-7", **forged
        )
    assert status == 403
    assert out["X-Request-ID"] == "lb-7"
    refused = [r for r in caplog.records if "voice webhook refused" in r.getMessage()]
    assert [r.request_id for r in refused] == ["lb-7"]  # type: ignore[attr-defined]
    logged_4xx = [r for r in caplog.records if r.name == "django.request"]
    assert logged_4xx[0].getMessage() == f"Forbidden: {hook_path(hook)}"
    assert seen["environ"][logs.ACCESS_KEY]["request_id"] == "lb-7"
    assert logs.current_request_id() == ""  # forgotten once answered

    status, out, _ = wsgi_call(
        router, "POST", hook_path(hook), body, HTTP_X_REQUEST_ID="bad id!", **headers
    )
    assert status == 200
    assert len(out["X-Request-ID"]) == 32 and out["X-Request-ID"] != "bad id!"


def test_a_bad_host_is_refused_before_anything_is_decided(
    router, hook, telnyx_signer, caplog
) -> None:
    body, headers = _signed(telnyx_signer, BLOCKED)
    with caplog.at_level(logging.ERROR, logger="django.security.DisallowedHost"):
        status, _, _ = wsgi_call(
            router, "POST", hook_path(hook), body, HTTP_HOST="evil.example", **headers
        )
    assert status == 400
    assert any("evil.example" in r.getMessage() for r in caplog.records)
    assert not logged().exists()


def test_an_oversized_body_is_a_413_in_the_console_shape(
    router, hook, telnyx_signer, settings
) -> None:
    settings.API_JSON_MAX_BYTES = 2048
    body = json.dumps({**call_initiated(BLOCKED), "pad": "x" * 4096}).encode()
    status, headers, content = wsgi_call(
        router, "POST", hook_path(hook), body, **telnyx_signer.headers(body)
    )
    assert status == 413
    answer = json.loads(content)
    assert answer["detail"] == "The body is larger than the 2,048 bytes accepted."
    assert "X-Request-ID" in headers
    assert not logged().exists()


def test_a_query_string_gets_the_guards_answer(router, hook, telnyx_signer) -> None:
    body, headers = _signed(telnyx_signer, BLOCKED)
    status, _, content = wsgi_call(
        router, "POST", hook_path(hook), body, QUERY_STRING="x=%00", **headers
    )
    assert status == 400
    assert json.loads(content)["errors"] == [
        {"field": "x", "reason": "Must not contain a NUL character."}
    ]
    assert not logged().exists()


def test_an_exception_is_a_500_logged_with_its_traceback(
    router, hook, telnyx_signer, caplog, monkeypatch
) -> None:
    """GIVEN a fault inside the gate WHEN a webhook hits it THEN the provider
    gets Django's 500 (at once, with the request id) and django.request logs
    "Internal Server Error: <path>" with the traceback, as on the Django path."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the gate broke")

    monkeypatch.setattr(webhooks, "_decide", broken)
    body, headers = _signed(telnyx_signer, CALLER)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        status, out, _ = wsgi_call(
            router, "POST", hook_path(hook), body, HTTP_X_REQUEST_ID="boom-1",
            **headers,
        )  # fmt: skip
    assert status == 500
    assert out["X-Request-ID"] == "boom-1"
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == f"Internal Server Error: {hook_path(hook)}"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "the gate broke"
    assert record.request_id == "boom-1"  # type: ignore[attr-defined]


def _blacklisted_caller_hook(org, make_connection, telnyx_signer, monkeypatch):
    """A connection whose organisation blacklisted BLOCKED (a rejection writes its
    row), the database connection closed: the next one opens with a 60 s max age."""
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Spammer", phones=[BLOCKED])
    visitor_blacklist(actor=actor, visitor=visitor, reason="spam calls")
    hook = make_connection(org, secret=telnyx_signer.public_b64)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    return hook


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_its_max_age_is_recycled(
    org, telnyx_signer, make_connection, telnyx_api, monkeypatch
) -> None:
    """GIVEN a database connection opened by a webhook (a rejection writes its row)
    WHEN it outlives CONN_MAX_AGE THEN the next webhook closes it before it is
    used again, and a fresh one stores that call."""
    hook = _blacklisted_caller_hook(org, make_connection, telnyx_signer, monkeypatch)
    router = HotRouter(WSGIHandler())
    body, headers = _signed(telnyx_signer, BLOCKED)
    assert wsgi_call(router, "POST", hook_path(hook), body, **headers)[0] == 200
    first = connection.connection
    assert first is not None  # kept: younger than its max age
    connection.close_at = time.monotonic() - 1  # its CONN_MAX_AGE ran out

    body, headers = _signed(telnyx_signer, BLOCKED)
    assert wsgi_call(router, "POST", hook_path(hook), body, **headers)[0] == 200
    assert connection.connection is not first
    assert logged().filter(caller_e164=BLOCKED).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_broken_connection_is_dropped_not_used(
    org, telnyx_signer, make_connection, telnyx_api, monkeypatch
) -> None:
    """GIVEN the database connection a webhook used failed (its errors noted),
    or was left out of autocommit, WHEN the next webhook comes THEN that
    connection is closed and the call is stored on a fresh one."""
    hook = _blacklisted_caller_hook(org, make_connection, telnyx_signer, monkeypatch)
    router = HotRouter(WSGIHandler())
    body, headers = _signed(telnyx_signer, BLOCKED)
    assert wsgi_call(router, "POST", hook_path(hook), body, **headers)[0] == 200
    first = connection.connection
    assert first is not None
    if connection.vendor == "sqlite":
        # SQLite connections do not break; one left out of autocommit (a request
        # that died inside a transaction) is as unsafe to use again.
        connection.set_autocommit(False)
    else:
        first.close()  # the server went away under it
        connection.errors_occurred = True  # as Django notes a failed statement

    body, headers = _signed(telnyx_signer, BLOCKED)
    assert wsgi_call(router, "POST", hook_path(hook), body, **headers)[0] == 200
    assert connection.connection is not first
    assert logged().filter(caller_e164=BLOCKED).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_rejection_on_a_busy_connection_is_its_one_statement(
    org, telnyx_signer, make_connection, telnyx_api, monkeypatch
) -> None:
    """GIVEN a blacklisted caller and a database connection the plain path used a
    moment ago WHEN the caller calls again THEN the rejection costs its two
    statements (its claim, then the command's outcome; the tests send commands in
    the request) and no `SELECT 1` health check first; once the connection sat
    idle longer than HEALTH_CHECK_IDLE_SECONDS the check is sent again."""
    from tests.pgtrace import round_trips
    from trustconsole.lib import dbhealth
    from voicegate.sender import sender

    hook = _blacklisted_caller_hook(org, make_connection, telnyx_signer, monkeypatch)
    router = HotRouter(WSGIHandler())

    def call() -> None:
        body, headers = _signed(telnyx_signer, BLOCKED)
        assert wsgi_call(router, "POST", hook_path(hook), body, **headers)[0] == 200
        assert sender.drain()

    call()
    if connection.vendor != "postgresql":  # no health checks on SQLite
        assert not connection.health_check_enabled
        call()
        assert logged().filter(caller_e164=BLOCKED).count() == 2
        return
    with round_trips() as busy:
        call()
    sent = [s.strip().strip('"') for s in busy.statements]
    assert busy.round_trips == 2
    assert sent[0].startswith("WITH d AS (INSERT")  # the claim: decision + item
    assert sent[1].startswith("WITH i AS (UPDATE")  # delivered, on its decision

    monkeypatch.setattr(dbhealth, "HEALTH_CHECK_IDLE_SECONDS", 0.0)
    time.sleep(0.01)
    with round_trips() as idle:
        call()
    assert idle.round_trips == 3
    assert idle.statements[0].strip().strip('"') == "SELECT 1"
    assert logged().filter(caller_e164=BLOCKED).count() == 3
    # Every reject command was sent, and recorded on its call.
    assert len(telnyx_api.requests) == 3
    assert set(
        logged().filter(caller_e164=BLOCKED).values_list("command_status", flat=True)
    ) == {"sent"}
