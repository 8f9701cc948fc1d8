"""The dialer's ordinary outbound check is answered from the WSGI environ
(trustconsole/outpath.py: no Django request or response objects, no request
signals) with exactly what the router's Django path gives it: the same status,
body and headers, the same refusals, log lines and access-log entry, database
connections recycled; everything else is left to the Django path unchanged."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.utils import timezone

from tests.accounts.factories import AccountFactory
from tests.voicegate.policy.conftest import DEST, OWNED
from tests.voicegate.test_hotpath import _call as wsgi_call
from tests.waiting import wait_until
from trustconsole.core.actor import Actor
from trustconsole.core.api.auth import CHECK_SECONDS
from trustconsole.core.models import ApiToken, AuditEntry
from trustconsole.core.services import token_create, token_revoke
from trustconsole.core.tokens import GENERATION_KEY, token_prefix
from trustconsole.hotpath import HotRouter
from trustconsole.lib import logs
from voicegate.policy import services
from voicegate.policy.models import OutboundDenial

pytestmark = pytest.mark.django_db

PATH = "/api/v1/voice/outbound-check"


@pytest.fixture
def tokens(org) -> dict[str, str]:
    actor = Actor.system_for(org, "test")
    revoked, revoked_raw = token_create(actor=actor, name="old", role="operator")
    token_revoke(actor=actor, token=revoked, reason="rotated")
    return {
        "operator": token_create(actor=actor, name="dialer", role="operator")[1],
        "viewer": token_create(actor=actor, name="reader", role="viewer")[1],
        "revoked": revoked_raw,
        "unknown": "tc_" + "x" * 40,
    }


@pytest.fixture
def fallbacks(router: HotRouter) -> list[str]:
    """The requests the plain path handed to the router's Django path."""
    taken: list[str] = []
    django_path = router.plain_outbound.fallback

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        taken.append(environ["PATH_INFO"])
        return django_path(environ, start_response)

    router.plain_outbound.fallback = spy
    return taken


def _body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _check(app: Any, body: bytes, token: str | None, **extra: str):
    """One outbound check through a WSGI app: (status, headers, body)."""
    if token is not None:
        extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    extra.setdefault("HTTP_X_REQUEST_ID", "dialer-1")
    return wsgi_call(app, "POST", PATH, body, **extra)


def _both(router: HotRouter, body: bytes, token: str | None, **extra: str):
    """The plain path's answer (its Content-Length checked and set aside) and
    the router's Django path's answer to the same request."""
    status, headers, content = _check(router, body, token, **extra)
    assert headers.pop("Content-Length") == str(len(content))
    return (status, headers, content), _check(router.short, body, token, **extra)


def test_an_allowed_check_is_answered_as_the_django_path_answers_it(
    router, tokens, account, fallbacks
) -> None:
    """GIVEN an ordinary check of a number the account owns WHEN it reaches the
    WSGI app THEN the plain path answers it, with the status, the body and every
    header (but the added length) of the router's Django path."""
    body = _body(
        **{"from": f" {OWNED} ", "to": DEST, "account": str(account.public_id)}
    )
    plain, django = _both(router, body, tokens["operator"])
    assert fallbacks == []
    assert plain == django
    status, headers, content = plain
    assert status == 200
    answer = json.loads(content)
    assert answer["allowed"] is True and answer["violations"] == []
    assert headers["Content-Type"] == "application/json"
    assert headers["Allow"] == "POST, OPTIONS"
    assert headers["X-Request-ID"] == "dialer-1"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_a_refused_call_is_answered_and_logged_as_on_the_django_path(
    router, tokens, op, fallbacks
) -> None:
    """A destination on the organisation's Do-Not-Call list: the same refusal on
    both paths, each check logged as one denial."""
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    services.caller_id_verify(actor=op, number=OWNED, method="document")
    plain, django = _both(
        router, _body(**{"from": OWNED, "to": DEST}), tokens["operator"]
    )
    assert fallbacks == []
    assert plain == django
    answer = json.loads(plain[2])
    assert plain[0] == 200 and answer["allowed"] is False
    assert [v["code"] for v in answer["violations"]] == ["dnc"]
    assert OutboundDenial.objects.filter(to_number=DEST).count() == 2


def test_the_access_log_and_log_lines_name_the_tokens_organisation(
    router, tokens, org, caplog
) -> None:
    """The access log's entry and the lines logged while the check is answered
    (here django.request's 400) name the request id, the token's organisation
    and the token, on the plain path as on the Django path."""
    seen: list[dict[str, str]] = []

    def app_of(inner: Any) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> Any:
            result = inner(environ, start_response)
            seen.append(environ[logs.ACCESS_KEY])
            return result

        return app

    body = _body(**{"from": "nonsense", "to": DEST})
    with caplog.at_level(logging.WARNING, logger="django.request"):
        for inner in (router, router.short):
            assert _check(app_of(inner), body, tokens["operator"])[0] == 400
    prefix = token_prefix(tokens["operator"])
    expected = {"request_id": "dialer-1", "organisation": org.slug}
    assert seen == [{**expected, "user": f"token {prefix}"}] * 2
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in records] == [f"Bad Request: {PATH}"] * 2
    for record in records:
        assert record.request_id == "dialer-1"  # type: ignore[attr-defined]
        assert record.organisation == org.slug  # type: ignore[attr-defined]
        assert record.user == f"token {prefix}"  # type: ignore[attr-defined]
    assert logs.current_request_id() == ""  # forgotten once answered


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"from": "nonsense", "to": DEST}, "from", 400),
        ({"from": "", "to": DEST}, "from", 400),
        ({"from": OWNED, "to": "12"}, "to", 400),
        ({"from": OWNED, "to": DEST, "region": "ZZ"}, "region", 400),
        ({"from": OWNED, "to": DEST, "account": "not-an-id"}, None, 404),
    ],
)
def test_bad_numbers_and_unknown_accounts_get_the_apis_4xx_on_the_plain_path(
    router, tokens, fallbacks, fields, field, status
) -> None:
    """GIVEN a check the service refuses WHEN it takes the plain path THEN the
    answer is the API's error (field + reason), as on the Django path, and
    nothing is stored or audited."""
    audit = AuditEntry.objects.count()
    plain, django = _both(router, _body(**fields), tokens["operator"])
    assert fallbacks == []
    assert plain == django
    code, headers, content = plain
    assert code == status
    error = json.loads(content)["errors"][0]
    assert error["field"] == field and error["reason"]
    assert headers["Content-Type"] == "application/json"
    assert not OutboundDenial.objects.exists()
    assert AuditEntry.objects.count() == audit


def test_another_organisations_account_is_a_404_on_the_plain_path(
    router, tokens, other_org, fallbacks
) -> None:
    outsider = AccountFactory(organisation=other_org)
    body = _body(**{"from": OWNED, "to": DEST, "account": str(outsider.public_id)})
    plain, django = _both(router, body, tokens["operator"])
    assert fallbacks == []
    assert plain == django
    assert plain[0] == 404


CHECK = _body(**{"from": OWNED, "to": DEST})

# Requests the plain path leaves to the Django path: (name, body, token, environ,
# the answer's status).
LEFT_TO_DJANGO = [
    ("a query string", CHECK, "operator", {"QUERY_STRING": "x=1"}, 200),
    ("a NUL in the query string", CHECK, "operator", {"QUERY_STRING": "x=%00"}, 400),
    ("a script prefix", CHECK, "operator", {"SCRIPT_NAME": "/console"}, 200),
    ("HTML only", CHECK, "operator", {"HTTP_ACCEPT": "text/html"}, 406),
    ("an indent asked for", CHECK, "operator",
     {"HTTP_ACCEPT": "application/json; indent=4"}, 200),
    ("JSON with a charset", CHECK, "operator",
     {"CONTENT_TYPE": "application/json; charset=utf-8"}, 200),
    ("a form", b"from=%2B14155550100&to=%2B14155550199", "operator",
     {"CONTENT_TYPE": "application/x-www-form-urlencoded"}, 200),
    ("not JSON", b'{"from": "+14155550100", "to":', "operator", {}, 400),
    ("an empty body", b"", "operator", {}, 400),
    ("a list", b"[]", "operator", {}, 400),
    ("to a number", _body(**{"from": OWNED, "to": 14155550199}), "operator", {}, 200),
    ("NUL in from", _body(**{"from": OWNED + "\x00", "to": DEST}), "operator", {},
     400),
    ("region too long", _body(**{"from": OWNED, "to": DEST, "region": "USA"}),
     "operator", {}, 400),
    ("no credentials", CHECK, None, {}, 401),
    ("another scheme", CHECK, "operator", {"HTTP_AUTHORIZATION": "Token abc"}, 401),
    ("an unknown token", CHECK, "unknown", {}, 401),
    ("a revoked token", CHECK, "revoked", {}, 401),
    ("a viewer's token", CHECK, "viewer", {}, 403),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "who", "extra", "status"),
    [case[1:] for case in LEFT_TO_DJANGO],
    ids=[case[0] for case in LEFT_TO_DJANGO],
)
def test_what_the_plain_path_cannot_vouch_for_goes_to_the_django_path(
    router, tokens, fallbacks, body, who, extra, status
) -> None:
    """GIVEN a request the plain path does not take WHEN it reaches the WSGI app
    THEN the router's Django path answers it (the body handed over as read),
    with the answer it gives on its own; refusals in the field + reason shape
    store nothing."""
    token = tokens[who] if who else None
    answer = _check(router, body, token, **extra)
    assert fallbacks == [PATH]
    assert answer == _check(router.short, body, token, **extra)
    code, headers, content = answer
    assert code == status, content
    assert headers["X-Request-ID"] == "dialer-1"
    if extra.get("HTTP_ACCEPT", "").endswith("indent=4"):
        assert content.startswith(b'{\n    "allowed": ')
    if status >= 400 and status != 406:
        assert all(e["reason"] for e in json.loads(content)["errors"])
        assert not OutboundDenial.objects.exists()


def test_an_oversized_body_is_the_django_paths_413(
    router, tokens, fallbacks, settings
) -> None:
    settings.API_JSON_MAX_BYTES = 2048
    body = _body(**{"from": OWNED, "to": DEST, "pad": "x" * 4096})
    status, _, content = _check(router, body, tokens["operator"])
    assert fallbacks == [PATH]
    assert status == 413
    assert json.loads(content)["detail"] == (
        "The body is larger than the 2,048 bytes accepted."
    )


def test_a_bad_host_is_refused_and_logged_as_django_does(
    router, tokens, fallbacks, caplog
) -> None:
    """A Host that is not allowed: Django's own 400 and its DisallowedHost line,
    from the Django path."""
    with caplog.at_level(logging.ERROR, logger="django.security.DisallowedHost"):
        status, _, _ = _check(
            router, CHECK, tokens["operator"], HTTP_HOST="evil.example"
        )
    assert status == 400
    assert fallbacks == [PATH]
    assert any("evil.example" in r.getMessage() for r in caplog.records)
    # The verdict kept for the allowed host does not let the bad one through.
    assert _check(router, CHECK, tokens["operator"])[0] == 200
    assert _check(router, CHECK, tokens["operator"], HTTP_HOST="evil.example")[0] == 400


def test_a_token_revoked_here_is_refused_at_once(router, org, tokens) -> None:
    actor = Actor.system_for(org, "test")
    token, raw = token_create(actor=actor, name="dialer 2", role="operator")
    assert _check(router, CHECK, raw)[0] == 200  # cached in this process now
    token_revoke(actor=actor, token=token, reason="leaked")
    status, _, content = _check(router, CHECK, raw)
    assert status == 401
    assert json.loads(content)["detail"] == "Invalid or revoked API token."


def test_a_token_revoked_elsewhere_is_refused_within_the_revocation_window(
    router, tokens, fallbacks
) -> None:
    """GIVEN a token this process has cached WHEN another process revokes it
    (the row changes, the shared generation moves; this process is not told)
    THEN within the cache's revocation window (CHECK_SECONDS) the plain path
    stops taking it and the check is refused with the API's 401."""
    raw = tokens["operator"]
    assert _check(router, CHECK, raw)[0] == 200
    assert fallbacks == []
    ApiToken.objects.filter(prefix=token_prefix(raw)).update(revoked_at=timezone.now())
    cache.set(GENERATION_KEY, "moved by another process", None)
    revoked_at = time.monotonic()
    wait_until(
        lambda: _check(router, CHECK, raw)[0] == 401,
        timeout=CHECK_SECONDS + 1,
        interval=0.05,
        what="the revoked token refused",
    )
    assert time.monotonic() - revoked_at <= CHECK_SECONDS + 1
    assert fallbacks[-1] == PATH


def test_an_exception_is_django_s_500_logged_with_its_traceback(
    router, tokens, caplog, monkeypatch
) -> None:
    """GIVEN a fault inside the check WHEN a dialer asks THEN it gets Django's
    500 (with the request id and the headers of the Django path) and
    django.request logs "Internal Server Error: <path>" with the traceback and
    the request id, as on the Django path."""

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the check broke")

    monkeypatch.setattr(services, "outbound_check", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        plain, django = _both(router, CHECK, tokens["operator"])
    assert plain == django
    assert plain[0] == 500
    assert plain[1]["X-Request-ID"] == "dialer-1"
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 2  # once per path
    for record in records:
        assert record.getMessage() == f"Internal Server Error: {PATH}"
        assert record.exc_info is not None
        assert str(record.exc_info[1]) == "the check broke"
        assert record.request_id == "dialer-1"  # type: ignore[attr-defined]


def _refusing_router(op: Actor) -> HotRouter:
    """A router with connection recycling on, and a DNC'd destination: every
    check of it writes its denial row (a database connection is used)."""
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    connection.close()  # the next one is opened with the max age set by the test
    return HotRouter(WSGIHandler())


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_its_max_age_is_recycled(op, tokens, monkeypatch) -> None:
    """GIVEN the database connection a plain check used WHEN it outlives
    CONN_MAX_AGE THEN the next check closes it before it is used again, and a
    fresh one stores that check's denial."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    router = _refusing_router(op)
    assert _check(router, CHECK, tokens["operator"])[0] == 200
    first = connection.connection
    assert first is not None  # kept: younger than its max age
    connection.close_at = time.monotonic() - 1  # its CONN_MAX_AGE ran out

    assert _check(router, CHECK, tokens["operator"])[0] == 200
    assert connection.connection is not first
    assert OutboundDenial.objects.filter(to_number=DEST).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_broken_connection_is_dropped_not_used(op, tokens, monkeypatch) -> None:
    """GIVEN the database connection a plain check used failed (its errors
    noted), or was left out of autocommit, WHEN the next check comes THEN that
    connection is closed and the denial is stored on a fresh one."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    router = _refusing_router(op)
    assert _check(router, CHECK, tokens["operator"])[0] == 200
    first = connection.connection
    assert first is not None
    if connection.vendor == "sqlite":
        # SQLite connections do not break; one left out of autocommit (a request
        # that died inside a transaction) is as unsafe to use again.
        connection.set_autocommit(False)
    else:
        first.close()  # the server went away under it
        connection.errors_occurred = True  # as Django notes a failed statement

    assert _check(router, CHECK, tokens["operator"])[0] == 200
    assert connection.connection is not first
    assert OutboundDenial.objects.filter(to_number=DEST).count() == 2
