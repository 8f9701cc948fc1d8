"""End to end: a client of the /v2 API, a real Celery worker, the sandbox provider
on a live server, and a local HTTPS receiver for the signed status webhooks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from remediation.choices import RemediationStatus
from remediation.models import RemediationRequest, SandboxFault
from remediation.selectors import settings_for
from remediation.webhooks import verify_signature
from tests.conftest import wait_for
from tests.remediation.conftest import Receiver, make_enterprise, own
from trustconsole.core.actor import Actor
from trustconsole.core.services import token_create

pytestmark = pytest.mark.worker

BATCH = [f"+1202555020{d}" for d in range(10)]


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    live_server: Any,
    receiver: Receiver,
) -> Iterator[dict[str, Any]]:
    """Live server (with the sandbox) + a worker allowed to reach the receiver."""
    # The sandbox runs in this process (live server): short, fixed delays.
    settings.REMEDIATION_SANDBOX_PENDING_SECONDS = 1
    settings.REMEDIATION_SANDBOX_TIER1_SECONDS = 2
    settings.REMEDIATION_SANDBOX_TIER2_SECONDS = 3
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the API accepts localhost
    # The worker process reads these from its environment.
    for name, value in {
        "OUTBOUND_ALLOW_PRIVATE": "true",
        "REMEDIATION_WEBHOOK_CA_FILE": str(receiver.ca_file),
        "REMEDIATION_WEBHOOK_RETRY_SECONDS": "1",
        "REMEDIATION_POLL_INITIAL_SECONDS": "1",
        "REMEDIATION_POLL_MAX_SECONDS": "2",
        "REMEDIATION_HTTP_BACKOFF_MS": "100",
    }.items():
        monkeypatch.setenv(name, value)
    queue = request.getfixturevalue("celery_worker_queue")
    org = request.getfixturevalue("org")
    row = settings_for(organisation=org)
    row.api_base = f"{live_server.url}/sandbox/telnyx/v2"
    row.save()
    enterprise = make_enterprise(org)
    own(enterprise, BATCH)
    _, raw = token_create(
        actor=Actor.system_for(org, "test"), name="e2e", role="operator"
    )
    # A kept-alive connection would pin a live-server thread (and its database
    # connection) beyond the test: close the client afterwards.
    with httpx.Client(
        base_url=f"{live_server.url}/v2/enterprises/{enterprise.public_id}",
        headers={"Authorization": f"Bearer {raw}"},
        timeout=10,
    ) as api:
        yield {
            "org": org,
            "enterprise": enterprise,
            "queue": queue,
            "api": api,
            "secret": row.webhook_secret,
            "receiver": receiver,
        }


def _finished(public_id: str) -> RemediationRequest | None:
    request = RemediationRequest.objects.get(public_id=public_id)
    return request if request.is_terminal else None


def test_a_batch_goes_from_submit_to_completed_with_signed_webhooks(stack) -> None:
    """GIVEN an approved enterprise WHEN a client submits ten numbers over HTTP THEN
    the worker forwards them to the sandbox, polls until completed, stores every
    number's bucket, and the receiver gets one signed webhook per status change."""
    api, receiver = stack["api"], stack["receiver"]
    created = api.post(
        "/reputation/remediation",
        json={
            "phone_numbers": BATCH,
            "call_purpose": "Outbound appointment reminders.",
            "webhook_url": receiver.url,
        },
    )
    assert created.status_code == 202, created.text
    rid = created.json()["data"]["id"]
    request = wait_for(lambda: _finished(rid), timeout=60, what="the request to finish")
    assert request.status == RemediationStatus.COMPLETED
    data = api.get(f"/reputation/remediation/{rid}").json()["data"]
    assert data["status"] == "completed"
    assert data["tier1_completed_at"] and data["tier2_completed_at"]
    assert data["results"] == {
        "remediated": BATCH[0:5],
        "not_flagged": BATCH[5:7],
        "requires_review": BATCH[7:9],
        "ineligible": [],
        "refused": BATCH[9:10],
    }
    listed = api.get("/reputation/remediation", params={"filter[status]": "completed"})
    assert [item["id"] for item in listed.json()["data"]] == [rid]

    wait_for(lambda: len(receiver.received) >= 2, timeout=30, what="two webhooks")
    transitions = []
    for got in receiver.received:
        headers = {k.lower(): v for k, v in got["headers"].items()}
        assert verify_signature(
            stack["secret"],
            got["body"],
            timestamp=headers["x-trustconsole-timestamp"],
            signature=headers["x-trustconsole-signature"],
        )
    for document in receiver.bodies():
        payload = document["data"]["payload"]
        assert payload["id"] == rid
        transitions.append((payload["previous_status"], payload["status"]))
    assert transitions == [("pending", "in_progress"), ("in_progress", "completed")]
    assert receiver.bodies()[-1]["data"]["payload"]["results"] == data["results"]


def test_upstream_5xx_and_429_are_ridden_out(stack) -> None:
    """GIVEN the sandbox failing the first submit with 503 and rate-limiting a poll
    with 429 WHEN a batch is submitted THEN the worker retries, honours the
    Retry-After, and the request still completes with nothing sent twice."""
    org = stack["org"]
    key = hashlib.sha256(f"sandbox-{org.public_id}".encode()).hexdigest()
    SandboxFault.objects.create(
        account_key=key, kind="error", status_code=503, method="POST"
    )
    SandboxFault.objects.create(
        account_key=key, kind="rate_limit", retry_after=2, method="GET"
    )
    created = stack["api"].post(
        "/reputation/remediation",
        json={"phone_numbers": BATCH[:3], "call_purpose": "Reminders"},
    )
    assert created.status_code == 202
    rid = created.json()["data"]["id"]
    request = wait_for(lambda: _finished(rid), timeout=60, what="the request to finish")
    assert request.status == RemediationStatus.COMPLETED
    assert request.last_error == ""
    assert list(SandboxFault.objects.values_list("hits", flat=True)) == [1, 1]
    from remediation.models import SandboxRemediation

    assert SandboxRemediation.objects.count() == 1
