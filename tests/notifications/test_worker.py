"""The beat task run by a real Celery worker: real SMTP, a real webhook server,
JSON log lines naming the task, and the task's outcome in /metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notifications.choices import Outcome, Trigger
from notifications.models import Notification, NotificationSettings
from notifications.tasks import check
from tests.notifications.test_triggers import review_item
from tests.waiting import wait_until
from trustconsole.lib import metrics

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail_env(smtp_server, hook, loopback_targets, monkeypatch):
    """The worker (started after this) mails through the local SMTP server, may
    reach the local webhook, and logs JSON."""
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{smtp_server.port}")
    monkeypatch.setenv("LOG_FORMAT", "json")
    return smtp_server


def _task_successes() -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = metrics.exposition()[0].decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "trustconsole_celery_tasks_total" and sample.labels == {
                "task": "notifications.check",
                "outcome": "success",
            }:
                return sample.value
    return 0.0


def test_the_worker_sends_by_email_and_webhook_once(
    mail_env, hook, celery_worker_queue, worker_drained, org, tmp_path: Path
) -> None:
    NotificationSettings.objects.create(
        organisation=org,
        email_recipients=["ops@alpha.test"],
        slack_webhook_url=hook.url,
        queue_size_threshold=2,
        queue_age_hours=0,
    )
    review_item(org)
    review_item(org)
    successes = _task_successes()

    check.delay()
    wait_until(
        lambda: Notification.objects.exclude(status=Outcome.PENDING).exists(),
        timeout=60,
        what="the worker to send the notification",
    )
    sent = Notification.objects.get()
    assert sent.trigger == Trigger.QUEUE_SIZE
    assert (sent.email_status, sent.slack_status, sent.status) == (
        Outcome.SENT,
        Outcome.SENT,
        Outcome.SENT,
    ), (sent.email_detail, sent.slack_detail)
    [(sender, recipients, data)] = mail_env.messages
    assert recipients == ["ops@alpha.test"] and "noreply@localhost" in sender
    assert "Subject: [trustconsole] Alpha: visitor review queue is long" in data
    assert "2 visitor reviews are waiting" in data
    [text] = hook.texts()
    assert "2 visitor reviews are waiting" in text

    # Beat runs it again: the condition still holds, nothing more is sent.
    check.delay()
    worker_drained()
    assert Notification.objects.count() == 1
    assert len(mail_env.messages) == 1 and len(hook.texts()) == 1

    # The worker's log lines are JSON and name the task they come from.
    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    [line] = [li for li in lines if li["logger"] == "notifications.delivery"]
    assert line["level"] == "INFO" and line["task"] == "notifications.check"
    assert line["task_id"] and str(sent.public_id) in line["message"]
    assert {"time", "level", "logger", "message"} <= set(line)

    # Its outcomes are in this process's /metrics (the worker's files).
    assert _task_successes() - successes >= 2
