"""The gate in its own gunicorn process sees a blacklist made elsewhere at once."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, child_env, wait_for
from tests.core.test_runconsole import free_port
from tests.voicegate.conftest import call_initiated, hook_path
from trustconsole.core.actor import Actor
from visitors.services import visitor_clear_status, visitor_upsert
from voicegate import services
from voicegate.choices import CommandStatus
from voicegate.models import CallDecision

CALLER = "+14155550123"


@pytest.mark.worker
def test_blacklist_in_one_process_rejects_the_next_call_in_another(
    transactional_db,
    org,
    telnyx_signer,
    make_connection,
    telnyx_api,
    tmp_path,
    api_client_for,
) -> None:
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=[CALLER])
    port = free_port()
    log = (tmp_path / "gate.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "trustconsole.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket",
        ],
        cwd=ROOT,
        env=child_env(VOICEGATE_TELNYX_API_BASE=telnyx_api.url + "/v2"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip

    def call() -> str:
        body = json.dumps(call_initiated(CALLER)).encode()
        headers = telnyx_signer.http_headers(body)
        response = httpx.post(
            f"http://127.0.0.1:{port}{hook_path(connection)}",
            content=body,
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["decision"]

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, what="the gate's gunicorn to answer")
        # Warm both gunicorn workers so each holds a snapshot without the blacklist.
        assert {call() for _ in range(6)} == {"allow"}
        # Blacklisted through the API, by an operator in this (the web) process.
        api = api_client_for(org, "operator")
        response = api.post(
            f"/api/v1/visitors/{visitor.public_id}/blacklist/",
            {"reason": "fraud"},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert [call() for _ in range(4)] == ["reject"] * 4
        visitor_clear_status(actor=actor, visitor=visitor, reason="mistake")
        assert call() == "allow"
        services.blocked_number_add(actor=actor, number=CALLER, reason="abuse")
        assert call() == "reject"
        # The commands leave on the gate's sender threads: each is recorded as
        # sent once Telnyx answered it, and there is one per rejected call.
        wait_for(
            lambda: (
                CallDecision.objects.filter(command_status=CommandStatus.SENT).count()
                == 5
            ),
            what="five reject commands recorded as sent",
        )
        assert len(telnyx_api.requests) == 5
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
