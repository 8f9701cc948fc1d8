"""Housekeeping: the task itself, and end to end through a real worker and broker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from tests.conftest import wait_for
from trustconsole.core.models import WorkerHeartbeat
from trustconsole.core.tasks import housekeeping


@pytest.mark.django_db
def test_housekeeping_drops_expired_sessions_and_records_a_heartbeat() -> None:
    old = SessionStore()
    old.set_expiry(timezone.now() - dt.timedelta(days=1))
    old.create()
    live = SessionStore()
    live.create()
    result = housekeeping()
    assert result == {"expired_sessions": 1}
    assert list(Session.objects.values_list("session_key", flat=True)) == [
        live.session_key
    ]
    assert WorkerHeartbeat.objects.get(name="housekeeping").details == result


@pytest.mark.worker
def test_a_real_worker_runs_a_task_sent_through_the_broker(celery_worker_queue) -> None:
    """GIVEN a worker process WHEN housekeeping goes to the broker THEN it runs."""
    assert not WorkerHeartbeat.objects.exists()
    housekeeping.delay()
    beat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(name="housekeeping").first(),
        what="the worker to run housekeeping",
    )
    assert beat.details == {"expired_sessions": 0}
