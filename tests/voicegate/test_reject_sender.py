"""A real gunicorn answers a blacklisted caller's webhook without waiting for the
Telnyx API: the reject command leaves on a sender thread, is recorded when Telnyx
answers, and is sent once per event however often the event is delivered."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from bench.loopback import StandIn, free_port
from tests.conftest import ROOT, child_env
from tests.voicegate.conftest import call_initiated, hook_path
from tests.waiting import wait_until
from trustconsole.core.actor import Actor
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate import services
from voicegate.choices import CommandStatus
from voicegate.models import CallDecision, OutboxItem

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+12025550142"


@pytest.fixture
def telnyx() -> Iterator[StandIn]:
    stand_in = StandIn()
    stand_in.start()
    yield stand_in
    stand_in.answering.set()
    stand_in.stop()


@pytest.fixture
def gate(telnyx, loopback_targets, tmp_path) -> Iterator[str]:
    """A gunicorn worker serving the console with its reject senders on."""
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "trustconsole.wsgi",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket",
        ],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=child_env(
            VOICEGATE_TELNYX_API_BASE=telnyx.url + "/v2",
            VOICEGATE_REJECT_SENDERS="2",
            OUTBOUND_ALLOW_PRIVATE="true",
        ),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    try:
        wait_until(up, timeout=60, what=f"gunicorn to answer on port {port}")
        assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_the_caller_is_answered_while_telnyx_has_not_answered_the_reject(
    org, telnyx_signer, gate, telnyx
) -> None:
    """GIVEN a blacklisted caller and a Telnyx API that holds every command
    WHEN the call's webhook arrives THEN the gate answers "reject" while the
    command is still unanswered, records it as sent once Telnyx answers, and a
    redelivery of the event sends nothing more."""
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Spammer", phones=[CALLER])
    visitor_blacklist(actor=actor, visitor=visitor, reason="spam calls")
    connection = services.connection_create(
        actor=actor,
        name="Telnyx line",
        provider="telnyx_call_control",
        secret=telnyx_signer.public_b64,
        api_key="KEY_test",
    )
    body = json.dumps(call_initiated(CALLER)).encode()
    headers = {
        k.removeprefix("HTTP_").replace("_", "-").lower(): v
        for k, v in telnyx_signer.headers(body).items()
    }
    telnyx.answering.clear()  # Telnyx takes the command but does not answer yet

    answer = httpx.post(
        gate + hook_path(connection),
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["decision"] == "reject"
    decision = CallDecision.objects.get(organisation=org)
    # Answered before Telnyx answered the command: it is not recorded as sent yet.
    assert decision.command_status == CommandStatus.PENDING
    assert OutboxItem.objects.get(event_id=decision.event_id).delivered_at is None

    telnyx.answering.set()
    wait_until(
        lambda: (
            CallDecision.objects.get(pk=decision.pk).command_status
            == CommandStatus.SENT
        ),
        what="the reject command to be recorded as sent",
    )
    [(path, _, sent)] = telnyx.requests
    assert path.endswith("/actions/reject")
    assert json.loads(sent)["cause"] == "USER_BUSY"

    again = httpx.post(
        gate + hook_path(connection),
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert again.status_code == 200
    assert len(telnyx.requests) == 1  # one event, one command
    assert CallDecision.objects.filter(organisation=org).count() == 1
