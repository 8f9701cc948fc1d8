"""`make run` shows the whole flow offline: runconsole's worker finds the sandbox."""

from __future__ import annotations

import uuid

import httpx
import pytest

from remediation.models import RemediationRequest
from tests.conftest import wait_for
from tests.core.test_runconsole import CONSOLE, Console
from tests.remediation.conftest import make_enterprise, own
from trustconsole.core.actor import Actor
from trustconsole.core.services import token_create


@pytest.mark.worker
@CONSOLE
def test_runconsole_completes_a_request_through_its_own_sandbox(
    transactional_db, tmp_path, org
) -> None:
    """GIVEN runconsole on a port of its own and no provider configured WHEN a
    batch is submitted to its /v2 API THEN its worker forwards it to the sandbox
    that the same console serves, and polls it to completed."""
    queue = f"test-run-{uuid.uuid4().hex[:10]}"
    enterprise = make_enterprise(org)
    batch = [f"+1202555040{d}" for d in range(3)]
    own(enterprise, batch)
    _, raw = token_create(actor=Actor.system_for(org, "test"), name="run", role="admin")
    console = Console(
        tmp_path / "console",
        REMEDIATION_QUEUE=queue,
        REMEDIATION_SANDBOX_PENDING_SECONDS="1",
        REMEDIATION_SANDBOX_TIER1_SECONDS="1",
        REMEDIATION_SANDBOX_TIER2_SECONDS="2",
        REMEDIATION_TICK_SECONDS="1",
        REMEDIATION_POLL_INITIAL_SECONDS="1",
        REMEDIATION_POLL_MAX_SECONDS="2",
        REMEDIATION_SANDBOX_URL="",  # runconsole points it at its own web
    )
    port = console.port
    try:
        console.wait_up()
        response = httpx.post(
            f"http://127.0.0.1:{port}/v2/enterprises/{enterprise.public_id}"
            "/reputation/remediation",
            json={"phone_numbers": batch, "call_purpose": "Reminders"},
            headers={"Authorization": f"Bearer {raw}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        rid = response.json()["data"]["id"]

        def completed() -> bool:
            return RemediationRequest.objects.get(public_id=rid).status == "completed"

        wait_for(completed, timeout=60, what="the request to complete")
    finally:
        assert console.stop() == 0
