"""Monitoring services against the built-in sandbox (in process): enable, register,
refresh, scheduled checks, the business-day schedule, follow-ups, roles, audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from typing import Any

import httpx
import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from remediation import monitoring, providers, sandbox_reputation
from remediation.choices import (
    CheckFrequency,
    GateStatus,
    RefreshStatus,
    SpamRisk,
)
from remediation.errors import (
    BadRequest,
    GateClosed,
    InvalidParameters,
    RateLimited,
)
from remediation.models import (
    OwnedNumber,
    ReputationObservation,
    ReputationRefresh,
    SandboxNumber,
    SandboxRemediation,
)
from tests.remediation.conftest import make_enterprise, numbers, own
from trustconsole.core.audit_text import describe
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry

BATCH = numbers(5, start=300)


@pytest.fixture
def monitored(settings: Any, sandbox_in_process: str, org, actor_for) -> Any:
    """Alpha's enterprise with monitoring enabled (approved at once) and 5 numbers."""
    settings.REMEDIATION_SANDBOX_APPROVAL_SECONDS = 0
    enterprise = make_enterprise(org)
    own(enterprise, BATCH, spam_risk=None)
    monitoring.reputation_enable(
        actor=actor_for(org),
        enterprise=enterprise,
        loa_document_id="doc_loa_1",
        check_frequency=CheckFrequency.DAILY,
    )
    return enterprise


def sandbox_key(org) -> str:
    return hashlib.sha256(f"sandbox-{org.public_id}".encode()).hexdigest()


def flag(enterprise, e164: str, risk: str = "high") -> None:
    # Through the same in-process transport as the provider traffic.
    with httpx.Client(
        transport=providers.transport_override, base_url="http://testserver"
    ) as client:
        response = client.post(
            "/sandbox/telnyx/control/reputation",
            json={
                "enterprise_id": enterprise.upstream_id,
                "phone_number": e164,
                "spam_risk": risk,
                "spam_category": "robocall",
            },  # fmt: skip
            headers={
                "Authorization": f"Bearer sandbox-{enterprise.organisation.public_id}"
            },
        )
    assert response.status_code == 200, response.text


def test_enable_records_the_providers_answer_and_audits_it(monitored) -> None:
    """GIVEN an enterprise with the terms accepted WHEN monitoring is enabled THEN
    the sandbox's record (approved, LOA approved) is kept, the next check is
    scheduled, and the audit entry says what happened in words."""
    monitored.refresh_from_db()
    assert monitored.monitoring_enabled and monitored.monitoring_approved
    assert monitored.loa_document_id == "doc_loa_1"
    assert monitored.next_sync_at is not None
    entry = AuditEntry.objects.get(action="reputation.enable")
    assert "monitoring enabled, checked daily" in entry.reason
    assert entry.after["reputation_status"] == "approved"


def test_enable_refusals(settings, sandbox_in_process, org, actor_for) -> None:
    """No terms → 403; bad frequency or LOA → 422; twice → 400; viewer → denied."""
    enterprise = make_enterprise(org, terms_accepted_at=None)
    admin = actor_for(org)
    with pytest.raises(GateClosed):
        monitoring.reputation_enable(
            actor=admin, enterprise=enterprise, loa_document_id="doc"
        )
    with pytest.raises(InvalidParameters) as bad:
        monitoring.reputation_enable(
            actor=admin, enterprise=enterprise, loa_document_id="", check_frequency="x"
        )
    assert {p.pointer for p in bad.value.problems} == {
        "/loa_document_id",
        "/check_frequency",
    }
    with pytest.raises(PermissionDenied):
        monitoring.reputation_enable(
            actor=actor_for(org, Role.VIEWER),
            enterprise=enterprise,
            loa_document_id="d",
        )
    enterprise = make_enterprise(org, name="Second")
    monitoring.reputation_enable(
        actor=admin, enterprise=enterprise, loa_document_id="d"
    )
    with pytest.raises(BadRequest, match="already enabled"):
        monitoring.reputation_enable(
            actor=admin, enterprise=enterprise, loa_document_id="d"
        )


def test_frequency_changes_only_once_approved(
    settings, sandbox_in_process, org, actor_for
) -> None:
    """GIVEN a record still pending WHEN the frequency is changed THEN 400 and the
    provider is not asked; once approved it changes and is audited."""
    settings.REMEDIATION_SANDBOX_APPROVAL_SECONDS = 60
    enterprise = make_enterprise(org)
    admin = actor_for(org)
    monitoring.reputation_enable(
        actor=admin, enterprise=enterprise, loa_document_id="d"
    )
    assert enterprise.reputation_status == GateStatus.PENDING
    with pytest.raises(BadRequest, match="once the reputation status is approved"):
        monitoring.reputation_frequency_update(
            actor=admin, enterprise=enterprise, check_frequency="weekly"
        )
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)):
        monitoring.reputation_sync(enterprise_id=enterprise.pk)
        enterprise.refresh_from_db()
        assert enterprise.reputation_status == GateStatus.APPROVED
        monitoring.reputation_frequency_update(
            actor=admin, enterprise=enterprise, check_frequency="weekly"
        )
    enterprise.refresh_from_db()
    assert enterprise.check_frequency == "weekly"
    assert AuditEntry.objects.filter(action="reputation.status_change").exists()
    entry = AuditEntry.objects.get(action="reputation.frequency_update")
    assert entry.reason == "Numbers are now checked weekly."


def test_a_rejected_loa_is_reported(settings, sandbox_in_process, org, actor_for):
    settings.REMEDIATION_SANDBOX_APPROVAL_SECONDS = 0
    enterprise = make_enterprise(org)
    monitoring.reputation_enable(
        actor=actor_for(org), enterprise=enterprise, loa_document_id="[sandbox:reject]"
    )
    assert enterprise.reputation_status == GateStatus.REJECTED
    assert enterprise.rejection_reasons
    with pytest.raises(GateClosed):
        monitoring.reputation_numbers_register(
            actor=actor_for(org), enterprise=enterprise, phone_numbers=BATCH[:1]
        )


def test_register_is_all_or_nothing(monitored, org, actor_for) -> None:
    """GIVEN one number the enterprise does not own, or 101 numbers, or a Canadian
    number WHEN registering THEN 422 and nothing is registered anywhere."""
    admin = actor_for(org)
    with pytest.raises(InvalidParameters) as foreign:
        monitoring.reputation_numbers_register(
            actor=admin, enterprise=monitored, phone_numbers=[BATCH[0], "+12025559999"]
        )
    assert foreign.value.problems[0].pointer == "/phone_numbers/1"
    with pytest.raises(InvalidParameters, match="1 to 100"):
        monitoring.reputation_numbers_register(
            actor=admin, enterprise=monitored, phone_numbers=numbers(101)
        )
    own(monitored, ["+14165550100"])  # Toronto: the provider refuses Canada
    with pytest.raises(InvalidParameters, match="not a US number"):
        monitoring.reputation_numbers_register(
            actor=admin, enterprise=monitored, phone_numbers=[BATCH[0], "+14165550100"]
        )
    assert not OwnedNumber.objects.filter(registered_at__isnull=False).exists()
    assert not SandboxNumber.objects.exists()


def test_register_refresh_and_flag_keep_a_history(monitored, org, actor_for) -> None:
    """GIVEN registered numbers WHEN an operator refreshes them THEN each gets an
    observation with the sandbox's data; WHEN the sandbox flags one and the
    scheduled check runs THEN it is elevated, with one more observation."""
    admin, operator = actor_for(org), actor_for(org, Role.OPERATOR)
    registered = monitoring.reputation_numbers_register(
        actor=admin, enterprise=monitored, phone_numbers=BATCH
    )
    assert all(n.is_registered for n in registered)
    assert not ReputationObservation.objects.exists()  # null until the first check
    with pytest.raises(PermissionDenied):
        monitoring.reputation_refresh_request(
            actor=actor_for(org, Role.VIEWER), enterprise=monitored, phone_numbers=BATCH
        )
    job = monitoring.reputation_refresh_request(
        actor=operator, enterprise=monitored, phone_numbers=BATCH
    )
    assert job.status == RefreshStatus.QUEUED
    monitoring.refresh_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == RefreshStatus.DONE and job.total_successful == 5
    assert ReputationObservation.objects.count() == 5
    rows = {r.e164: r for r in SandboxNumber.objects.all()}
    for n in OwnedNumber.objects.filter(e164__in=BATCH):
        expected = sandbox_reputation.reputation_data(rows[n.e164], job.finished_at)
        assert n.spam_risk == expected["spam_risk"]
        obs = n.observations.get()
        assert obs.maturity_score == expected["maturity_score"]
        assert obs.data["last_refreshed_at"] == expected["last_refreshed_at"]

    flag(monitored, BATCH[2])
    monitoring.reputation_sync(enterprise_id=monitored.pk)
    flagged = OwnedNumber.objects.get(e164=BATCH[2])
    assert flagged.spam_risk == SpamRisk.HIGH and flagged.spam_category == "robocall"
    assert flagged.elevated_at is not None
    assert flagged.observations.count() == 2
    # A second check with nothing new adds no observation.
    monitoring.reputation_sync(enterprise_id=monitored.pk)
    assert flagged.observations.count() == 2
    entry = AuditEntry.objects.filter(action="reputation.risk_change").first()
    assert f"{BATCH[2]}" in entry.reason and "→ high" in entry.reason
    assert entry.reason.startswith("Scheduled check: Spam risk changed")


def test_refreshes_honour_the_limit_and_retry_after(
    settings, monitored, org, actor_for
) -> None:
    """GIVEN the per-enterprise limit reached WHEN an operator asks again THEN 429
    with when the next may go out; a provider 429 blocks until its Retry-After."""
    settings.REPUTATION_REFRESH_LIMIT = 1
    operator = actor_for(org, Role.OPERATOR)
    monitoring.reputation_numbers_register(
        actor=actor_for(org), enterprise=monitored, phone_numbers=BATCH
    )
    job = monitoring.reputation_refresh_request(
        actor=operator, enterprise=monitored, phone_numbers=BATCH[:1]
    )
    monitoring.refresh_run(job_id=job.pk)
    with pytest.raises(RateLimited) as limited:
        monitoring.reputation_refresh_request(
            actor=operator, enterprise=monitored, phone_numbers=BATCH[:1]
        )
    assert 3500 <= limited.value.retry_after <= 3600
    assert "next one may go out" in limited.value.messages[0]

    settings.REPUTATION_REFRESH_LIMIT = 10
    from remediation.models import SandboxFault

    SandboxFault.objects.create(
        account_key=sandbox_key(org), kind="rate_limit", retry_after=40, method="POST"
    )
    job = monitoring.reputation_refresh_request(
        actor=operator, enterprise=monitored, phone_numbers=BATCH[:2]
    )
    delay = monitoring.refresh_run(job_id=job.pk)
    job.refresh_from_db()
    monitored.refresh_from_db()
    assert job.status == RefreshStatus.QUEUED and 39 <= delay <= 40
    assert monitored.refresh_blocked_until > job.created_at
    with pytest.raises(RateLimited):
        monitoring.reputation_refresh_request(
            actor=operator, enterprise=monitored, phone_numbers=BATCH[:1]
        )
    assert monitoring.refresh_run(job_id=job.pk) is None  # not before its time
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=41)):
        assert monitoring.refresh_jobs_due() == [job.pk]
        monitoring.refresh_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == RefreshStatus.DONE


def test_refresh_refuses_unregistered_numbers(monitored, org, actor_for) -> None:
    with pytest.raises(InvalidParameters, match="not registered"):
        monitoring.reputation_refresh_request(
            actor=actor_for(org, Role.OPERATOR),
            enterprise=monitored,
            phone_numbers=BATCH[:1],
        )
    assert not ReputationRefresh.objects.exists()


def test_deregister_and_disable(monitored, org, actor_for) -> None:
    """Deregistering stops monitoring one number; disabling, all of them."""
    admin = actor_for(org)
    monitoring.reputation_numbers_register(
        actor=admin, enterprise=monitored, phone_numbers=BATCH
    )
    one = OwnedNumber.objects.get(e164=BATCH[0])
    monitoring.reputation_number_deregister(actor=admin, number=one)
    one.refresh_from_db()
    assert not one.is_registered and one.removed_reason == "deregistered"
    assert SandboxNumber.objects.count() == 4
    monitoring.reputation_disable(
        actor=admin, enterprise=monitored, reason="Contract ended"
    )
    monitored.refresh_from_db()
    assert not monitored.monitoring_enabled
    assert monitored.reputation_status == GateStatus.DELETED
    assert not OwnedNumber.objects.filter(registered_at__isnull=False).exists()
    assert not SandboxNumber.objects.exists()
    entry = AuditEntry.objects.get(action="reputation.disable")
    assert entry.reason == "Contract ended"
    assert describe(entry).sentence.endswith("; 4 number(s) are no longer monitored"), (
        describe(entry).sentence
    )


# --- The sandbox's data ----------------------------------------------------------


def test_sandbox_risk_rises_and_falls_over_time() -> None:
    """The base risk is a function of the number and the slot: over 60 slots a
    number is sometimes elevated and sometimes low; the same slot repeats."""
    start = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    risks = [
        sandbox_reputation.base_risk("+12025550142", start + dt.timedelta(days=d))
        for d in range(60)
    ]
    assert SpamRisk.LOW in risks
    assert {SpamRisk.MEDIUM, SpamRisk.HIGH} & set(risks)
    assert risks == [
        sandbox_reputation.base_risk("+12025550142", start + dt.timedelta(days=d))
        for d in range(60)
    ]


@pytest.mark.django_db
def test_sandbox_remediation_lowers_most_numbers_but_not_all(settings) -> None:
    """GIVEN two flagged numbers in a completed sandbox remediation (both in the
    remediated bucket) THEN afterwards one is low and the one whose second-to-last
    digit is 9 is still flagged; a requires_review number stays flagged too."""
    now = dt.datetime.now(dt.UTC)
    flagged_at = now - dt.timedelta(hours=2)
    rows = {}
    for e164 in ("+12025550300", "+12025550390", "+12025550307"):
        rows[e164] = SandboxNumber.objects.create(
            account_key="k", enterprise_id="e", e164=e164,
            registered_at=flagged_at, flagged_at=flagged_at, flag_risk="high",
        )  # fmt: skip
    SandboxRemediation.objects.create(
        account_key="k", enterprise_id="e", phone_numbers=list(rows),
        call_purpose="Reminders", created_at=now - dt.timedelta(hours=1),
    )  # fmt: skip
    before = now - dt.timedelta(minutes=61)
    assert sandbox_reputation.risk_at(rows["+12025550300"], before)[0] == "high"
    assert sandbox_reputation.risk_at(rows["+12025550300"], now)[0] == "low"
    assert sandbox_reputation.risk_at(rows["+12025550390"], now)[0] == "high"
    assert sandbox_reputation.risk_at(rows["+12025550307"], now)[0] == "high"


# --- The schedule ------------------------------------------------------------------


NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("local", "frequency", "expected"),
    [
        # Friday evening in New York: the next business day is Monday.
        ("2026-12-04 18:00", "business_daily", "2026-12-07 06:00"),
        # Saturday and Sunday also wait for Monday.
        ("2026-12-05 09:00", "business_daily", "2026-12-07 06:00"),
        ("2026-12-06 23:59", "business_daily", "2026-12-07 06:00"),
        # Monday to Tuesday.
        ("2026-12-07 07:00", "business_daily", "2026-12-08 06:00"),
        ("2026-12-05 09:00", "daily", "2026-12-06 06:00"),
        ("2026-12-05 09:00", "weekly", "2026-12-12 06:00"),
        ("2026-12-05 09:00", "biweekly", "2026-12-19 06:00"),
        ("2027-01-31 09:00", "monthly", "2027-02-28 06:00"),
    ],
)
def test_next_check_follows_the_frequency_in_local_time(
    local, frequency, expected
) -> None:
    after = dt.datetime.fromisoformat(local).replace(tzinfo=NEW_YORK)
    got = monitoring.next_check_at(frequency, after=after, tz=NEW_YORK)
    assert got.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M") == expected


def test_never_means_manual_only() -> None:
    assert (
        monitoring.next_check_at("never", after=dt.datetime.now(dt.UTC), tz=NEW_YORK)
        is None
    )


def test_business_day_checks_skip_the_weekend(monitored, org, actor_for) -> None:
    """GIVEN an organisation in New York checked every business day WHEN the clock
    runs from Friday's check over the weekend THEN nothing is due on Saturday or
    Sunday (local), and Monday 06:00 is."""
    org.time_zone = "America/New_York"
    org.save()
    monitored.refresh_from_db()
    monitoring.reputation_frequency_update(
        actor=actor_for(org),
        enterprise=monitored,
        check_frequency=CheckFrequency.BUSINESS_DAILY,
    )
    # A Friday ahead of the real clock: the frequency update above was made now,
    # and the provider refuses a sync that seems to come before it.
    today = dt.datetime.now(NEW_YORK).date() + dt.timedelta(days=7)
    friday_date = today + dt.timedelta(days=(4 - today.weekday()) % 7)

    def local(days: int, hour: int, minute: int = 0) -> dt.datetime:
        day = friday_date + dt.timedelta(days=days)
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)

    with time_machine.travel(local(0, 11), tick=False):
        monitoring.reputation_sync(enterprise_id=monitored.pk)
    monitored.refresh_from_db()
    assert monitored.next_sync_at == local(3, 6)  # Monday 06:00
    for moment in (local(1, 6, 30), local(2, 23), local(3, 5, 59)):
        with time_machine.travel(moment, tick=False):
            assert monitoring.sync_claim_due() == []
    with time_machine.travel(local(3, 6, 1)):
        assert monitoring.sync_claim_due() == [monitored.pk]
        assert monitoring.sync_claim_due() == []  # claimed once


# --- Follow-ups after remediation ----------------------------------------------------


def _completed_request(enterprise, org, e164s, *, monitored: bool = True):
    from remediation.models import RemediationNumber, RemediationRequest

    now = dt.datetime.now(dt.UTC)
    request = RemediationRequest.objects.create(
        organisation=org, enterprise=enterprise, status="completed",
        call_purpose="Reminders", phone_numbers_count=len(e164s),
        phone_numbers_submitted=len(e164s), phone_numbers_ineligible=0,
        created_by="oscar", provider="sandbox", results_available=True,
        follow_up_due_at=now if monitored else None,
    )  # fmt: skip
    for position, e164 in enumerate(e164s):
        RemediationNumber.objects.create(
            request=request, enterprise=enterprise, e164=e164, position=position,
            eligible=True, in_flight=False, outcome="remediated", risk_before="high",
        )  # fmt: skip
    return request


def test_a_follow_up_waits_for_the_providers_retry_after(
    monitored, org, actor_for
) -> None:
    """GIVEN a completed request while the provider asked to wait 10 minutes WHEN
    the tick creates its follow-up THEN the refresh is due when the wait ends, not
    before; then it runs and records each number's risk afterwards."""
    monitoring.reputation_numbers_register(
        actor=actor_for(org), enterprise=monitored, phone_numbers=BATCH[:2]
    )
    blocked = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    type(monitored).objects.filter(pk=monitored.pk).update(
        refresh_blocked_until=blocked
    )
    request = _completed_request(monitored, org, BATCH[:2])
    assert monitoring.follow_ups_create() == []  # nothing may go out yet
    job = ReputationRefresh.objects.get(request=request)
    assert job.run_after == blocked and job.kind == "follow_up"
    assert monitoring.follow_ups_create() == []  # not created twice
    assert monitoring.refresh_jobs_due() == []
    with time_machine.travel(blocked + dt.timedelta(seconds=1)):
        assert monitoring.refresh_jobs_due() == [job.pk]
        monitoring.refresh_run(job_id=job.pk)
    request.refresh_from_db()
    assert request.follow_up_done_at is not None
    risks = dict(
        OwnedNumber.objects.filter(e164__in=BATCH[:2]).values_list("e164", "spam_risk")
    )
    after = dict(request.numbers.values_list("e164", "risk_after"))
    assert after == risks
    entry = AuditEntry.objects.get(action="remediation.follow_up_done")
    assert entry.reason.startswith("Follow-up refresh after remediation: ")


def test_a_follow_up_with_nothing_monitored_finishes_in_words(monitored, org) -> None:
    request = _completed_request(monitored, org, BATCH[:1])
    monitoring.follow_ups_create()
    request.refresh_from_db()
    assert request.follow_up_done_at is not None
    assert not ReputationRefresh.objects.exists()
    entry = AuditEntry.objects.get(action="remediation.follow_up_done")
    assert entry.reason == "None of its numbers is monitored."
