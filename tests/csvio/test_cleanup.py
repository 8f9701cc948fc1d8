"""Dry runs (and the file each keeps) are deleted CSV_DRY_RUN_TTL_HOURS after they
finished, by a beat task; real imports and recent dry runs stay."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.csvio.test_import import VISITORS, start, upload
from tests.waiting import wait_until
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry
from trustconsole.csvio import services
from trustconsole.csvio.models import CsvImport, ImportStatus
from trustconsole.csvio.tasks import dry_runs_remove_task


@pytest.fixture
def oscar_actor(org, oscar):
    return Actor(organisation=org, role=Role.OPERATOR, user=oscar)


@pytest.mark.django_db
def test_it_removes_dry_runs_past_the_ttl_and_keeps_the_rest(
    oscar_actor, other_org, settings
) -> None:
    """GIVEN a dry run finished 25 hours ago, one finished 1 hour ago, a real
    import and another organisation's old dry run
    WHEN the cleanup runs with the default TTL of 24 hours
    THEN both old dry runs are gone, audited per organisation in words."""
    assert settings.CSV_DRY_RUN_TTL_HOURS == 24
    now = timezone.now()
    with time_machine.travel(now - dt.timedelta(hours=25), tick=False):
        old = start(oscar_actor, VISITORS, dry_run=True)
        theirs = start(Actor.system_for(other_org, "test"), VISITORS, dry_run=True)
        real = start(oscar_actor, VISITORS)
    with time_machine.travel(now - dt.timedelta(hours=1), tick=False):
        recent = start(oscar_actor, VISITORS, dry_run=True)
    assert old.status == recent.status == ImportStatus.DONE and old.content

    removed = services.dry_runs_remove(now=now)

    assert removed == {"alpha": 1, other_org.slug: 1}
    left = set(CsvImport.objects.values_list("pk", flat=True))
    assert left == {real.pk, recent.pk} and theirs.pk not in left
    entry = AuditEntry.objects.get(
        action="csv_import.dry_runs_remove", organisation=oscar_actor.organisation
    )
    assert describe(entry).sentence == (
        "system: CSV dry-run cleanup removed 1 CSV dry run(s) older than 24 hours"
    )
    # Nothing more to remove: no second entry.
    assert services.dry_runs_remove(now=now) == {}
    assert AuditEntry.objects.filter(action="csv_import.dry_runs_remove").count() == 2


@pytest.mark.django_db
def test_the_ttl_is_a_setting_and_a_stuck_dry_run_goes_too(oscar_actor, settings):
    settings.CSV_DRY_RUN_TTL_HOURS = 2
    now = timezone.now()
    with time_machine.travel(now - dt.timedelta(hours=3), tick=False):
        finished = start(oscar_actor, VISITORS, dry_run=True)
    never_ran = services.import_start(
        actor=oscar_actor,
        kind="visitors",
        upload=upload(VISITORS),
        dry_run=True,
        enqueue=False,
    )
    limit = dt.timedelta(seconds=settings.CSV_IMPORT_TIME_LIMIT)
    # Waiting, but younger than TTL + the import time limit: kept.
    assert services.dry_runs_remove(now=now + limit) == {"alpha": 1}
    assert not CsvImport.objects.filter(pk=finished.pk).exists()
    assert CsvImport.objects.filter(pk=never_ran.pk).exists()
    later = now + limit + dt.timedelta(hours=2, minutes=1)
    assert services.dry_runs_remove(now=later) == {"alpha": 1}
    assert not CsvImport.objects.exists()


def test_beat_runs_it_hourly_and_the_import_page_says_so(db, oscar) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["csvio-dry-runs-remove"]
    assert entry["task"] == "csvio.dry_runs_remove"
    assert entry["options"]["expires"] < entry["schedule"]
    client = Client()
    assert client.login(username=oscar.username, password=PASSWORD)
    page = client.get(reverse("csvio:import_form", args=["visitors"])).content
    assert b"is deleted 24 hours after it finished" in page


@pytest.mark.worker
def test_a_real_worker_runs_the_cleanup(
    oscar_actor, celery_worker_queue, transactional_db
) -> None:
    with time_machine.travel(timezone.now() - dt.timedelta(days=2), tick=False):
        old = start(oscar_actor, VISITORS, dry_run=True)
    dry_runs_remove_task.delay()
    wait_until(
        lambda: not CsvImport.objects.filter(pk=old.pk).exists(),
        timeout=60,
        what="the worker to remove the expired dry run",
    )
    assert AuditEntry.objects.filter(action="csv_import.dry_runs_remove").exists()
