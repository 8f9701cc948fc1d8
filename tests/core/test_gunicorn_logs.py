"""A real gunicorn started as the console starts it: with LOG_FORMAT=json its
access log is JSON with the app's keys (request id, organisation, user) and the
request's, and its error log is JSON too; without it gunicorn keeps its formats."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, child_env
from tests.waiting import wait_until
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path, Path]]]:
    """start(**env) → (base URL, access log, error log) of a running gunicorn."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> tuple[str, Path, Path]:
        port = _free_port()
        access, errors = tmp_path / f"access-{port}.log", tmp_path / f"error-{port}.log"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn", "trustconsole.wsgi",
                    "--config", "python:trustconsole.gunicorn_conf",
                    "--bind", f"127.0.0.1:{port}", "--workers", "1",
                    "--no-control-socket",
                    "--access-logfile", str(access), "--error-logfile", str(errors),
                ],
                cwd=ROOT, env=child_env(**env),
            )
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return procs[-1].poll() is not None

        wait_until(up, timeout=60, what=f"gunicorn to answer on port {port}")
        assert procs[-1].poll() is None, errors.read_text()
        return base, access, errors

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


def _complete(path: Path) -> list[str]:
    """The lines of `path` written in full so far (a line still being written has
    no newline yet)."""
    text = path.read_text() if path.exists() else ""
    return [li for li in text.split("\n")[:-1] if li.strip()]


def _lines(path: Path, n: int) -> list[dict]:
    def enough() -> list[str]:
        lines = _complete(path)
        return lines if len(lines) >= n else []

    return [json.loads(li) for li in wait_until(enough, what=f"{n} lines in {path}")]


def _line(path: Path, what: str, match: Callable[[dict], bool]) -> dict:
    """The first JSON line of `path` that `match`es, waiting until it is written.

    The readiness probe may have hit /healthz any number of times before the test's
    own requests, so lines are found by what they say, not by their position."""

    def found() -> dict | None:
        lines = (json.loads(li) for li in _complete(path))
        return next((li for li in lines if match(li)), None)

    return wait_until(found, what=f"the access line for {what} in {path}")


def test_the_access_log_is_json_with_the_request_id_organisation_and_user(
    org, gunicorn
) -> None:
    """GIVEN gunicorn started with LOG_FORMAT=json WHEN a health check and an API
    call with a token are answered THEN each access line is one JSON object with
    the request id the response echoed, the token's organisation and name, the
    method, path, status, size and duration."""
    token, secret = token_create(
        actor=Actor.system_for(org, "test"), name="ci", role=Role.VIEWER
    )
    base, access, errors = gunicorn(LOG_FORMAT="json")
    health = httpx.get(f"{base}/healthz?probe=1", headers={"X-Request-ID": "lb-1"})
    me = httpx.get(
        f"{base}/api/v1/me/",
        headers={"Authorization": f"Bearer {secret}", "User-Agent": "probe/1"},
    )
    assert health.headers["X-Request-ID"] == "lb-1" and me.status_code == 200

    first = _line(access, "the probe", lambda li: li.get("query") == "probe=1")
    api = _line(access, "the API call", lambda li: li.get("path") == "/api/v1/me/")
    assert first["logger"] == "gunicorn.access" and first["level"] == "INFO"
    assert first["request_id"] == "lb-1"
    assert (first["method"], first["path"], first["query"], first["status"]) == (
        "GET",
        "/healthz",
        "probe=1",
        200,
    )
    assert first["message"] == "GET /healthz 200"
    assert first["bytes"] == len(health.content) and first["duration_ms"] >= 0
    assert first["time"].endswith("+00:00") and first["remote_addr"] == "127.0.0.1"
    assert "organisation" not in first and "user" not in first

    assert api["request_id"] == me.headers["X-Request-ID"]
    assert api["organisation"] == "alpha"
    assert api["user"] == f"token {token.prefix}"
    assert api["path"] == "/api/v1/me/" and api["user_agent"] == "probe/1"

    # gunicorn's own lines (booting, listening) are JSON too.
    boot = _lines(errors, 1)
    assert any("Listening at" in li["message"] for li in boot)
    assert all(li["logger"] == "gunicorn.error" for li in boot)


def test_without_json_gunicorn_keeps_its_formats(db, gunicorn) -> None:
    base, access, errors = gunicorn()
    httpx.get(f"{base}/healthz?probe=2", headers={"X-Request-ID": "lb-2"})
    last = wait_until(
        lambda: next((li for li in _complete(access) if "probe=2" in li), None),
        what="the health check in the access log",
    )
    assert (
        last.startswith("127.0.0.1 - - [")
        and '"GET /healthz?probe=2 HTTP/1.1" 200' in last
    )
    assert "Listening at" in errors.read_text() and not errors.read_text().startswith(
        "{"
    )
