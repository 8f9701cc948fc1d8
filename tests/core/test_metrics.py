"""`GET /metrics` over real HTTP: protection, counters from requests, gauges from
the database, counters of processes that have exited."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from remediation.choices import DeliveryStatus, RemediationStatus
from remediation.models import RemediationRequest, WebhookDelivery
from tests.accounts.factories import RequestFactory, days_ago
from tests.conftest import ROOT, child_env
from tests.remediation.conftest import make_enterprise
from tests.visitors.factories import VisitorFactory, WidgetFactory
from trustconsole.core.actor import Actor
from trustconsole.core.services import token_create
from trustconsole.lib import metrics
from visitors.models import ReviewItem
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate.models import OutboxItem, VoiceConnection
from voicegate.policy.models import DncList

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "scrape-me-3b1f"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scrape(live_server, settings) -> Callable[[], Samples]:
    settings.METRICS_TOKEN = TOKEN

    def do() -> Samples:
        response = httpx.get(
            f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return parse(response.text)

    return do


def test_metrics_are_off_unless_a_token_or_network_is_set(live_server, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOW_NETWORKS = []
    response = httpx.get(f"{live_server.url}/metrics")
    assert response.status_code == 404
    assert "METRICS_TOKEN" in response.json()["detail"]


def test_a_token_is_required_and_checked(live_server, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    url = f"{live_server.url}/metrics"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert httpx.get(url, headers={"Authorization": f"Basic {TOKEN}"}).status_code == (
        401
    )
    ok = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "trustconsole_metrics_database_up 1.0" in ok.text


def test_an_allowed_network_admits_without_a_token(live_server, settings) -> None:
    url = f"{live_server.url}/metrics"
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOW_NETWORKS = ["10.0.0.0/8"]
    assert httpx.get(url).status_code == 403
    settings.METRICS_ALLOW_NETWORKS = ["127.0.0.0/8", "::1/128"]
    assert httpx.get(url).status_code == 200
    # Both set: both must hold.
    settings.METRICS_TOKEN = TOKEN
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == (
        200
    )


def test_gate_decisions_by_reason_and_latency_across_requests(
    org, scrape, live_server
) -> None:
    """GIVEN a blacklisted caller WHEN the decide API answers real HTTP requests
    and a widget message arrives THEN the counters and histograms grew by them."""
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=["+14155550123"])
    visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    _token, raw = token_create(actor=actor, name="pbx", role="operator")
    widget = WidgetFactory(organisation=org)
    before = scrape()
    with httpx.Client(base_url=live_server.url) as client:
        auth = {"Authorization": f"Bearer {raw}"}
        for caller in ("+14155550123", "+14155550188", "+14155550189"):
            answer = client.post(
                "/api/v1/voice/decide",
                json={"from": caller, "to": "+14155550100"},
                headers=auth,
            )
            assert answer.status_code == 200, answer.text
        message = client.post(
            "/widget/v1/messages",
            json={"visitor_id": "w-1", "body": "Hello"},
            headers={"X-Widget-Key": widget.key},
        )
        assert message.status_code == 202, message.text
    after = scrape()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    decisions = "trustconsole_gate_decisions_total"
    assert grew(decisions, gate="call", decision="reject", reason="blacklisted_visitor")
    assert grew(decisions, gate="call", decision="allow", reason="not_listed") == 2
    assert grew(decisions, gate="chat", decision="allow", reason="accepted") == 1
    assert grew("trustconsole_gate_decision_seconds_count", gate="call") == 3
    assert grew("trustconsole_gate_decision_seconds_bucket", gate="call", le="+Inf")
    assert grew("trustconsole_gate_decision_seconds_sum", gate="call") > 0


def test_fail_mode_decisions_are_counted() -> None:
    samples = parse(metrics.exposition()[0].decode())
    metrics.call_decided({"decision": "reject", "reason": "fail_closed"})
    after = parse(metrics.exposition()[0].decode())
    name = "trustconsole_gate_fail_mode_decisions_total"
    assert value(after, name, mode="fail_closed") - value(
        samples, name, mode="fail_closed"
    ) == (1)


def _review_item(org, hours_ago: float) -> None:
    ReviewItem.objects.create(
        organisation=org,
        visitor=VisitorFactory(organisation=org),
        reason="Trust score fell to 20",
        score_at_flag=20,
        created_at=timezone.now() - dt.timedelta(hours=hours_ago),
    )


def test_queues_outbox_failures_and_dnc_freshness_come_from_the_database(
    org, other_org, scrape, settings
) -> None:
    settings.VISITORS_REVIEW_OVERDUE_HOURS = 24
    _review_item(org, hours_ago=30)
    _review_item(org, hours_ago=1)
    RequestFactory(account__organisation=org)
    RequestFactory(account__organisation=org, submitted=days_ago(20))
    connection = VoiceConnection.objects.create(
        organisation=org, name="Main", provider="telnyx_call_control"
    )
    now = timezone.now()
    for n, fields in enumerate(
        [
            {"attempts": 3, "last_error": "HTTP 500"},  # retrying
            {"attempts": 10, "gave_up_at": now},  # given up
            {"attempts": 1, "delivered_at": now},  # delivered: fine
            {"attempts": 0},  # not tried yet: fine
        ]
    ):
        OutboxItem.objects.create(
            organisation=org,
            connection=connection,
            kind="reject",
            event_id=f"e{n}",
            next_attempt_at=now,
            **fields,
        )
    request = RemediationRequest.objects.create(
        organisation=org,
        enterprise=make_enterprise(org),
        status=RemediationStatus.COMPLETED,
        call_purpose="Reminders",
        phone_numbers_count=1,
        phone_numbers_submitted=1,
        phone_numbers_ineligible=0,
        created_by="test",
        provider="sandbox",
    )
    WebhookDelivery.objects.create(
        organisation=org,
        request=request,
        event_type="remediation.completed",
        status_from="in_progress",
        status_to="completed",
        url="https://example.com/h",
        payload={},
        status=DeliveryStatus.FAILED,
        attempts=6,
    )
    DncList.objects.create(
        organisation=org,
        name="US national",
        kind="national",
        as_of=timezone.now().date() - dt.timedelta(days=3),
        entry_count=1234,
    )
    DncList.objects.create(organisation=org, name="Own", entry_count=2)

    samples = scrape()
    alpha = {"organisation": "alpha"}
    assert value(samples, "trustconsole_review_queue_items", queue="visitors", **alpha)
    assert (
        value(samples, "trustconsole_review_queue_items", queue="visitors", **alpha)
        == 2
    )
    oldest = value(
        samples,
        "trustconsole_review_queue_oldest_age_seconds",
        queue="visitors",
        **alpha,
    )
    assert 30 * 3600 <= oldest < 31 * 3600
    overdue = "trustconsole_review_queue_overdue_items"
    assert value(samples, overdue, queue="visitors", **alpha) == 1
    assert value(samples, "trustconsole_review_queue_items", queue="accounts", **alpha)
    assert value(samples, overdue, queue="accounts", **alpha) == 1
    assert value(samples, overdue, queue="visitors", organisation="beta") == 0

    failing = "trustconsole_webhook_deliveries_failing"
    assert value(samples, failing, kind="reject", state="retrying", **alpha) == 1
    assert value(samples, failing, kind="reject", state="failed", **alpha) == 1
    assert value(samples, failing, kind="status", state="failed", **alpha) == 1

    labels = {"organisation": "alpha", "list": "US national", "kind": "national"}
    age = value(samples, "trustconsole_dnc_list_as_of_age_seconds", **labels)
    assert 3 * 86400 <= age < 4 * 86400
    assert value(samples, "trustconsole_dnc_list_entries", **labels) == 1234
    own = {"organisation": "alpha", "list": "Own", "kind": "internal"}
    assert (
        "trustconsole_dnc_list_as_of_age_seconds",
        tuple(sorted(own.items())),
    ) not in (samples)


def test_counts_of_processes_that_exited_are_kept_and_compacted() -> None:
    """GIVEN a process that counted a task outcome and exited WHEN this process
    renders the metrics THEN the count is there, and the dead process's file was
    folded into the archive (so files do not pile up)."""
    name = "trustconsole_celery_tasks_total"
    before = value(
        parse(metrics.exposition()[0].decode()), name, task="t.exited", outcome="retry"
    )
    script = (
        "import django; django.setup()\n"
        "from trustconsole.lib import metrics\n"
        "metrics.task_finished(task='t.exited', outcome='retry')\n"
        "metrics.task_finished(task='t.exited', outcome='retry')\n"
        "import os; print(os.getpid())\n"
    )
    env = child_env(DJANGO_SETTINGS_MODULE="trustconsole.settings")
    pid = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    directory = metrics.directory()
    assert directory is not None
    assert [f for f in directory.glob(f"counter_*-{pid}.db")]
    after = value(
        parse(metrics.exposition()[0].decode()), name, task="t.exited", outcome="retry"
    )
    assert after - before == 2
    assert not [f for f in directory.glob(f"counter_*-{pid}.db")]
    assert (directory / "counter_archive.db").exists()
    again = value(
        parse(metrics.exposition()[0].decode()), name, task="t.exited", outcome="retry"
    )
    assert again == after  # folded once, not counted twice


@pytest.mark.worker
def test_gunicorn_workers_answer_with_the_same_totals(
    transactional_db, org, tmp_path
) -> None:
    """GIVEN gunicorn with two workers WHEN 10 decisions are spread over them THEN
    every scrape, whichever worker answers it, counts all 10."""
    from tests.conftest import wait_for
    from tests.core.test_runconsole import free_port

    actor = Actor.system_for(org, "test")
    _token, raw = token_create(actor=actor, name="pbx", role="operator")
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "trustconsole.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket",
        ],
        cwd=ROOT,
        env=child_env(METRICS_TOKEN=TOKEN, METRICS_DIR=str(tmp_path / "metrics")),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, what="gunicorn to answer")
        for n in range(10):
            # A new connection each time: either worker may take it.
            response = httpx.post(
                f"{base}/api/v1/voice/decide",
                json={"from": f"+1415555{n:04d}", "to": "+14155550100"},
                headers={"Authorization": f"Bearer {raw}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
        for _ in range(6):
            scrape = httpx.get(
                f"{base}/metrics",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            assert scrape.status_code == 200
            samples = parse(scrape.text)
            assert value(
                samples,
                "trustconsole_gate_decisions_total",
                gate="call",
                decision="allow",
                reason="not_listed",
            ) == (10)
            assert (
                value(samples, "trustconsole_gate_decision_seconds_count", gate="call")
                == 10
            )
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
