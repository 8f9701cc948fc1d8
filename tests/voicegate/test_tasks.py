"""Work a real Celery worker does for the gate: repeated callers, reject retries."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for
from tests.voicegate.conftest import call_initiated, hook_path, logged
from trustconsole.core.actor import Actor
from visitors.models import RiskSignal
from visitors.selectors import visitor_by_phone
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate import services
from voicegate.choices import CommandStatus

CALLER = "+14155550177"


def _call(client, connection, signer, caller: str):
    body = json.dumps(call_initiated(caller)).encode()
    return client.post(
        hook_path(connection), body, content_type="application/json",
        **signer.headers(body),
    )  # fmt: skip


@pytest.mark.worker
def test_repeated_calls_over_the_threshold_become_one_signal(
    transactional_db, org, telnyx_signer, make_connection, client, celery_worker_queue
) -> None:
    actor = Actor.system_for(org, "test")
    services.voice_settings_update(
        actor=actor, repeated_call_threshold=3, repeated_call_window_seconds=600
    )
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    for _ in range(3):
        _call(client, connection, telnyx_signer, CALLER)
    assert visitor_by_phone(organisation_id=org.pk, e164=CALLER) is None
    for _ in range(3):  # the 4th call crosses the threshold; later ones add nothing
        _call(client, connection, telnyx_signer, CALLER)

    visitor = wait_for(
        lambda: visitor_by_phone(organisation_id=org.pk, e164=CALLER),
        what="the repeated caller's visitor",
    )
    signal = wait_for(
        lambda: RiskSignal.objects.filter(visitor=visitor).first(),
        what="the repeated-calls signal",
    )
    assert signal.signal_type == "repeated_calls"
    assert signal.level == "high"
    assert signal.event.detail == {"number": CALLER, "calls": 4, "window_seconds": 600}
    visitor.refresh_from_db()
    assert visitor.trust_score == 60
    import time

    time.sleep(1)
    assert RiskSignal.objects.filter(visitor=visitor).count() == 1


@pytest.mark.worker
def test_reject_that_failed_in_the_request_is_retried_by_the_worker(
    transactional_db,
    org,
    telnyx_signer,
    make_connection,
    client,
    telnyx_api,
    celery_worker_queue,
) -> None:
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, phones=[CALLER])
    visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    # Two 503s use up the web request's attempts; the worker's first try succeeds.
    telnyx_api.answers = [(503, {}), (503, {}), (200, {"data": {"result": "ok"}})]
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    response = _call(client, connection, telnyx_signer, CALLER)
    assert response.json()["decision"] == "reject"
    decision = logged().get()
    assert decision.command_status == CommandStatus.FAILED
    wait_for(
        lambda: logged().filter(command_status=CommandStatus.SENT).exists(),
        what="the worker to send the reject",
    )
    assert len(telnyx_api.requests) == 3
    assert len({r.body for r in telnyx_api.requests}) == 1


def test_a_forward_to_an_internal_address_is_never_sent(
    org, make_connection, telnyx_signer, settings, monkeypatch
) -> None:
    """GIVEN a connection whose downstream URL points at the metadata address
    (stored before the guard, or by a DNS change) WHEN an event is forwarded THEN
    no request leaves: the guard refuses it and the task does not retry."""
    import httpx

    from voicegate import tasks
    from voicegate.models import VoiceConnection

    settings.OUTBOUND_ALLOW_PRIVATE = False
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    VoiceConnection.objects.filter(pk=connection.pk).update(
        downstream_url="http://169.254.169.254/latest/meta-data/"
    )

    def no_connections(*args: object, **kwargs: object) -> object:
        raise AssertionError("the forward must not be sent")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", no_connections)
    body = json.dumps(call_initiated("+14155550188"))
    assert tasks.forward_event(connection.pk, body, {"content-type": "x"}) == 0
