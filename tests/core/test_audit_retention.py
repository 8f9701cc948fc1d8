"""Audit entries cannot be changed or deleted: by the ORM everywhere, by raw SQL on
PostgreSQL (a trigger). The retention path prunes old entries and says so."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.conftest import ROOT
from trustconsole.core import tasks
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry, AuditImmutableError
from trustconsole.core.services import audit_prune, audit_record

pytestmark = pytest.mark.django_db
POSTGRES = connection.vendor == "postgresql"
TABLE = AuditEntry._meta.db_table


def _entry(org, action: str = "visitor.blacklist") -> AuditEntry:
    return audit_record(
        actor=Actor.system_for(org, "test"), action=action, target=org, reason="why"
    )


def _raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_entry_cannot_be_changed_or_deleted(org) -> None:
    """GIVEN an audit entry WHEN anyone tries to change or delete it, through the
    ORM or (on PostgreSQL) with raw SQL THEN it is refused and the entry reads the
    same afterwards."""
    entry = _entry(org)
    entry.reason = "rewritten"
    with pytest.raises(AuditImmutableError):
        entry.save()
    with pytest.raises(AuditImmutableError):
        entry.delete()
    with pytest.raises(AuditImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(AuditImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    if POSTGRES:
        with pytest.raises(IntegrityError, match="audit entries are immutable"):
            _raw(f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["x", entry.pk])
        with pytest.raises(IntegrityError, match="audit entries are immutable"):
            _raw(f"DELETE FROM {TABLE} WHERE id = %s", [entry.pk])
        # The retention switch opens DELETE only: never UPDATE.
        with (
            pytest.raises(IntegrityError, match="UPDATE"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL trustconsole.audit_prune = 'on'")
            cursor.execute(f"UPDATE {TABLE} SET reason = 'x' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).reason == "why"


def test_pruning_deletes_only_old_entries_and_records_it(org, other_org) -> None:
    """GIVEN entries of 400 and 10 days ago in two organisations WHEN entries older
    than 365 days are pruned THEN only the old ones go, and each organisation's
    trail says how many were deleted, by whom and why."""
    long_ago = timezone.now() - dt.timedelta(days=400)
    with time_machine.travel(long_ago, tick=False):
        for _ in range(3):
            _entry(org)
        _entry(other_org)
    with time_machine.travel(timezone.now() - dt.timedelta(days=10), tick=False):
        recent = _entry(org)
    assert audit_prune(days=365, by="test retention") == {"alpha": 3, "beta": 1}
    kept = AuditEntry.objects.exclude(action="audit.prune")
    assert list(kept.values_list("pk", flat=True)) == [recent.pk]
    notes = {
        e.organisation.slug: e for e in AuditEntry.objects.filter(action="audit.prune")
    }
    assert set(notes) == {"alpha", "beta"}
    assert notes["alpha"].actor_label == "system: test retention"
    assert notes["alpha"].reason == (
        "retention: audit entries older than 365 days deleted (3)"
    )
    assert notes["alpha"].before == {"entries_older_than_cutoff": 3}
    assert audit_prune(days=365) == {}  # nothing left to prune: nothing recorded
    assert AuditEntry.objects.filter(action="audit.prune").count() == 2


def test_the_prune_switch_ends_with_the_prune(org) -> None:
    """GIVEN a prune just ran in this transaction WHEN raw SQL then deletes an
    entry THEN it is refused again (PostgreSQL); the ORM refuses everywhere."""
    with time_machine.travel(timezone.now() - dt.timedelta(days=40), tick=False):
        _entry(org)
    survivor = _entry(org)
    with transaction.atomic():
        audit_prune(days=30)
        if POSTGRES:
            with pytest.raises(IntegrityError):
                _raw(f"DELETE FROM {TABLE} WHERE id = %s", [survivor.pk])
        with pytest.raises(AuditImmutableError):
            AuditEntry.objects.filter(pk=survivor.pk).delete()
    assert AuditEntry.objects.filter(pk=survivor.pk).exists()


def test_a_prune_keeps_at_least_a_day(org) -> None:
    _entry(org)
    with pytest.raises(ValidationError):
        audit_prune(days=0)
    assert AuditEntry.objects.count() == 1


def test_the_command_and_the_beat_task_prune_with_the_configured_age(
    org, settings
) -> None:
    with time_machine.travel(timezone.now() - dt.timedelta(days=100), tick=False):
        _entry(org)
        _entry(org)
    settings.AUDIT_RETENTION_DAYS = 0
    assert tasks.audit_prune() == {}  # off by default
    out = StringIO()
    call_command("prune_audit", days=90, stdout=out)
    assert out.getvalue() == "alpha: 2 audit entries older than 90 days deleted.\n"
    note = AuditEntry.objects.get(action="audit.prune")
    assert note.actor_label == "system: prune_audit command"
    with time_machine.travel(timezone.now() - dt.timedelta(days=100), tick=False):
        _entry(org)
    settings.AUDIT_RETENTION_DAYS = 90
    assert tasks.audit_prune() == {"alpha": 1}


def test_beat_prunes_only_when_a_retention_is_set() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CELERY_BEAT_SCHEDULE.get('core-audit-prune', {}).get('task'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "AUDIT_RETENTION_DAYS"}
    env["DJANGO_SETTINGS_MODULE"] = "trustconsole.settings"

    def beat(**extra: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env={**env, **extra},
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    assert beat() == "None"
    assert beat(AUDIT_RETENTION_DAYS="365") == "core.audit_prune"
