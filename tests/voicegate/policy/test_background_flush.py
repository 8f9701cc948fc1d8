"""A serving process writes its buffered rows from a background thread
(`trustconsole/lib/flusher.py`): the outbound check log, the rules' hit counts and
the rule match log reach the database without any further request and without a
request paying for the write; a database that is down keeps them for later; a
process that ends writes what it still holds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT, child_env
from tests.core.test_runconsole import free_port
from tests.rules.factories import make_rule
from tests.voicegate.policy.conftest import DEST, OWNED
from tests.voicegate.test_gate import _break_database
from tests.voicegate.test_hotpath import _call as wsgi_call
from tests.waiting import wait_until
from trustconsole.core.actor import Actor
from trustconsole.core.services import token_create
from trustconsole.hotpath import HotRouter
from trustconsole.lib import flusher
from trustconsole.rules import hitcounts
from trustconsole.rules.models import RuleHitCount, RuleMatch
from voicegate.policy import checklog
from voicegate.policy.models import OutboundCheck

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("rules_engine_fresh"),
]

PATH = "/api/v1/voice/outbound-check"
US = 'destination.country == "US"'


@pytest.fixture
def background(settings: Any) -> Iterator[flusher.Flusher]:
    """This process's flusher thread, writing every 0.2 s, stopped after the test
    (its last flush done, its connection closed)."""
    settings.RULES_HITS_FLUSH_SECONDS = 0.2
    assert not flusher.running()  # tests never start one unless asked
    thread = flusher.start()
    yield thread
    assert flusher.stop(timeout=30)


@pytest.fixture
def dialer(org: Any, account: Any) -> Any:
    """Check one call from the account's number over the plain HTTP path; returns
    the answer's JSON."""
    raw = token_create(
        actor=Actor.system_for(org, "test"), name="dialer", role="operator"
    )[1]
    app = HotRouter(WSGIHandler())  # the router as gunicorn's workers serve it

    def call(to: str = DEST) -> dict[str, Any]:
        body = json.dumps({"from": OWNED, "to": to, "account": str(account.public_id)})
        status, _, content = wsgi_call(
            app, "POST", PATH, body.encode(), HTTP_AUTHORIZATION=f"Bearer {raw}"
        )
        assert status == 200, content
        return dict(json.loads(content))

    return call


def _flushed(thread: flusher.Flusher, times: int = 2) -> None:
    """Wait until the flusher has run `times` more flushes."""
    target = thread.flushes + times
    wait_until(lambda: thread.flushes >= target, what=f"{times} background flushes")


def test_checks_reach_the_logs_without_another_request(org, dialer, background) -> None:
    """GIVEN a shadow outbound rule and the process's flusher running
    WHEN one call is checked, and nothing else happens
    THEN the check log, the rule's hit count and its match log row appear."""
    rule = make_rule(org, US, {"refuse": {"code": "us"}}, channel="outbound_check")
    assert dialer()["allowed"] is True
    check = wait_until(
        lambda: OutboundCheck.objects.filter(to_e164=DEST).first(),
        what="the check in the check log",
    )
    assert (check.allowed, check.from_e164) == (True, OWNED)
    hits = wait_until(
        lambda: RuleHitCount.objects.filter(rule=rule).first(),
        what="the rule's hit count",
    )
    assert (hits.mode, hits.hits) == ("shadow", 1)
    match = wait_until(
        lambda: RuleMatch.objects.filter(rule=rule).first(), what="the match row"
    )
    assert (match.real, match.subject_label) == ("allowed", DEST)


def test_a_check_due_for_a_flush_leaves_the_write_to_the_flusher(
    org, dialer, background, monkeypatch
) -> None:
    """GIVEN a flush overdue (nothing written for a long while) and the flusher
    running
    WHEN a call is checked
    THEN the request makes no query at all; the flusher writes the check."""
    make_rule(org, US, {"refuse": {"code": "us"}}, channel="outbound_check")
    dialer()  # the process's state loaded, its first check logged
    wait_until(OutboundCheck.objects.exists, what="the first check written")
    monkeypatch.setattr(checklog, "_last_flush", float("-inf"))
    monkeypatch.setattr(hitcounts, "_last_flush", float("-inf"))
    with CaptureQueriesContext(connection) as queries:
        assert dialer()["allowed"] is True
    assert queries.captured_queries == []
    wait_until(
        lambda: OutboundCheck.objects.count() == 2, what="the second check written"
    )


def test_without_the_flusher_the_check_due_writes_as_before(
    org, dialer, monkeypatch
) -> None:
    """GIVEN no flusher (a management command, a test) and a flush overdue
    WHEN a call is checked
    THEN that request writes the check log itself, and no thread was started."""
    dialer()
    monkeypatch.setattr(checklog, "_last_flush", float("-inf"))
    dialer()
    assert OutboundCheck.objects.count() == 2
    assert not flusher.running()
    names = {t.name for t in threading.enumerate()}
    assert "trustconsole-flusher" not in names


def test_rows_wait_while_the_database_is_down_then_are_written(
    org, dialer, background, monkeypatch, caplog
) -> None:
    """GIVEN the flusher running, then its database session killed and the
    database unreachable
    WHEN a call is checked
    THEN the flushes fail and keep the check; once the database is back the
    flusher writes it, without any further request."""
    dialer(to="+14155550111")
    wait_until(OutboundCheck.objects.exists, what="the first check written")
    if connection.vendor == "postgresql":  # every other session of this database
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    # (SQLite: the flusher opens its connection anew for every flush, as
    # CONN_MAX_AGE is 0 there, so the next one meets the missing file.)
    _break_database(monkeypatch)
    dialer()  # answered from memory: no query
    _flushed(background, times=3)
    assert checklog.pending() == 1
    assert any(
        "could not write the outbound check log" in r.getMessage()
        for r in caplog.records
    )
    monkeypatch.undo()
    connection.close()
    wait_until(
        lambda: OutboundCheck.objects.filter(to_e164=DEST).exists(),
        what="the check kept while the database was down",
    )
    assert checklog.pending() == 0


def test_a_stopped_flusher_writes_what_it_still_held(org, dialer, settings) -> None:
    """GIVEN a flusher whose period is an hour (it would not write for a while)
    WHEN checks are made and the process stops it (what exit does)
    THEN its last flush writes them all, and its connection is closed."""
    settings.RULES_HITS_FLUSH_SECONDS = 3600
    flusher.start()
    for _ in range(3):
        dialer()
    assert not OutboundCheck.objects.exists()
    assert flusher.stop(timeout=30)
    assert OutboundCheck.objects.count() == 3
    assert checklog.pending() == 0


@pytest.mark.worker
def test_a_gunicorn_worker_that_ends_writes_its_checks(org, account, tmp_path) -> None:
    """GIVEN the console under gunicorn, its flusher writing once an hour
    WHEN a dialer checks calls, and gunicorn is stopped (SIGTERM, as on a deploy)
    THEN every check and the rule's hits are in the database once it exited."""
    rule = make_rule(org, US, {"refuse": {"code": "us"}}, channel="outbound_check")
    raw = token_create(
        actor=Actor.system_for(org, "test"), name="dialer", role="operator"
    )[1]
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "trustconsole.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket",
        ],
        cwd=ROOT,
        env=child_env(RULES_HITS_FLUSH_SECONDS="3600", ALLOWED_HOSTS="127.0.0.1"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=60, what="gunicorn to answer")
        body = {"from": OWNED, "to": DEST, "account": str(account.public_id)}
        for _ in range(4):
            response = httpx.post(
                f"http://127.0.0.1:{port}{PATH}",
                json=body,
                headers={"Authorization": f"Bearer {raw}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
        assert not OutboundCheck.objects.exists()  # an hour until the next flush
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert OutboundCheck.objects.filter(to_e164=DEST).count() == 4
    assert RuleHitCount.objects.get(rule=rule).hits == 4
