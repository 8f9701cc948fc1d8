"""In a real Chromium: an operator sees a newly flagged number, submits it, and
later sees whether its risk fell. A real worker and beat run the remediation and
the follow-up refresh against the sandbox on the live server; the flag arrives as
a signed provider webhook."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone
from nacl.signing import SigningKey
from playwright.sync_api import expect

from remediation.choices import GateStatus
from remediation.models import (
    OwnedNumber,
    RemediationRequest,
    SandboxNumber,
    SandboxReputation,
)
from remediation.selectors import settings_for
from tests.conftest import child_env, wait_for
from tests.remediation.conftest import make_enterprise, own
from tests.remediation.test_worker_kill import Processes

pytestmark = [pytest.mark.browser, pytest.mark.worker]

NUMBER = "+12025550140"  # the sandbox remediates it, and then it stays low
QUIET = ["+12025550141", "+12025550152"]
SHOTS = Path(os.environ.get("TC_SCREENSHOTS", "/tmp/tc-screenshots"))


@pytest.fixture
def monitored_stack(
    transactional_db: None, tmp_path: Path, settings: Any, live_server: Any, org
) -> Any:
    """Monitoring on for Alpha's enterprise; worker and beat on their own queue."""
    settings.REMEDIATION_SANDBOX_PENDING_SECONDS = 1
    settings.REMEDIATION_SANDBOX_TIER1_SECONDS = 2
    settings.REMEDIATION_SANDBOX_TIER2_SECONDS = 3
    queue = f"test-rep-ui-{uuid.uuid4().hex[:8]}"
    settings.REMEDIATION_QUEUE = queue
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the sandbox is on this machine
    key = SigningKey.generate()
    row = settings_for(organisation=org)
    row.api_base = f"{live_server.url}/sandbox/telnyx/v2"
    row.telnyx_public_key = base64.b64encode(bytes(key.verify_key)).decode()
    row.save()
    enterprise = make_enterprise(
        org,
        reputation_enabled_at=timezone.now(),
        loa_document_id="doc_loa",
        check_frequency="daily",
        next_sync_at=timezone.now() + timezone.timedelta(days=1),
    )
    assert enterprise.reputation_status == GateStatus.APPROVED
    now = timezone.now()
    own(enterprise, [NUMBER, *QUIET], spam_risk="low", registered_at=now)
    account = hashlib.sha256(f"sandbox-{org.public_id}".encode()).hexdigest()
    SandboxReputation.objects.create(
        account_key=account,
        enterprise_id=enterprise.upstream_id,
        loa_document_id="doc_loa",
        check_frequency="daily",
        created_at=now - timezone.timedelta(days=1),
    )
    for e164 in [NUMBER, *QUIET]:
        SandboxNumber.objects.create(
            account_key=account,
            enterprise_id=enterprise.upstream_id,
            e164=e164,
            registered_at=now,
        )
    env = child_env(
        REMEDIATION_QUEUE=queue,
        REMEDIATION_TICK_SECONDS="1",
        REMEDIATION_POLL_INITIAL_SECONDS="1",
        REMEDIATION_POLL_MAX_SECONDS="2",
        REMEDIATION_HTTP_BACKOFF_MS="100",
        REPUTATION_TICK_SECONDS="1",
        OUTBOUND_ALLOW_PRIVATE="true",
    )
    processes = Processes(tmp_path, env, queue)
    processes.worker("worker")
    processes.start(
        "beat", "beat", "--loglevel", "INFO",
        "--schedule", str(tmp_path / "beat-schedule"),
    )  # fmt: skip
    try:
        yield {"org": org, "enterprise": enterprise, "key": key, "live": live_server}
    finally:
        processes.stop_all()


def _send_flag(stack: dict[str, Any]) -> None:
    """The provider's number.flagged webhook, signed like Telnyx signs it."""
    body = json.dumps(
        {
            "data": {
                "record_type": "event",
                "id": str(uuid.uuid4()),
                "event_type": "number_reputation.number.flagged",
                "occurred_at": timezone.now().isoformat(),
                "payload": {
                    "phone_number": NUMBER,
                    "enterprise_id": stack["enterprise"].upstream_id,
                    "spam_risk": "high",
                    "spam_category": "robocall",
                },
            },
            "meta": {"attempt": 1},
        }
    ).encode()
    stamp = str(int(time.time()))
    signature = stack["key"].sign(stamp.encode() + b"|" + body).signature
    response = httpx.post(
        f"{stack['live'].url}/hooks/reputation/{stack['org'].public_id}/",
        content=body,
        headers={
            "Content-Type": "application/json",
            "telnyx-timestamp": stamp,
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        },
        timeout=10,
    )
    assert response.json() == {"status": "processed"}


def test_an_operator_sees_a_flag_submits_it_and_sees_its_risk_fall(
    monitored_stack, login, oscar
) -> None:
    """GIVEN three monitored low-risk numbers WHEN the provider flags one THEN the
    operator finds it in the review list, submits the suggested batch, and once
    the request completes and the follow-up refresh ran, the request page says
    "remediated and now low"; the number's chart shows high then low."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    _send_flag(monitored_stack)
    page = login(oscar)
    page.get_by_role("link", name="Remediation").first.click()
    review = page.get_by_test_id("review")
    expect(review).to_contain_text("Newly flagged: review (1)")
    expect(review).to_contain_text(NUMBER)
    expect(review).to_contain_text("robocall")
    page.screenshot(path=str(SHOTS / "reputation-review.png"), full_page=True)

    page.get_by_role("link", name="Pick the suggested batch (1)").click()
    expect(page.get_by_label(NUMBER)).to_be_checked()
    page.get_by_label("Call purpose").fill("Appointment reminders for our clinics")
    page.get_by_role("button", name="Submit for remediation").click()
    page.wait_for_url("**/remediation/requests/*/")
    effects = page.get_by_test_id("effects")
    expect(effects).to_contain_text("Once the request completes")

    request = RemediationRequest.objects.get()
    wait_for(
        lambda: RemediationRequest.objects.filter(
            pk=request.pk, follow_up_done_at__isnull=False
        ).exists(),
        timeout=90,
        what="the request to complete and its follow-up refresh to run",
    )
    page.reload()
    expect(effects).to_contain_text("1 remediated and now low")
    row = page.locator(f'[data-number="{NUMBER}"]')
    expect(row.locator(".effect")).to_have_text("remediated and now low")
    page.screenshot(path=str(SHOTS / "reputation-request.png"), full_page=True)

    row.get_by_role("link", name=NUMBER).click()
    expect(page.get_by_test_id("spam-risk")).to_contain_text("Low")
    chart = page.get_by_test_id("risk-chart")
    expect(chart.locator('circle[data-risk="high"]')).to_have_count(1)
    expect(chart.locator('circle[data-risk="low"]')).to_have_count(1)
    page.screenshot(path=str(SHOTS / "reputation-number.png"), full_page=True)
    assert OwnedNumber.objects.get(e164=NUMBER).spam_risk == "low"
