"""Monitoring end to end: a real Celery worker and a real beat, the sandbox provider
on a live server. Enable → approved by the provider → register → billable refresh
→ the numbers are flagged and the schedule finds it → remediation → the follow-up
refresh shows whose risk fell and whose did not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from remediation import monitoring, services
from remediation.choices import GateStatus, RefreshStatus, SpamRisk
from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    ReputationRefresh,
)
from remediation.selectors import settings_for
from tests.conftest import child_env, wait_for
from tests.remediation.conftest import make_enterprise, own
from tests.remediation.test_worker_kill import Processes
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.worker

# Sandbox outcomes by last digit: 0 remediated; 7 requires review. A second-to-last
# digit 9 is a number remediation does not lower.
CLEARS, STUBBORN, REVIEW = "+12025550300", "+12025550390", "+12025550307"
BATCH = [CLEARS, STUBBORN, REVIEW]


@pytest.fixture
def stack(
    transactional_db: None, tmp_path: Path, settings: Any, live_server: Any, org
) -> Iterator[dict[str, Any]]:
    """Worker and beat on a queue of their own; the sandbox on the live server."""
    settings.REMEDIATION_SANDBOX_APPROVAL_SECONDS = 2
    settings.REPUTATION_PENDING_POLL_SECONDS = 1
    settings.REMEDIATION_SANDBOX_PENDING_SECONDS = 1
    settings.REMEDIATION_SANDBOX_TIER1_SECONDS = 2
    settings.REMEDIATION_SANDBOX_TIER2_SECONDS = 3
    queue = f"test-rep-{uuid.uuid4().hex[:10]}"
    settings.REMEDIATION_QUEUE = queue
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the sandbox is on this machine
    row = settings_for(organisation=org)
    row.api_base = f"{live_server.url}/sandbox/telnyx/v2"
    row.save()
    env = child_env(
        REMEDIATION_QUEUE=queue,
        REMEDIATION_TICK_SECONDS="1",
        REMEDIATION_POLL_INITIAL_SECONDS="1",
        REMEDIATION_POLL_MAX_SECONDS="2",
        REMEDIATION_HTTP_BACKOFF_MS="100",
        REPUTATION_TICK_SECONDS="1",
        REPUTATION_PENDING_POLL_SECONDS="1",
        OUTBOUND_ALLOW_PRIVATE="true",
    )
    processes = Processes(tmp_path, env, queue)
    processes.worker("worker")
    processes.start(
        "beat", "beat", "--loglevel", "INFO",
        "--schedule", str(tmp_path / "beat-schedule"),
    )  # fmt: skip
    enterprise = make_enterprise(org)
    own(enterprise, BATCH, spam_risk=None)
    try:
        yield {"org": org, "enterprise": enterprise, "live": live_server.url}
    finally:
        processes.stop_all()


def _flag(stack: dict[str, Any], e164: str) -> None:
    org, enterprise = stack["org"], stack["enterprise"]
    response = httpx.post(
        f"{stack['live']}/sandbox/telnyx/control/reputation",
        json={
            "enterprise_id": enterprise.upstream_id,
            "phone_number": e164,
            "spam_risk": "high",
            "spam_category": "robocall",
        },
        headers={"Authorization": f"Bearer sandbox-{org.public_id}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_the_loop_from_enable_to_whether_the_risk_fell(stack, actor_for) -> None:
    """GIVEN monitoring enabled (pending at the provider) WHEN beat and the worker
    run THEN the enterprise becomes approved; registered numbers get data from a
    refresh; flagged numbers show as elevated after the scheduled check; after a
    remediation completes, the follow-up refresh finds one number low and two
    still flagged, and the request says so."""
    org, enterprise = stack["org"], stack["enterprise"]
    admin, operator = actor_for(org), actor_for(org, Role.OPERATOR)
    monitoring.reputation_enable(
        actor=admin,
        enterprise=enterprise,
        loa_document_id="doc_loa_e2e",
        check_frequency="daily",
    )
    assert enterprise.reputation_status == GateStatus.PENDING

    def approved() -> Enterprise | None:
        row = Enterprise.objects.get(pk=enterprise.pk)
        return row if row.monitoring_approved else None

    enterprise = wait_for(approved, timeout=30, what="the provider to approve")
    assert enterprise.next_sync_at > timezone.now()  # tomorrow, 06:00 local

    monitoring.reputation_numbers_register(
        actor=admin, enterprise=enterprise, phone_numbers=BATCH
    )
    job = monitoring.reputation_refresh_request(
        actor=operator, enterprise=enterprise, phone_numbers=BATCH
    )

    def refreshed() -> bool:
        return ReputationRefresh.objects.get(pk=job.pk).status == RefreshStatus.DONE

    wait_for(refreshed, timeout=30, what="the worker to run the refresh")
    assert all(
        n.spam_risk in SpamRisk.values and n.observations.count() == 1
        for n in OwnedNumber.objects.filter(e164__in=BATCH)
    )

    for e164 in BATCH:
        _flag(stack, e164)
    # The schedule's time comes: beat hands the check to the worker.
    Enterprise.objects.filter(pk=enterprise.pk).update(next_sync_at=timezone.now())

    def elevated() -> bool:
        return OwnedNumber.objects.filter(e164__in=BATCH, spam_risk="high").count() == 3

    wait_for(elevated, timeout=30, what="the scheduled check to see the flags")
    assert OwnedNumber.objects.filter(elevated_at__isnull=False).count() == 3

    request = services.remediation_submit(
        actor=operator,
        enterprise=enterprise,
        phone_numbers=BATCH,
        call_purpose="Appointment reminders for our dental clinic.",
    )

    def followed_up() -> RemediationRequest | None:
        row = RemediationRequest.objects.get(pk=request.pk)
        return row if row.follow_up_done_at else None

    request = wait_for(followed_up, timeout=90, what="the follow-up refresh")
    assert request.status == "completed"
    effects = {
        n.e164: n.effect for n in RemediationNumber.objects.filter(request=request)
    }
    assert effects == {
        CLEARS: "remediated and now low",
        STUBBORN: "remediated but still flagged",
        REVIEW: "still flagged",
    }
    assert OwnedNumber.objects.get(e164=CLEARS).spam_risk == "low"
    assert OwnedNumber.objects.get(e164=STUBBORN).spam_risk == "high"
    done = AuditEntry.objects.get(
        action="remediation.follow_up_done", target_id=str(request.public_id)
    )
    assert "1 remediated and now low" in done.reason
    assert "1 remediated but still flagged" in done.reason
