"""Failed deliveries are retried by Celery with back-off, a bounded number of
times; the notifications page shows each state and the last error."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from notifications import delivery
from notifications.choices import Outcome
from notifications.models import Notification
from notifications.tasks import check
from tests.conftest import PASSWORD
from tests.notifications.test_triggers import configure, review_item, run
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db


def test_a_transient_failure_waits_for_a_retry_and_a_lost_one_is_queued_again(
    org, hook, loopback_targets, settings
) -> None:
    """GIVEN a webhook answering 503 WHEN the trigger fires THEN the notification
    is retrying (one attempt, next one due, last error kept); an attempt run too
    early changes nothing; once due it is sent and the email is not sent twice."""
    settings.NOTIFICATIONS_RETRY_BACKOFF = 30
    hook.answers = [503]
    configure(org, slack_webhook_url=hook.url, queue_size_threshold=1)
    review_item(org)
    [row] = run(org)
    assert (row.status, row.slack_status, row.email_status) == (
        Outcome.RETRYING,
        Outcome.RETRYING,
        Outcome.SENT,
    )
    assert row.attempts == 1 and row.last_error == "webhook: HTTP 503: no such hook"
    wait = (row.next_attempt_at - timezone.now()).total_seconds()
    assert 14 <= wait <= 31
    assert delivery.attempt(notification_id=row.pk) is None  # not due yet
    assert Notification.objects.get(pk=row.pk).attempts == 1

    Notification.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert delivery.attempt(notification_id=row.pk) is None
    row.refresh_from_db()
    assert (row.status, row.attempts, row.slack_status) == (Outcome.SENT, 2, "sent")
    assert len(hook.received) == 2
    from django.core import mail

    assert len(mail.outbox) == 1  # the email went on the first attempt only


def test_attempts_are_bounded_and_the_delays_grow(
    org, hook, loopback_targets, settings
):
    settings.NOTIFICATIONS_RETRY_ATTEMPTS = 3
    settings.NOTIFICATIONS_RETRY_BACKOFF = 10
    settings.NOTIFICATIONS_RETRY_MAX_DELAY = 25
    hook.answers = [500, 500, 500]
    configure(
        org, email_recipients=[], slack_webhook_url=hook.url, queue_size_threshold=1
    )
    review_item(org)
    [row] = run(org)
    delays = []
    while row.status == Outcome.RETRYING:
        delays.append((row.next_attempt_at - timezone.now()).total_seconds())
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        delivery.attempt(notification_id=row.pk)
        row.refresh_from_db()
    assert row.status == Outcome.FAILED and row.attempts == 3
    assert (
        len(hook.received) == 3 and row.last_error == "webhook: HTTP 500: no such hook"
    )
    assert 4 <= delays[0] <= 10 and 9 <= delays[1] <= 20  # 10 s, then 20 s (jitter)
    assert row.next_attempt_at is None
    assert delivery.retry_delay(10) <= 25  # capped


def test_a_permanent_failure_is_not_retried(org, hook, loopback_targets) -> None:
    hook.answers = [410]
    configure(
        org, email_recipients=[], slack_webhook_url=hook.url, queue_size_threshold=1
    )
    review_item(org)
    [row] = run(org)
    assert row.status == Outcome.FAILED and row.attempts == 1
    assert row.next_attempt_at is None


def test_beat_queues_a_lost_attempt_again(org, hook, loopback_targets, monkeypatch):
    hook.answers = [503]
    configure(
        org, email_recipients=[], slack_webhook_url=hook.url, queue_size_threshold=1
    )
    review_item(org)
    [row] = run(org)
    sent: list[int] = []
    from notifications import tasks

    monkeypatch.setattr(tasks.deliver_task, "delay", lambda pk: sent.append(pk))
    assert delivery.requeue_lost() == 0  # due later: not lost
    Notification.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert delivery.requeue_lost() == 1 and sent == [row.pk]


def test_the_page_shows_retrying_failed_and_sent_with_the_last_error(
    org, alice, hook, loopback_targets
) -> None:
    hook.answers = [503]
    configure(
        org, email_recipients=[], slack_webhook_url=hook.url, queue_size_threshold=1
    )
    review_item(org)
    run(org)
    client = Client()
    assert client.login(username=alice.username, password=PASSWORD)
    html = client.get("/settings/notifications/sent/").content.decode()
    assert 'data-status="retrying"' in html and "Retrying" in html
    assert "1 attempt; next at" in html
    assert "Last error: webhook: HTTP 503: no such hook" in html


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_until_the_webhook_answers(
    org, hook, loopback_targets, monkeypatch, request
) -> None:
    """GIVEN a local webhook server that fails twice (503, then a 500) and then
    succeeds, and a real Celery worker with a one-second back-off
    WHEN beat's check fires THEN the worker retries by itself until the webhook
    takes it: three requests, one notification, sent, the errors on the page."""
    monkeypatch.setenv("NOTIFICATIONS_RETRY_BACKOFF", "1")
    hook.answers = [503, 500]
    configure(
        org, email_recipients=[], slack_webhook_url=hook.url, queue_size_threshold=1
    )
    review_item(org)
    request.getfixturevalue("celery_worker_queue")  # started with the env above

    check.delay()
    wait_until(
        lambda: Notification.objects.filter(status=Outcome.SENT).exists(),
        timeout=90,
        what="the worker to retry the webhook until it answers 200",
    )
    row = Notification.objects.get()
    assert row.attempts == 3 and len(hook.received) == 3
    assert row.last_error == "webhook: HTTP 500: no such hook"
    client = Client()
    client.force_login(request.getfixturevalue("alice"))
    html = client.get("/settings/notifications/sent/").content.decode()
    assert 'data-status="sent"' in html and "3 attempts" in html
    assert "Earlier error: webhook: HTTP 500: no such hook" in html
