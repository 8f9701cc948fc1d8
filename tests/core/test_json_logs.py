"""LOG_FORMAT=json: one JSON object a line, with the request id (echoed in the
response), organisation and user."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.test import Client

from tests.conftest import PASSWORD, ROOT, child_env
from trustconsole.lib.logs import ContextFilter, JsonFormatter


class Lines(logging.Handler):
    """Formats what it receives as the console handler would with LOG_FORMAT=json."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[list[dict]]:
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


def test_a_valid_request_id_is_kept_and_echoed(client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42:x_y")
    assert response["X-Request-ID"] == "lb-7f3a.42:x_y"


@pytest.mark.parametrize(
    "given", ["", "has spaces", "x" * 129, "semi;colon", "new\\nline", "ünï"]
)
def test_an_unusable_request_id_is_replaced(client, given: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)
    echoed = response["X-Request-ID"]
    assert echoed != given and len(echoed) == 32 and int(echoed, 16) >= 0


def test_log_lines_of_a_request_carry_its_id_organisation_and_user(
    org, alice, lines
) -> None:
    """GIVEN a logged-in member WHEN a request of theirs is logged (a 404, logged
    by Django after the view) THEN the JSON line names request, org and user."""
    client = Client()
    assert client.login(username=alice.username, password=PASSWORD)
    response = client.get("/visitors/not-a-visitor/", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-123"
    [line] = [li for li in lines if li["logger"] == "django.request"]
    assert line["level"] == "WARNING"
    assert line["message"].startswith("Not Found: /visitors/not-a-visitor/")
    assert line["request_id"] == "req-123"
    assert line["organisation"] == "alpha" and line["user"] == "alice@alpha.test"
    assert line["time"].endswith("+00:00")

    # After the request nothing of it sticks to unrelated lines.
    logging.getLogger("tests.after").warning("between requests")
    after = lines[-1]
    assert after["message"] == "between requests"
    assert not {"request_id", "organisation", "user"} & set(after)


def test_an_api_token_names_itself_and_exceptions_are_kept(
    org, api_client_for, lines
) -> None:
    client = api_client_for(org, "viewer")
    client.credentials(**client._credentials, HTTP_X_REQUEST_ID="api-1")
    response = client.post("/api/v1/voice/decide", {}, format="json")
    assert response.status_code == 403 and response["X-Request-ID"] == "api-1"
    [line] = [li for li in lines if li["logger"] == "django.request"]
    assert line["request_id"] == "api-1" and line["user"].startswith("token ")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tests.exc").exception("failed")
    assert "ValueError: boom" in lines[-1]["exc_info"]


def test_log_format_json_switches_the_console_handler() -> None:
    script = "import logging; logging.getLogger('tests.child').warning('hello %s', 1)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=child_env(LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = [
        json.loads(li) for li in result.stderr.splitlines() if "tests.child" in li
    ]
    assert line["message"] == "hello 1" and line["level"] == "WARNING"
    assert set(line) == {"time", "level", "logger", "message"}

    bad = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=child_env(LOG_FORMAT="yaml"),
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "LOG_FORMAT must be text or json" in bad.stderr
