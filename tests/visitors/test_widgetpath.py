"""Chat widget messages are answered from the WSGI environ (no Django request or
response objects, no request signals) with exactly what the Django path gives
the widget and the operators: status, body, every header (plus the length), the
4xx shapes, the request id, error logging, recycled database connections; and
anything the plain path cannot vouch for is left to the Django path."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, connections

from tests.pgtrace import round_trips
from tests.voicegate.test_hotpath import _call as wsgi_call
from trustconsole.core.actor import Actor
from trustconsole.hotpath import HotRouter
from trustconsole.lib import dbhealth, logs
from visitors import gate, services
from visitors.models import BlockedAttempt, Message, Visitor, VisitorIdentifier

pytestmark = pytest.mark.django_db

URL = "/widget/v1/messages"


def _message(widget: Any, app: Any, body: Any = None, **environ: str) -> Any:
    """One widget message through `app`: (status, headers, content)."""
    if body is None:
        body = {"visitor_id": "w-1", "body": "Where is my order?"}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return wsgi_call(
        app, "POST", URL, raw, HTTP_X_WIDGET_KEY=widget.key,
        REMOTE_ADDR="192.0.2.10", **environ,
    )  # fmt: skip


def _both(widget: Any, router: HotRouter, body: Any = None, **environ: str) -> Any:
    """The same message by the plain path (the router) and by the Django path
    (`router.short`), each with its own request id."""
    plain = _message(widget, router, body, HTTP_X_REQUEST_ID="rq-plain", **environ)
    full = _message(widget, router.short, body, HTTP_X_REQUEST_ID="rq-full", **environ)
    return plain, full


def _same_answers(plain: Any, full: Any, *, ids: bool = False) -> dict[str, Any]:
    """Assert the plain answer is the Django path's: status, every header (the
    request ids as sent, plus the plain path's Content-Length) and the body's
    bytes (with `ids`, the 202's two fresh ids each in their place)."""
    (status, headers, content), (full_status, full_headers, full_content) = plain, full
    assert status == full_status
    assert headers.pop("Content-Length") == str(len(content))
    assert headers.pop("X-Request-ID") == "rq-plain"
    assert full_headers.pop("X-Request-ID") == "rq-full"
    assert headers == full_headers
    answer: dict[str, Any] = json.loads(content) if content else {}
    if ids:
        full_answer = json.loads(full_content)
        for name in ("conversation_id", "message_id"):
            assert content.count(answer[name].encode()) == 1
            content = content.replace(answer[name].encode(), b"<id>")
            full_content = full_content.replace(full_answer[name].encode(), b"<id>")
    assert content == full_content
    return answer


def test_an_allowed_message_is_answered_and_stored_as_by_the_django_path(
    widget, router
) -> None:
    """GIVEN a known widget WHEN a visitor's message takes the plain path THEN it
    is stored in a conversation and the widget gets the Django path's 202: the
    same bytes (ids aside), the CORS headers, the Allow header, the security
    headers, the request id echoed."""
    plain, full = _both(widget, router)
    answer = _same_answers(plain, full, ids=True)
    assert answer["status"] == "accepted"
    assert plain[0] == 202
    headers = plain[1]
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Headers"] == "Content-Type, X-Widget-Key"
    assert headers["Allow"] == "POST, OPTIONS"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    stored = Message.objects.get(public_id=answer["message_id"])
    assert stored.body == "Where is my order?"
    assert str(stored.conversation.public_id) == answer["conversation_id"]
    assert Message.objects.filter(conversation__visitor=stored.conversation.visitor)
    assert Message.objects.count() == 2  # one per path, one visitor


def test_a_blacklisted_visitors_message_is_blocked_silently_as_on_the_django_path(
    widget, router, org
) -> None:
    actor = Actor.system_for(org, "test")
    visitor = services.visitor_upsert(actor=actor, name="Spammer", widget_ids=["w-1"])
    services.visitor_blacklist(actor=actor, visitor=visitor, reason="spam")
    plain, full = _both(widget, router)
    assert _same_answers(plain, full, ids=True)["status"] == "accepted"
    assert plain[0] == 202
    assert not Message.objects.exists()
    assert BlockedAttempt.objects.filter(visitor=visitor, channel="chat").count() == 2
    visitor.refresh_from_db()
    assert visitor.blocked_attempts == 2


def test_a_bad_email_is_the_same_400_naming_the_field(widget, router) -> None:
    body = {"visitor_id": "w-1", "body": "Hi", "email": "not an email"}
    plain, full = _both(widget, router, body)
    answer = _same_answers(plain, full)
    assert plain[0] == 400
    assert [e["field"] for e in answer["errors"]] == ["email"]
    assert plain[1]["Access-Control-Allow-Origin"] == "*"
    assert not Message.objects.exists()


def test_too_many_messages_get_the_same_429_with_retry_after(
    widget, router, settings
) -> None:
    settings.VISITORS_WIDGET_RATE_PER_IP = (1, 60)
    assert _message(widget, router)[0] == 202
    plain, full = _both(widget, router)
    assert plain[0] == full[0] == 429
    assert plain[1]["Retry-After"] and full[1]["Retry-After"]
    plain[1].pop("Retry-After"), full[1].pop("Retry-After")  # seconds left differ
    answer = _same_answers(plain, full)
    assert answer["detail"].startswith("Request was throttled.")
    assert Message.objects.count() == 1


def test_the_request_id_names_log_lines_and_the_access_log(
    widget, router, caplog, settings
) -> None:
    """A 4xx is logged by django.request with the request's id; the id is handed
    to the access log through the environ and forgotten once answered."""
    settings.VISITORS_WIDGET_RATE_PER_IP = (1, 60)
    assert _message(widget, router)[0] == 202
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen["environ"] = environ
        return router(environ, start_response)

    with caplog.at_level(logging.WARNING, logger="django.request"):
        status, headers, _ = _message(widget, app, HTTP_X_REQUEST_ID="lb-7")
    assert status == 429
    assert headers["X-Request-ID"] == "lb-7"
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == f"Too Many Requests: {URL}"
    assert record.request_id == "lb-7"  # type: ignore[attr-defined]
    assert seen["environ"][logs.ACCESS_KEY] == {
        "request_id": "lb-7",
        "organisation": "",
        "user": "",
    }
    assert logs.current_request_id() == ""


@pytest.fixture
def to_django(router: HotRouter, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the plain path handed to the Django path."""
    handed: list[str] = []
    django_path = router.plain_widget.fallback

    def fallback(environ: dict[str, Any], start_response: Any) -> Any:
        handed.append(environ["PATH_INFO"])
        return django_path(environ, start_response)

    monkeypatch.setattr(router.plain_widget, "fallback", fallback)
    return handed


def test_an_unknown_widget_key_is_the_drf_views_401(widget, router, to_django) -> None:
    status, headers, content = wsgi_call(
        router, "POST", URL, b'{"visitor_id": "w-1", "body": "Hi"}',
        HTTP_X_WIDGET_KEY="nope",
    )  # fmt: skip
    assert status == 401
    assert headers["WWW-Authenticate"] == "X-Widget-Key"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert json.loads(content)["detail"] == "Unknown or inactive widget key."
    assert to_django == [URL]


def test_a_body_the_serializer_must_judge_is_read_again_by_the_drf_view(
    widget, router, to_django
) -> None:
    """GIVEN a body the short path leaves to WidgetMessageInput (its text too
    long) WHEN it reaches the plain path THEN the DRF view reads the same body
    and refuses it with its 400 naming the field."""
    body = {"visitor_id": "w-1", "body": "x" * 5001}
    status, headers, content = _message(widget, router, body)
    assert status == 400
    assert [e["field"] for e in json.loads(content)["errors"]] == ["body"]
    assert "Content-Length" not in headers  # the Django path's answer
    assert to_django == [URL]
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"QUERY_STRING": "x=%00"}, 400),  # the query-string guard answers
        ({"HTTP_HOST": "evil.example"}, 400),  # DisallowedHost
        ({"HTTP_ACCEPT": "application/json; q=1"}, 202),  # negotiated by DRF
        ({"CONTENT_TYPE": "text/plain"}, 415),
    ],
)
def test_anything_unusual_takes_the_django_path(
    widget, router, to_django, environ, expected
) -> None:
    status, _, _ = _message(widget, router, **environ)
    assert status == expected
    assert to_django == [URL]
    assert Message.objects.count() == (1 if expected == 202 else 0)


def test_an_oversized_body_is_the_413_in_the_console_shape(
    widget, router, to_django, settings
) -> None:
    settings.API_JSON_MAX_BYTES = 2048
    status, _, content = _message(
        widget, router, {"visitor_id": "w-1", "body": "x" * 4096}
    )
    assert status == 413
    assert json.loads(content)["detail"] == (
        "The body is larger than the 2,048 bytes accepted."
    )
    assert to_django == [URL]


def test_an_exception_is_a_500_logged_with_its_traceback(
    widget, router, caplog, monkeypatch
) -> None:
    """GIVEN a fault inside the gate WHEN a message hits it THEN the widget gets
    Django's 500 (with the request id) and django.request logs "Internal Server
    Error: <path>" with the traceback, as on the Django path."""

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the gate broke")

    monkeypatch.setattr(gate, "widget_message_receive", broken)
    answers = []
    for app, request_id in ((router, "boom-1"), (router.short, "boom-2")):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="django.request"):
            answers.append(_message(widget, app, HTTP_X_REQUEST_ID=request_id))
        (record,) = [r for r in caplog.records if r.name == "django.request"]
        assert record.getMessage() == f"Internal Server Error: {URL}"
        assert record.exc_info is not None
        assert str(record.exc_info[1]) == "the gate broke"
        assert record.request_id == request_id  # type: ignore[attr-defined]
    (status, headers, content), (full_status, full_headers, full_content) = answers
    assert status == full_status == 500
    assert headers.pop("X-Request-ID") == "boom-1"
    assert full_headers.pop("X-Request-ID") == "boom-2"
    assert headers.pop("Content-Length") == str(len(content))
    assert headers == full_headers
    assert content == full_content


def _stored(visitor_id: str) -> int:
    return Message.objects.filter(
        conversation__visitor__identifiers__kind="widget",
        conversation__visitor__identifiers__value=visitor_id,
    ).count()


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_its_max_age_is_recycled(widget, monkeypatch) -> None:
    """GIVEN a database connection opened by a message WHEN it outlives
    CONN_MAX_AGE THEN the next message closes it before it is used again, and a
    fresh one stores that message."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()  # the next one is opened with a max age of 60 s
    router = HotRouter(WSGIHandler())
    assert _message(widget, router)[0] == 202
    first = connection.connection
    assert first is not None  # kept: younger than its max age
    connection.close_at = time.monotonic() - 1  # its CONN_MAX_AGE ran out

    assert _message(widget, router)[0] == 202
    assert connection.connection is not first
    assert _stored("w-1") == 2


@pytest.mark.django_db(transaction=True)
def test_a_broken_connection_is_dropped_not_used(widget, monkeypatch) -> None:
    """GIVEN the database connection a message used failed (its errors noted),
    or was left out of autocommit, WHEN the next message comes THEN that
    connection is closed and the message is stored on a fresh one."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    router = HotRouter(WSGIHandler())
    assert _message(widget, router)[0] == 202
    first = connection.connection
    assert first is not None
    if connection.vendor == "sqlite":
        connection.set_autocommit(False)  # a request that died in a transaction
    else:
        first.close()  # the server went away under it
        connection.errors_occurred = True  # as Django notes a failed statement

    assert _message(widget, router)[0] == 202
    assert connection.connection is not first
    assert _stored("w-1") == 2


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _sql(sent: str) -> str:
    """A statement as the protocol trace shows it, unquoted."""
    return sent.strip().strip('"')


@pytest.mark.django_db(transaction=True)
def test_a_busy_connection_skips_the_health_checks_round_trip(
    widget, monkeypatch
) -> None:
    """GIVEN a known visitor and a connection the plain path used a moment ago
    WHEN the visitor writes again THEN the message costs its one statement: no
    `SELECT 1` health check (the Django path sends one, a second round trip);
    once the connection sat idle longer than HEALTH_CHECK_IDLE_SECONDS the
    check is sent again."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    router = HotRouter(WSGIHandler())
    assert _message(widget, router)[0] == 202  # the visitor is created
    if not _pg():  # no health checks on SQLite (nothing to check over a network)
        assert not connection.health_check_enabled
        assert _message(widget, router)[0] == 202
        assert _stored("w-1") == 2
        return
    with round_trips() as plain:
        assert _message(widget, router)[0] == 202
    assert plain.round_trips == 1
    assert "SELECT 1" not in [_sql(s) for s in plain.statements]

    with round_trips() as full:
        assert _message(widget, router.short)[0] == 202
    assert full.round_trips == 2
    assert _sql(full.statements[0]) == "SELECT 1"

    monkeypatch.setattr(dbhealth, "HEALTH_CHECK_IDLE_SECONDS", 0.0)
    time.sleep(0.01)
    with round_trips() as idle:
        assert _message(widget, router)[0] == 202
    assert idle.round_trips == 2
    assert _sql(idle.statements[0]) == "SELECT 1"
    assert _stored("w-1") == 4


@pytest.mark.django_db(transaction=True)
def test_a_session_the_server_ended_is_replaced_before_the_message(
    widget, monkeypatch
) -> None:
    """GIVEN the database server ended the session of a connection the plain path
    used a moment ago (a restart, an administrator, an idle timeout) WHEN the
    next message comes THEN the health check is sent, fails, and the message is
    stored on a fresh connection: the widget gets its 202, not a 500."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    router = HotRouter(WSGIHandler())
    assert _message(widget, router)[0] == 202
    first = connection.connection
    assert first is not None
    if _pg():
        admin = connections.create_connection("default")
        try:
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(%s, 5000)", [first.info.backend_pid]
                )
                assert cursor.fetchone() == (True,)
        finally:
            admin.close()
    else:
        connection.close()  # SQLite: nothing ends a session but the process

    status, _, content = _message(widget, router)
    assert status == 202
    assert connection.connection is not first
    assert Message.objects.filter(public_id=json.loads(content)["message_id"]).exists()
    assert _stored("w-1") == 2
    assert Visitor.objects.count() == 1
    assert VisitorIdentifier.objects.filter(kind="widget", value="w-1").count() == 1
