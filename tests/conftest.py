"""The fixed cast, API clients, a real Celery worker and a real Chromium.

Cast: organisation "Alpha" with alice (admin), oscar (operator), sue (support) and
bob (viewer); organisation "Beta" with charlie (admin), the outsider.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from tests.waiting import page_ready, wait_until
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Organisation
from trustconsole.core.services import token_create
from trustconsole.hotpath import HotRouter

PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parent.parent
STRICT = os.environ.get("TC_STRICT") == "1"
# Older name of the shared helper; both poll a condition and name it on timeout.
wait_for = wait_until
# Fixtures that start real processes or a real browser mark their tests, so that
# `-m "browser or worker"` selects every slow test without relying on decorators.
MARKING_FIXTURES = {"celery_worker_queue": "worker", "chromium": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the real processes its fixtures start."""
    for item in items:
        for fixture, marker in MARKING_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (TC_STRICT=1) a skipped test is a failure: nothing may be left out."""
    if not STRICT or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"TC_STRICT: {len(skipped)} skipped test(s) count as failures"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings: Any) -> Iterator[None]:
    """Every test counts from zero: its own rate-limit keys, no leases kept."""
    from trustconsole.lib import ratelimit

    settings.RATELIMIT_KEY_PREFIX = f"rl-test-{uuid.uuid4().hex[:12]}"
    ratelimit.forget()
    yield
    ratelimit.forget()


@pytest.fixture(autouse=True)
def _rejects_in_the_request(settings: Any) -> None:
    """In this process reject commands are sent in the request: a sender thread
    could not see the test's uncommitted transaction. The servers tests start
    (gunicorn, runconsole) use the sender threads, as production does."""
    settings.VOICEGATE_REJECT_SENDERS = 0


@pytest.fixture(autouse=True)
def _fresh_decision_state() -> Iterator[None]:
    """Every test starts with no decision-core state (ids are reused between
    tests, which a real database never does with a live process): nor the
    keywords kept per rule version, nor outbound checks waiting for the check log."""
    from trustconsole.policy import state
    from trustconsole.rules.effects import _keywords_of
    from visitors.selectors import widget_cache
    from voicegate.policy import checklog

    state.reset()
    widget_cache.clear()
    _keywords_of.cache_clear()
    checklog.reset()
    yield
    state.reset()
    widget_cache.clear()
    _keywords_of.cache_clear()
    checklog.reset()


def _member(org: Organisation, email: str, role: str) -> Any:
    from tests.core.factories import MembershipFactory

    return MembershipFactory(user__email=email, organisation=org, role=role).user


@pytest.fixture
def loopback_targets(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outbound calls may reach this machine's stand-in servers: the development
    switch, in this process and in worker processes started after it."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE", "true")


@pytest.fixture
def org(db: None) -> Organisation:
    from tests.core.factories import OrganisationFactory

    return OrganisationFactory(name="Alpha", slug="alpha")


@pytest.fixture
def other_org(db: None) -> Organisation:
    from tests.core.factories import OrganisationFactory

    return OrganisationFactory(name="Beta", slug="beta")


@pytest.fixture
def alice(org: Organisation) -> Any:
    return _member(org, "alice@alpha.test", Role.ADMIN)


@pytest.fixture
def oscar(org: Organisation) -> Any:
    return _member(org, "oscar@alpha.test", Role.OPERATOR)


@pytest.fixture
def sue(org: Organisation) -> Any:
    return _member(org, "sue@alpha.test", Role.SUPPORT)


@pytest.fixture
def bob(org: Organisation) -> Any:
    return _member(org, "bob@alpha.test", Role.VIEWER)


@pytest.fixture
def charlie(other_org: Organisation) -> Any:
    return _member(other_org, "charlie@beta.test", Role.ADMIN)


@pytest.fixture
def actor_for() -> Callable[[Organisation, str], Actor]:
    """An Actor of a given organisation and role, as services receive it."""

    def make(org: Organisation, role: str = Role.ADMIN) -> Actor:
        return Actor(organisation=org, role=role, system="test")

    return make


@pytest.fixture
def api_client_for(db: None) -> Callable[[Organisation, str], APIClient]:
    """An API client authenticated with a fresh Bearer token of org and role."""

    def make(org: Organisation, role: str = Role.ADMIN) -> APIClient:
        _, raw = token_create(
            actor=Actor.system_for(org, "test"), name=f"test {role}", role=role
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


# --- Real processes ------------------------------------------------------------------


def database_url() -> str:
    """The URL of the database this test runs on, for a child process."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return (
        f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that shares this test's database and broker."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "true",
        "TRUSTCONSOLE_DATA_DIR": str(settings.DATA_DIR),
        # A child with a data dir of its own must still read this test's credentials.
        "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        **extra,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


@pytest.fixture
def celery_worker_queue(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    """A real `celery worker` process on a queue of its own; yields the queue.

    While it runs, that queue is this process's default, so tasks that services
    enqueue (`.delay()` after commit) reach this worker and no other test's.
    """
    from trustconsole.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "trustconsole", "worker",
                "--pool", "solo", "--queues", queue, "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"{queue}@%h",
            ],
            # Tasks that tasks send (a retry, a follow-up) stay on this queue too.
            cwd=ROOT, env=child_env(CELERY_TASK_DEFAULT_QUEUE=queue),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(
            lambda: b"ready." in log.read_bytes() or proc.poll() is not None,
            timeout=60,
            what="the Celery worker to log 'ready.'",
        )
        if proc.poll() is not None:
            pytest.fail(f"Celery worker exited:\n{log.read_text()[-3000:]}")
        default_queue = app.conf.task_default_queue
        app.conf.task_default_queue = queue
        try:
            yield queue
        finally:
            app.conf.task_default_queue = default_queue
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def worker_drained(celery_worker_queue: str, tmp_path: Path) -> Callable[[], None]:
    """Call it to wait until the worker has run every task sent to it so far.

    The worker runs one task at a time, in queue order (solo pool), so once a
    marker task sent now has run, every task sent before it has run too. Tests use
    this before asserting that something did *not* happen.
    """
    from trustconsole.celery import app

    def drain(timeout: float = 60) -> None:
        marker = f"drain-{uuid.uuid4().hex}"
        app.send_task(
            "celery.accumulate", args=(0,), queue=celery_worker_queue, task_id=marker
        )
        needle = f"[{marker}] succeeded".encode()
        wait_until(
            lambda: needle in (tmp_path / "worker.log").read_bytes(),
            timeout=timeout,
            what=f"the worker on {celery_worker_queue} to run every task sent so far",
        )

    return drain


# --- Browser -------------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; never a downloaded browser."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser page (own cookies) pointed at the live server."""
    context = chromium.new_context(base_url=live_server.url)
    # Generous for a loaded 2-core machine: these bound waits on conditions.
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page: Any, live_server: Any) -> Callable[[Any], Any]:
    """Log a user in through the real login form."""

    def do(user: Any) -> Any:
        page.goto("/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        # "**/" would also match /login/ itself: wait for the dashboard.
        return page_ready(page, f"{live_server.url}/")

    return do


@pytest.fixture
def rules_engine_fresh() -> Iterator[None]:
    """No compiled rule programs, budget strikes or hit counts left in this
    process by another test, before and after."""
    from trustconsole.rules import engine

    engine.reset()
    yield
    engine.reset()


@pytest.fixture
def router() -> Iterator[HotRouter]:
    """The thin router, called in this test's transaction: like Django's test
    client, its requests leave the database connection open (the plain path's
    recycling off, and on its Django path the signals' receivers off too)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield HotRouter(WSGIHandler(), recycle_connections=False)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
