"""Forwarding and polling against the sandbox (in process): states, results, leases,
idempotency, back-off, Retry-After, failures, cancelling, the beat tick."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from remediation import poller, services
from remediation.choices import DeliveryStatus, Provider, RemediationStatus, SpamRisk
from remediation.errors import InFlightConflict
from remediation.models import (
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    SandboxFault,
    SandboxRemediation,
    WebhookDelivery,
)
from remediation.providers import UpstreamRemediation
from remediation.selectors import request_results, settings_for
from tests.remediation.conftest import numbers, own
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 6, 7, 18, 0, tzinfo=dt.UTC)
# Last digits 0 … 9: the sandbox's outcome table.
BATCH = [f"+1202555010{d}" for d in range(10)]


@pytest.fixture(autouse=True)
def _fast_polls(settings: Any) -> None:
    settings.REMEDIATION_POLL_INITIAL_SECONDS = 1
    settings.REMEDIATION_POLL_MAX_SECONDS = 8
    settings.OUTBOUND_ALLOW_PRIVATE = False


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def submit(
    actor_for: Any, org: Any, enterprise: Any, batch: list[str], **kw: Any
) -> Any:
    own(
        enterprise, [n for n in batch if not enterprise.numbers.filter(e164=n).exists()]
    )
    return services.remediation_submit(
        actor=actor_for(org, "operator"),
        enterprise=enterprise,
        phone_numbers=batch,
        call_purpose=kw.pop("call_purpose", "Appointment reminders"),
        **kw,
    )


def process(request: RemediationRequest) -> float | None:
    delay = poller.request_process(request_id=request.pk)
    request.refresh_from_db()
    return delay


def at(clock: Any, seconds: float) -> None:
    clock.move_to(START + dt.timedelta(seconds=seconds))


def test_a_request_is_forwarded_polled_and_completed(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    """GIVEN a submitted batch of ten WHEN the poller runs as the sandbox's clock
    moves THEN the request goes pending → in_progress → completed, tier times and
    every number's bucket are stored, each status change is audited and notified
    once, the numbers leave flight, and remediated numbers start their cooldown."""
    request = submit(
        actor_for, org, enterprise, BATCH, webhook_url="https://hooks.example.com/r"
    )
    assert process(request) == 1
    assert request.upstream_id
    assert SandboxRemediation.objects.get().phone_numbers == BATCH
    assert request.status == RemediationStatus.PENDING

    at(clock, 15)
    process(request)
    assert request.status == RemediationStatus.IN_PROGRESS
    assert request_results(request=request) is None

    at(clock, 31)
    process(request)
    assert request.status == RemediationStatus.IN_PROGRESS
    assert request.tier1_completed_at == START + dt.timedelta(seconds=30)
    partial = request_results(request=request)
    assert partial["remediated"] == [BATCH[0], BATCH[2], BATCH[4]]

    at(clock, 61)
    assert process(request) is None
    assert request.status == RemediationStatus.COMPLETED
    assert request.tier2_completed_at == START + dt.timedelta(seconds=60)
    assert request.next_check_at is None and request.claim_token == ""
    assert request_results(request=request) == {
        "remediated": BATCH[0:5],
        "not_flagged": BATCH[5:7],
        "requires_review": BATCH[7:9],
        "ineligible": [],
        "refused": BATCH[9:10],
    }
    assert not RemediationNumber.objects.filter(in_flight=True).exists()
    changes = AuditEntry.objects.filter(action="remediation.status_change")
    assert sorted((e.before["status"], e.after["status"]) for e in changes) == [
        ("in_progress", "completed"),
        ("pending", "in_progress"),
    ]
    assert changes.first().actor_label == "system: remediation poller"
    deliveries = WebhookDelivery.objects.order_by("id")
    assert [(d.status_from, d.status_to) for d in deliveries] == [
        ("pending", "in_progress"),
        ("in_progress", "completed"),
    ]
    assert deliveries[1].payload["results"]["refused"] == [BATCH[9]]
    assert deliveries[1].payload["enterprise_id"] == str(enterprise.public_id)
    remediated = OwnedNumber.objects.get(e164=BATCH[0])
    assert remediated.last_remediated_at is not None
    assert remediated.spam_risk == SpamRisk.LOW
    assert OwnedNumber.objects.get(e164=BATCH[9]).spam_risk == SpamRisk.HIGH


def test_cooldown_numbers_stay_out_of_the_upstream_batch(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    fresh, cooling = BATCH[0], BATCH[1]
    own(enterprise, [cooling], last_remediated_at=START - dt.timedelta(days=3))
    request = submit(actor_for, org, enterprise, [fresh, cooling])
    process(request)
    assert SandboxRemediation.objects.get().phone_numbers == [fresh]
    at(clock, 61)
    process(request)
    results = request_results(request=request)
    assert results["ineligible"] == [cooling]
    assert results["remediated"] == [fresh]


def test_a_batch_of_only_ineligible_numbers_completes_at_once(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    own(enterprise, BATCH[:2], last_remediated_at=START - dt.timedelta(days=1))
    request = submit(actor_for, org, enterprise, BATCH[:2])
    assert process(request) is None
    assert request.status == RemediationStatus.COMPLETED
    assert request_results(request=request)["ineligible"] == BATCH[:2]
    assert not SandboxRemediation.objects.exists()


def test_a_retried_poll_applies_a_status_change_once(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    """GIVEN the same provider answer applied twice (a retried poll) THEN there is
    one status change, one audit entry and one webhook."""
    request = submit(
        actor_for, org, enterprise, BATCH[:2], webhook_url="https://hooks.example.com"
    )
    process(request)
    snapshot = UpstreamRemediation(id=request.upstream_id, status="in_progress")
    for _ in range(2):
        token = poller.claim(request_id=request.pk, due_only=False)
        poller.apply_snapshot(request_id=request.pk, token=token, snapshot=snapshot)
    assert AuditEntry.objects.filter(action="remediation.status_change").count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_stale_answer_never_moves_a_status_backwards(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    token = poller.claim(request_id=request.pk, due_only=False)
    poller.apply_snapshot(
        request_id=request.pk,
        token=token,
        snapshot=UpstreamRemediation(id=request.upstream_id, status="in_progress"),
    )
    token = poller.claim(request_id=request.pk, due_only=False)
    poller.apply_snapshot(
        request_id=request.pk,
        token=token,
        snapshot=UpstreamRemediation(id=request.upstream_id, status="pending"),
    )
    request.refresh_from_db()
    assert request.status == RemediationStatus.IN_PROGRESS


def test_a_worker_that_lost_its_lease_changes_nothing(
    sandbox_in_process, clock, org, enterprise, actor_for, settings
) -> None:
    """GIVEN worker A's lease ran out and worker B took the request WHEN A finally
    applies its (late) answer THEN nothing changes; B's work stands."""
    settings.REMEDIATION_LEASE_SECONDS = 10
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    token_a = poller.claim(request_id=request.pk, due_only=False)
    at(clock, 11)
    token_b = poller.claim(request_id=request.pk, due_only=False)
    assert token_b and token_b != token_a
    late = poller.apply_snapshot(
        request_id=request.pk,
        token=token_a,
        snapshot=UpstreamRemediation(id=request.upstream_id, status="completed"),
    )
    assert late is None
    request.refresh_from_db()
    assert request.status == RemediationStatus.PENDING
    assert request.claim_token == token_b


def test_two_workers_never_hold_one_request(org, enterprise, actor_for) -> None:
    request = submit(actor_for, org, enterprise, BATCH[:1])
    first = poller.claim(request_id=request.pk)
    assert first
    assert poller.claim(request_id=request.pk) is None
    assert poller.claim(request_id=request.pk, token="not-the-token") is None
    assert poller.claim(request_id=request.pk, token=first) == first
    poller.release(request_id=request.pk, token=first)
    assert poller.claim(request_id=request.pk)


def test_the_tick_claims_due_requests_in_bounded_batches(
    clock, org, enterprise, actor_for
) -> None:
    requests = [submit(actor_for, org, enterprise, [n]) for n in numbers(5, start=100)]
    later = requests[4]
    RemediationRequest.objects.filter(pk=later.pk).update(
        next_check_at=START + dt.timedelta(hours=1)
    )
    held = poller.claim(request_id=requests[0].pk)
    first = poller.tick(limit=2)
    assert len(first.requests) == 2
    assert {pk for pk, _ in first.requests} == {requests[1].pk, requests[2].pk}
    second = poller.tick(limit=2)
    assert [pk for pk, _ in second.requests] == [requests[3].pk]
    assert poller.tick(limit=2).requests == []
    # A dead worker's lease runs out; the next tick hands the request out again.
    poller.release(request_id=requests[0].pk, token=held)
    at(clock, 10_000)
    assert len(poller.tick(limit=10).requests) == 5


def test_a_5xx_on_a_poll_is_retried_in_place_first(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    fault = SandboxFault.objects.create(
        account_key=_key(org), kind="error", status_code=502, remaining=2
    )
    at(clock, 15)
    process(request)
    assert request.status == RemediationStatus.IN_PROGRESS
    assert request.consecutive_errors == 0
    fault.refresh_from_db()
    assert fault.hits == 2


def test_a_5xx_is_retried_later_with_back_off(
    sandbox_in_process, clock, org, enterprise, actor_for, settings
) -> None:
    settings.REMEDIATION_HTTP_RETRIES = 0
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    SandboxFault.objects.create(
        account_key=_key(org), kind="error", status_code=503, remaining=5
    )
    delays = []
    now = 0.0
    for _ in range(3):
        now += 20
        at(clock, now)
        delays.append(process(request))
    assert delays == [1, 2, 4]
    assert request.consecutive_errors == 3
    assert "503" in request.last_error
    assert request.status == RemediationStatus.PENDING
    SandboxFault.objects.all().delete()
    at(clock, 100)
    process(request)
    assert request.status == RemediationStatus.COMPLETED
    assert request.consecutive_errors == 0 and request.last_error == ""


def test_a_429_is_honoured_with_its_retry_after(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    SandboxFault.objects.create(
        account_key=_key(org), kind="rate_limit", retry_after=30
    )
    at(clock, 5)
    assert process(request) == 30
    assert request.next_check_at == START + dt.timedelta(seconds=35)
    assert "429" in request.last_error
    at(clock, 20)
    assert poller.request_process(request_id=request.pk) is None  # not due yet
    at(clock, 36)
    process(request)
    assert request.status == RemediationStatus.IN_PROGRESS


def test_a_submission_refused_upstream_fails_the_request(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    SandboxFault.objects.create(
        account_key=_key(org), kind="error", status_code=422, method="POST"
    )
    request = submit(
        actor_for, org, enterprise, BATCH[:1], webhook_url="https://hooks.example.com"
    )
    assert process(request) is None
    assert request.status == RemediationStatus.FAILED
    assert "422" in request.failure_reason
    assert WebhookDelivery.objects.get().status_to == "failed"
    assert not RemediationNumber.objects.filter(in_flight=True).exists()


def test_the_provider_failing_a_request_is_stored(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    request = submit(
        actor_for, org, enterprise, BATCH[:1], call_purpose="x [sandbox:fail]"
    )
    process(request)
    at(clock, 40)
    process(request)
    assert request.status == RemediationStatus.FAILED
    assert request_results(request=request) is None


def test_it_gives_up_after_too_many_errors(
    sandbox_in_process, clock, org, enterprise, actor_for, settings
) -> None:
    settings.REMEDIATION_MAX_ERRORS = 3
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    SandboxFault.objects.create(account_key=_key(org), kind="error", remaining=10)
    for step in range(3):
        at(clock, 20 * (step + 1))
        process(request)
    assert request.status == RemediationStatus.FAILED
    assert "Gave up after 3" in request.failure_reason


def test_an_interrupted_submission_is_adopted_not_repeated(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    """GIVEN a worker that sent the batch upstream and died before storing the id
    WHEN the next worker forwards again THEN it finds and adopts that request."""
    request = submit(actor_for, org, enterprise, BATCH[:3])
    from remediation.providers import client_for

    with client_for(settings_for(organisation=org)) as client:
        upstream = client.submit(
            enterprise_id=enterprise.upstream_id,
            phone_numbers=BATCH[:3],
            call_purpose=request.call_purpose,
        )
    RemediationRequest.objects.filter(pk=request.pk).update(forward_started_at=START)
    process(request)
    assert request.upstream_id == upstream.id
    assert SandboxRemediation.objects.count() == 1


def test_telnyx_without_an_enterprise_id_fails_clearly(
    org, enterprise, actor_for
) -> None:
    row = settings_for(organisation=org)
    row.provider = Provider.TELNYX
    row.api_key = "KEY_test"
    row.save()
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    assert request.status == RemediationStatus.FAILED
    assert "no Telnyx enterprise id" in request.failure_reason


def test_cancelling_a_forwarded_request_asks_the_sandbox(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    request = submit(actor_for, org, enterprise, BATCH[:2])
    process(request)
    services.remediation_cancel(actor=actor_for(org, "operator"), request=request)
    request.refresh_from_db()
    assert request.status == RemediationStatus.CANCELLED
    assert SandboxRemediation.objects.get().cancelled_at is not None
    assert not RemediationNumber.objects.filter(in_flight=True).exists()


def test_a_request_forwarded_to_telnyx_cannot_be_cancelled(
    org, enterprise, actor_for
) -> None:
    request = submit(actor_for, org, enterprise, BATCH[:1])
    row = settings_for(organisation=org)
    row.provider, row.api_key = Provider.TELNYX, "KEY_test"
    row.save()
    RemediationRequest.objects.filter(pk=request.pk).update(
        provider=Provider.TELNYX, upstream_id="b7c1f1c0", forwarded_at=timezone.now()
    )
    request.refresh_from_db()
    with pytest.raises(InFlightConflict, match="no way to cancel"):
        services.remediation_cancel(actor=actor_for(org, "operator"), request=request)
    request.refresh_from_db()
    assert request.status == RemediationStatus.PENDING
    assert request.claim_token == ""


def test_a_request_being_worked_on_cannot_be_cancelled(
    org, enterprise, actor_for
) -> None:
    request = submit(actor_for, org, enterprise, BATCH[:1])
    poller.claim(request_id=request.pk)
    with pytest.raises(InFlightConflict, match="right now"):
        services.remediation_cancel(actor=actor_for(org, "operator"), request=request)


def test_a_vanished_request_is_skipped(db) -> None:
    assert poller.request_process(request_id=987654) is None


def test_deliveries_wait_for_their_time_in_the_tick(
    clock, org, enterprise, actor_for
) -> None:
    request = submit(
        actor_for, org, enterprise, BATCH[:1], webhook_url="https://hooks.example.com"
    )
    token = poller.claim(request_id=request.pk, due_only=False)
    poller.apply_snapshot(
        request_id=request.pk,
        token=token,
        snapshot=UpstreamRemediation(id="up-1", status="in_progress"),
    )
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    claimed = poller.tick(limit=10)
    assert [pk for pk, _ in claimed.deliveries] == [delivery.pk]
    assert poller.tick(limit=10).deliveries == []


def _key(org: Any) -> str:
    import hashlib

    return hashlib.sha256(f"sandbox-{org.public_id}".encode()).hexdigest()


def test_the_database_allows_one_in_flight_request_per_number(
    org, enterprise, actor_for
) -> None:
    """The last word on "one in flight": a partial unique index, so even a race
    between two submissions cannot hold a number twice."""
    from django.db import IntegrityError, transaction

    request = submit(actor_for, org, enterprise, BATCH[:1])
    with pytest.raises(IntegrityError), transaction.atomic():
        RemediationNumber.objects.create(
            request=submit(actor_for, org, enterprise, BATCH[1:2]),
            enterprise=enterprise,
            e164=BATCH[0],
            position=1,
            eligible=True,
            in_flight=True,
        )
    assert request.numbers.get().in_flight


def test_the_batch_insert_reports_a_taken_number_as_an_integrity_error(
    org, enterprise, actor_for
) -> None:
    """The fast insert path (COPY on PostgreSQL, executemany on SQLite) still
    raises Django's IntegrityError, which the submission turns into a 409."""
    from django.db import IntegrityError, transaction

    request = submit(actor_for, org, enterprise, BATCH[:1])
    row = (request.pk, enterprise.pk, BATCH[0], 5, True, True, "", None, None)
    other = submit(actor_for, org, enterprise, BATCH[1:2])
    with pytest.raises(IntegrityError), transaction.atomic():
        services._insert_numbers([(other.pk, *row[1:])])


def test_under_monitoring_completion_schedules_a_follow_up_instead(
    sandbox_in_process, clock, org, enterprise, actor_for
) -> None:
    """GIVEN an enterprise under reputation monitoring WHEN its request completes
    THEN remediated numbers keep their observed risk (the follow-up refresh will
    tell), start their cooldown, and the request's follow-up is due now."""
    enterprise.reputation_enabled_at = START
    enterprise.save()
    request = submit(actor_for, org, enterprise, BATCH[:1])
    process(request)
    at(clock, 61)
    process(request)
    assert request.status == RemediationStatus.COMPLETED
    assert request.follow_up_due_at == START + dt.timedelta(seconds=61)
    number = OwnedNumber.objects.get(e164=BATCH[0])
    assert number.spam_risk == SpamRisk.HIGH
    assert number.last_remediated_at is not None
    assert request.numbers.get().risk_before == SpamRisk.HIGH
