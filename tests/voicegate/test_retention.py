"""The call log and the refused outbound calls are kept VOICEGATE_CALL_LOG_DAYS /
POLICY_DENIAL_LOG_DAYS days: beat deletes older rows every hour, in batches, and
each organisation that lost rows reads one audit entry in words."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.accounts.factories import AccountFactory
from tests.conftest import PASSWORD
from tests.voicegate.factories import CallDecisionFactory, OutboundDenialFactory
from tests.waiting import wait_until
from trustconsole.celery import app
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from voicegate import retention
from voicegate.models import CallDecision
from voicegate.policy.models import OutboundDenial
from voicegate.policy.tasks import denials_prune_task
from voicegate.tasks import calls_prune_task

NOW = timezone.now()


def _aged(factory: Any, org: Any, n: int, *, days: float, **fields: Any) -> list[int]:
    """`n` rows of `factory` made `days` ago (all at the same instant)."""
    model = factory._meta.model
    rows = model.objects.bulk_create(
        factory.build_batch(n, organisation=org, **fields), batch_size=500
    )
    pks = [row.pk for row in rows]
    model.objects.filter(pk__in=pks).update(created_at=NOW - dt.timedelta(days=days))
    return pks


def _deletes(queries: CaptureQueriesContext) -> int:
    return sum(q["sql"].lstrip().upper().startswith("DELETE") for q in queries)


def _prunes(action: str) -> dict[str, AuditEntry]:
    return {e.organisation.slug: e for e in AuditEntry.objects.filter(action=action)}


@pytest.mark.django_db
def test_old_call_decisions_go_recent_ones_stay_and_each_org_is_told(
    org, other_org, caplog
) -> None:
    """GIVEN call decisions of 401 days ago in two organisations and ones of 399
    days ago and today WHEN the hourly prune runs with the default 400 days THEN
    only the old ones go, and each organisation's audit log says, in words, how
    many went and why; a second run deletes and records nothing."""
    assert django_settings.VOICEGATE_CALL_LOG_DAYS == 400
    _aged(CallDecisionFactory, org, 3, days=401)
    _aged(CallDecisionFactory, other_org, 1, days=401)
    kept = _aged(CallDecisionFactory, org, 2, days=399)
    kept += _aged(CallDecisionFactory, org, 1, days=0)

    with caplog.at_level(logging.INFO, logger="voicegate.retention"):
        assert retention.prune(retention.CALLS, now=NOW) == {"alpha": 3, "beta": 1}
    assert "retention: deleted 4 call decisions older than" in caplog.text
    assert "retention: deleted 3 call decisions of alpha" in caplog.text

    assert sorted(CallDecision.objects.values_list("pk", flat=True)) == sorted(kept)
    notes = _prunes("voice.call_log.prune")
    assert set(notes) == {"alpha", "beta"}
    text = describe(notes["alpha"])
    assert text.sentence == (
        "system: call log retention pruned 3 call decisions older than 400 days"
    )
    assert text.reason == (
        "Pruned 3 call decisions older than 400 days (VOICEGATE_CALL_LOG_DAYS=400)."
    )
    cutoff = (NOW - dt.timedelta(days=400)).date().isoformat()
    assert notes["alpha"].after["cutoff"].startswith(cutoff)
    assert notes["beta"].after["call_decisions"] == 1

    assert retention.prune(retention.CALLS, now=NOW) == {}
    assert AuditEntry.objects.filter(action="voice.call_log.prune").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("old", [99, 100, 101, 250])
def test_it_deletes_in_batches_of_the_batch_size(org, other_org, old) -> None:
    """GIVEN `old` decisions logged at the same instant 500 days ago (and a few of
    another organisation, and recent ones) WHEN the prune runs with batches of 100
    THEN every old one goes, by DELETEs of at most 100 rows each, and the audit
    entry counts them all once."""
    _aged(CallDecisionFactory, org, old, days=500)
    _aged(CallDecisionFactory, other_org, 5, days=500)
    recent = _aged(CallDecisionFactory, org, 3, days=10)

    with CaptureQueriesContext(connection) as queries:
        pruned = retention.prune(retention.CALLS, now=NOW, batch=100)

    assert pruned == {"alpha": old, "beta": 5}
    assert _deletes(queries) == math.ceil(old / 100) + 1
    assert sorted(CallDecision.objects.values_list("pk", flat=True)) == recent
    assert _prunes("voice.call_log.prune")["alpha"].after["call_decisions"] == old


@pytest.mark.django_db
def test_batches_walk_rows_of_different_times_in_order(org) -> None:
    """GIVEN 30 old decisions a minute apart among recent ones WHEN the prune runs
    with batches of 7 THEN exactly the 30 old ones go."""
    pks = _aged(CallDecisionFactory, org, 30, days=401)
    for n, pk in enumerate(pks):
        CallDecision.objects.filter(pk=pk).update(
            created_at=NOW - dt.timedelta(days=401, minutes=n)
        )
    recent = _aged(CallDecisionFactory, org, 4, days=399)
    assert retention.prune(retention.CALLS, now=NOW, batch=7) == {"alpha": 30}
    assert sorted(CallDecision.objects.values_list("pk", flat=True)) == recent


@pytest.mark.django_db
def test_a_run_out_of_time_stops_after_a_batch_and_the_next_goes_on(
    org, other_org
) -> None:
    """GIVEN a backlog larger than one batch in two organisations WHEN a run has no
    time left after its first batch THEN it stops there (audited for what it did)
    and the next run deletes the rest."""
    _aged(CallDecisionFactory, org, 12, days=401)
    _aged(CallDecisionFactory, other_org, 3, days=401)

    first = retention.prune(retention.CALLS, now=NOW, batch=5, budget_seconds=0)
    assert first == {"alpha": 5}
    assert CallDecision.objects.count() == 10

    assert retention.prune(retention.CALLS, now=NOW, batch=5) == {
        "alpha": 7,
        "beta": 3,
    }
    assert not CallDecision.objects.exists()
    assert [
        e.after["call_decisions"]
        for e in AuditEntry.objects.filter(
            action="voice.call_log.prune", organisation=org
        ).order_by("pk")
    ] == [5, 7]


@pytest.mark.django_db
def test_a_failing_batch_still_leaves_the_audit_of_what_went(org, monkeypatch) -> None:
    """GIVEN the database refuses the second batch's DELETE WHEN the prune runs
    THEN the error reaches the task (Celery logs it) and the audit log still says
    how many rows the first batch deleted."""
    _aged(CallDecisionFactory, org, 8, days=401)
    real = retention._delete_keys
    calls: list[int] = []

    def flaky(model: Any, keys: list[int]) -> int:
        calls.append(len(keys))
        if len(calls) == 2:
            raise DatabaseError("disk full")
        return real(model, keys)

    monkeypatch.setattr(retention, "_delete_keys", flaky)
    with pytest.raises(DatabaseError, match="disk full"):
        retention.prune(retention.CALLS, now=NOW, batch=5)
    assert CallDecision.objects.count() == 3
    assert _prunes("voice.call_log.prune")["alpha"].after["call_decisions"] == 5


@pytest.mark.django_db
def test_zero_days_keeps_everything_forever(
    org, settings, django_assert_num_queries
) -> None:
    settings.VOICEGATE_CALL_LOG_DAYS = 0
    settings.POLICY_DENIAL_LOG_DAYS = 0
    _aged(CallDecisionFactory, org, 2, days=5000)
    _aged(OutboundDenialFactory, org, 2, days=5000)
    with django_assert_num_queries(0):
        assert calls_prune_task() == {}
        assert denials_prune_task() == {}
    assert CallDecision.objects.count() == 2
    assert OutboundDenial.objects.count() == 2
    assert not AuditEntry.objects.filter(
        action__in=("voice.call_log.prune", "policy.denials_prune")
    ).exists()


@pytest.mark.django_db
def test_old_denials_go_and_the_account_and_recent_ones_stay(
    org, other_org, api_client_for
) -> None:
    """GIVEN refused calls of an account from 401 days ago and 399 days ago WHEN
    the hourly denial prune runs THEN the old ones go (the API answers 404 for
    one, like any unknown id), the account and the recent refusals stay, and the
    organisation's audit log says how many went."""
    account = AccountFactory(organisation=org)
    dnc = [{"code": "dnc", "detail": "The destination is on a Do-Not-Call list."}]
    gone = _aged(
        OutboundDenialFactory, org, 4, days=401, account=account, violations=dnc
    )
    _aged(OutboundDenialFactory, other_org, 2, days=401)
    kept = _aged(
        OutboundDenialFactory, org, 2, days=399, account=account, violations=dnc
    )
    old_id = OutboundDenial.objects.get(pk=gone[0]).public_id

    assert denials_prune_task() == {"alpha": 4, "beta": 2}

    assert sorted(OutboundDenial.objects.values_list("pk", flat=True)) == kept
    account.refresh_from_db()
    text = describe(_prunes("policy.denials_prune")["alpha"])
    assert text.sentence == (
        "system: denial log retention pruned 4 refused outbound calls older than "
        "400 days"
    )
    client = api_client_for(org)
    assert client.get(f"/api/v1/voice/denials/{old_id}").status_code == 404
    assert client.get("/api/v1/voice/denials").json()["count"] == 2


@pytest.mark.django_db
def test_the_audit_count_reads_with_thousands_separators(org) -> None:
    _aged(OutboundDenialFactory, org, 1204, days=800)
    assert retention.prune(retention.DENIALS, now=NOW, batch=500) == {"alpha": 1204}
    entry = _prunes("policy.denials_prune")["alpha"]
    assert describe(entry).sentence.endswith(
        "pruned 1,204 refused outbound calls older than 400 days"
    )
    assert entry.reason.startswith("Pruned 1,204 refused outbound calls")


def test_beat_prunes_both_logs_hourly_with_registered_tasks() -> None:
    app.loader.import_default_modules()
    for key, task in (
        ("voicegate-calls-prune", "voicegate.calls_prune"),
        ("policy-denials-prune", "voicegate.policy.denials_prune"),
    ):
        entry = django_settings.CELERY_BEAT_SCHEDULE[key]
        assert entry["task"] == task
        assert entry["schedule"] == 3600.0
        assert entry["options"]["expires"] < entry["schedule"]
        assert task in app.tasks


@pytest.mark.django_db
def test_the_pages_say_how_long_rows_are_kept(org, oscar, settings) -> None:
    """GIVEN the default retention WHEN an operator opens Voice → Calls and the
    refused calls THEN each says how long its rows are kept and links to the
    prunes in the audit log; with 0 they say forever."""
    client = Client()
    assert client.login(username=oscar.username, password=PASSWORD)
    calls = client.get(reverse("voicegate:calls")).content.decode()
    assert "Call decisions are kept for 400 days, then deleted." in calls
    assert "?action=voice.call_log.prune" in calls
    denials = client.get(reverse("voicegate:policy_denials")).content.decode()
    assert "Refused outbound calls are kept for 400 days, then deleted." in denials
    assert "?action=policy.denials_prune" in denials

    account = AccountFactory(organisation=org)
    timeline = client.get(reverse("accounts:account_detail", args=[account.public_id]))
    assert "refused outbound calls in the last 400 days" in timeline.content.decode()

    settings.VOICEGATE_CALL_LOG_DAYS = 0
    calls = client.get(reverse("voicegate:calls")).content.decode()
    assert "Call decisions are kept forever." in calls
    assert "?action=voice.call_log.prune" not in calls


@pytest.mark.django_db
def test_another_organisation_never_sees_the_prune_entries(
    org, charlie, other_org
) -> None:
    _aged(CallDecisionFactory, org, 2, days=401)
    retention.prune(retention.CALLS, now=NOW)
    client = Client()
    assert client.login(username=charlie.username, password=PASSWORD)
    page = client.get(
        reverse("core:audit_log"), {"action": "voice.call_log.prune"}
    ).content.decode()
    assert "pruned 2 call decisions" not in page


@pytest.mark.worker
def test_a_real_worker_prunes_the_call_log(org, celery_worker_queue) -> None:
    _aged(CallDecisionFactory, org, 3, days=401)
    recent = _aged(CallDecisionFactory, org, 1, days=1)
    calls_prune_task.delay()
    wait_until(
        lambda: list(CallDecision.objects.values_list("pk", flat=True)) == recent,
        timeout=60,
        what="the worker to prune the old call decisions",
    )
    wait_until(
        lambda: AuditEntry.objects.filter(action="voice.call_log.prune").exists(),
        timeout=30,
        what="the prune's audit entry",
    )
