"""Redis away, the database away, Redis restarted empty: every webhook still answers
with a decision, and nothing answered is lost or acted on twice."""

from __future__ import annotations

import json
import logging
import shutil
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from bench.loopback import RedisServer
from tests.core.test_runconsole import free_port
from tests.voicegate.conftest import call_initiated, hook_path
from tests.voicegate.factories import CallDecisionFactory
from tests.voicegate.test_gate import _break_database
from trustconsole.core.actor import Actor
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate import gate, outbox, signatures, tasks
from voicegate.choices import FailMode, Provider
from voicegate.models import CallDecision, OutboxItem

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKED = "+14155550123"
FRIEND = "+14155550188"


@pytest.fixture
def blacklisted(org) -> Any:
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=[BLOCKED])
    return visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")


@pytest.fixture
def redis_down(settings) -> str:
    """The gate's Redis is a port nobody listens on; this process has cached nothing."""
    original = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    gate.reset()
    yield settings.REDIS_URL
    settings.REDIS_URL = original
    gate.reset()


def _telnyx(client, connection, signer, event: dict[str, Any]):
    body = json.dumps(event).encode()
    return client.post(
        hook_path(connection), body, content_type="application/json",
        **signer.headers(body),
    )  # fmt: skip


def test_telnyx_decides_on_real_state_from_the_database_while_redis_is_down(
    org, blacklisted, telnyx_signer, make_connection, client, telnyx_api, redis_down
) -> None:
    """GIVEN Redis unreachable and a process that has cached no connection
    WHEN a blacklisted caller's event arrives, twice, and a friend's
    THEN the blacklisted caller is rejected (not failed open) with exactly one
    reject command, the friend allowed, both logged at once in the call log, and
    no fail-mode decision counted."""
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    failures = gate.failure_count()
    event = call_initiated(BLOCKED)
    first = _telnyx(client, connection, telnyx_signer, event)
    again = _telnyx(client, connection, telnyx_signer, event)
    friend = _telnyx(client, connection, telnyx_signer, call_initiated(FRIEND))

    assert first.status_code == 200
    assert first.json() == {"decision": "reject", "reason": "blacklisted_visitor"}
    assert again.json() == {"status": "duplicate"}
    assert friend.json() == {"decision": "allow", "reason": "not_listed"}
    assert [r.path.endswith("/actions/reject") for r in telnyx_api.requests] == [True]
    rows = CallDecision.objects.order_by("id")
    assert [(r.caller, r.decision, r.command_status) for r in rows] == [
        (BLOCKED, "reject", "sent"),
        (FRIEND, "allow", ""),
    ]
    assert gate.failure_count() == failures


def _twilio(client, connection, params: dict[str, str]):
    url = "http://testserver" + hook_path(connection)
    signature = signatures.twilio_signature(
        auth_token=connection.secret,
        url=url,
        params={k: [v] for k, v in params.items()},
    )
    return client.post(hook_path(connection), params, HTTP_X_TWILIO_SIGNATURE=signature)


def _plivo(client, connection, params: dict[str, str]):
    url = "http://testserver" + hook_path(connection)
    signature = signatures.plivo_signature_v3(
        auth_token=connection.secret, url=url, nonce="12345", method="POST",
        params={k: [v] for k, v in params.items()},
    )  # fmt: skip
    return client.post(
        hook_path(connection), params, HTTP_X_PLIVO_SIGNATURE_V3=signature,
        HTTP_X_PLIVO_SIGNATURE_V3_NONCE="12345",
    )  # fmt: skip


def test_xml_providers_and_the_pbx_answer_with_a_decision_while_redis_is_down(
    org, blacklisted, telnyx_signer, make_connection, client, redis_down, api_client_for
) -> None:
    """GIVEN Redis unreachable and nothing cached
    WHEN TeXML, Twilio, Plivo, a generic PBX and the decision API ask about the
    blacklisted caller
    THEN each answers its provider's reject (from the database), and each decision
    is in the call log."""
    texml = make_connection(org, Provider.TELNYX_TEXML, secret=telnyx_signer.public_b64)
    twilio = make_connection(org, Provider.TWILIO, secret="twilio-auth-token")
    plivo = make_connection(org, Provider.PLIVO, secret="plivo-auth-token")
    token = "pbx-shared-token-0123456789"
    pbx = make_connection(org, Provider.GENERIC, secret=token)
    body = f"CallSid=v3:{uuid.uuid4().hex}&From=%2B{BLOCKED[1:]}&To=%2B14155550100"
    response = client.post(
        hook_path(texml), body, content_type="application/x-www-form-urlencoded",
        **telnyx_signer.headers(body.encode()),
    )  # fmt: skip
    assert [c.tag for c in ET.fromstring(response.content)] == ["Reject"]

    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": BLOCKED, "To": "+14155550100"}
    assert ET.fromstring(_twilio(client, twilio, params).content)[0].tag == "Reject"

    params = {"CallUUID": str(uuid.uuid4()), "From": BLOCKED[1:], "To": "14155550100"}
    assert ET.fromstring(_plivo(client, plivo, params).content)[0].tag == "Hangup"

    response = client.post(
        hook_path(pbx), {"from": BLOCKED, "to": "+14155550100", "call_id": "pbx-1"},
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["action"] == "reject"
    assert response.json()["visitor"]["id"] == str(blacklisted.public_id)

    api = api_client_for(org, "operator")
    response = api.post(
        "/api/v1/voice/decide", {"from": BLOCKED, "to": "+14155550100"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["action"], response.json()["reason"]) == (
        "reject",
        "blacklisted_visitor",
    )
    reasons = list(CallDecision.objects.values_list("provider", "reason"))
    assert sorted(reasons) == sorted(
        [
            (Provider.TELNYX_TEXML, "blacklisted_visitor"),
            (Provider.TWILIO, "blacklisted_visitor"),
            (Provider.PLIVO, "blacklisted_visitor"),
            (Provider.GENERIC, "blacklisted_visitor"),
            (Provider.GENERIC, "blacklisted_visitor"),
        ]
    )


def test_hangups_are_forwarded_not_ignored_while_redis_and_the_broker_are_down(
    org, telnyx_signer, make_connection, client, recording_server, redis_down,
    loopback_targets,
) -> None:  # fmt: skip
    """GIVEN Redis (the broker too, in production) unreachable
    WHEN an allowed call and its hangup arrive, the hangup twice
    THEN both are answered as handed on, wait in the outbox once each, and the
    drain delivers them unchanged once the worker runs."""
    connection = make_connection(
        org,
        secret=telnyx_signer.public_b64,
        downstream_url=recording_server.url + "/voice-app",
    )
    initiated = call_initiated(FRIEND)
    hangup = call_initiated(FRIEND, event_type="call.hangup")
    assert _telnyx(client, connection, telnyx_signer, initiated).json() == {
        "decision": "allow",
        "reason": "not_listed",
    }
    for _ in range(2):
        answer = _telnyx(client, connection, telnyx_signer, hangup)
        assert answer.json() == {"status": "forwarded"}
    assert OutboxItem.objects.filter(delivered_at__isnull=True).count() == 2
    assert recording_server.requests == []

    assert tasks.outbox_drain() == 2  # what beat runs every second
    ids = [r.json()["data"]["id"] for r in recording_server.requests]
    assert ids == [initiated["data"]["id"], hangup["data"]["id"]]
    assert not OutboxItem.objects.filter(delivered_at__isnull=True).exists()


def test_neither_redis_nor_the_database_the_fail_mode_decides_and_nothing_is_lost(
    org, telnyx_signer, make_connection, client, telnyx_api, redis_down, settings,
    monkeypatch, caplog,
) -> None:  # fmt: skip
    """GIVEN a fail-closed connection, Redis down, then the database down too
    WHEN a call arrives
    THEN it is rejected FAIL-CLOSED (logged at CRITICAL, counted), its reject is
    sent, and the decision reaches the call log once the database is back."""
    connection = make_connection(
        org, secret=telnyx_signer.public_b64, fail_mode=FailMode.CLOSED
    )
    warm = _telnyx(client, connection, telnyx_signer, call_initiated(FRIEND))
    assert warm.json()["decision"] == "allow"
    settings.VOICEGATE_DEGRADED_RELOAD_SECONDS = 0  # re-read the database every call
    failures = gate.failure_count()
    _break_database(monkeypatch)
    event = call_initiated(FRIEND)
    with caplog.at_level(logging.CRITICAL, logger="voicegate"):
        response = _telnyx(client, connection, telnyx_signer, event)
    monkeypatch.undo()
    from django.db import connection as db_connection

    db_connection.close()
    assert response.status_code == 200
    assert response.json() == {"decision": "reject", "reason": "fail_closed"}
    assert gate.failure_count() == failures + 1
    assert any("FAIL-CLOSED" in r.getMessage() for r in caplog.records)
    assert len(telnyx_api.requests) == 1
    assert not CallDecision.objects.filter(event_id=event["data"]["id"]).exists()

    # The next call (database back) writes what waited in the process first.
    _telnyx(client, connection, telnyx_signer, call_initiated(FRIEND))
    row = CallDecision.objects.get(event_id=event["data"]["id"])
    assert (row.reason, row.command_status) == ("fail_closed", "sent")


@pytest.fixture
def own_redis(settings, tmp_path) -> RedisServer:
    """A redis-server of this test's own, used by the gate of this process."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path / "redis")
    server.start()
    original = settings.REDIS_URL
    settings.REDIS_URL = server.url
    gate.reset()
    yield server
    settings.REDIS_URL = original
    gate.reset()
    server.kill()


def test_a_redis_restart_before_the_flush_loses_no_logged_decision(
    org, blacklisted, telnyx_signer, make_connection, client, telnyx_api, own_redis
) -> None:
    """GIVEN decisions logged to the Redis stream and not yet flushed
    WHEN Redis restarts without persistence (stream, seen-marks, versions gone)
    THEN the next call finds a new Redis epoch and writes them into the call log,
    a rejection redelivered after the restart stays a duplicate (the database
    remembers it), and no reject is sent twice."""
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    allowed = [call_initiated(f"+1415555{i:04d}") for i in range(5)]
    blocked = call_initiated(BLOCKED)
    for event in [*allowed, blocked]:
        assert _telnyx(client, connection, telnyx_signer, event).status_code == 200
    assert _telnyx(client, connection, telnyx_signer, blocked).json() == {
        "status": "duplicate"
    }
    # Only the rejection (written as its claim) is in the database so far.
    assert CallDecision.objects.count() == 1

    own_redis.kill()
    own_redis.start()
    later = call_initiated(FRIEND)
    assert _telnyx(client, connection, telnyx_signer, later).json()["decision"] == (
        "allow"
    )
    assert _telnyx(client, connection, telnyx_signer, blocked).json() == {
        "status": "duplicate"
    }
    stored = set(CallDecision.objects.values_list("event_id", flat=True))
    assert {e["data"]["id"] for e in allowed} | {blocked["data"]["id"]} <= stored
    assert len(telnyx_api.requests) == 1
    gate.decisions_flush()  # the call after the restart is in the new stream
    assert CallDecision.objects.count() == 7


def test_a_forward_the_downstream_refuses_is_retried_with_back_off_then_given_up(
    org, telnyx_signer, make_connection, client, recording_server, settings, caplog,
    monkeypatch, loopback_targets,
) -> None:  # fmt: skip
    """GIVEN a downstream app answering 503
    WHEN the outbox delivers a forward
    THEN it is retried later (not at once), and after the last attempt it is given
    up with an ERROR naming the event, and kept on its row."""
    settings.VOICEGATE_OUTBOX_MAX_ATTEMPTS = 2
    # No worker here: the beat drain alone carries the item.
    monkeypatch.setattr(outbox, "hand_to_worker", lambda *a, **k: None)
    recording_server.answers = [(503, {})]
    connection = make_connection(
        org, secret=telnyx_signer.public_b64, downstream_url=recording_server.url
    )
    hangup = call_initiated(FRIEND, event_type="call.hangup")
    _telnyx(client, connection, telnyx_signer, hangup)
    item = OutboxItem.objects.get()
    assert outbox.deliver(item.pk) == "will retry"
    item.refresh_from_db()
    assert (item.attempts, item.last_error) == (1, "HTTP 503")
    assert item.next_attempt_at > item.created_at
    assert outbox.drain() == 0  # not due yet
    OutboxItem.objects.update(next_attempt_at=item.created_at)
    with caplog.at_level(logging.ERROR, logger="voicegate.outbox"):
        assert outbox.drain() == 1
    item.refresh_from_db()
    assert item.gave_up_at is not None and item.delivered_at is None
    assert hangup["data"]["id"] in caplog.text
    assert len(recording_server.requests) == 2


def test_fail_mode_decisions_are_counted_per_organisation(
    org, other_org, actor_for
) -> None:
    from voicegate import selectors

    for organisation, reason in (
        (org, "fail_open"), (org, "fail_open"), (org, "fail_closed"),
        (org, "not_listed"), (other_org, "fail_open"),
    ):  # fmt: skip
        CallDecisionFactory(
            organisation=organisation, provider=Provider.TELNYX_CALL_CONTROL,
            reason=reason,
        )  # fmt: skip
    counts = selectors.fail_mode_counts(actor=actor_for(org, "viewer"))
    assert counts == {"fail_open": 2, "fail_closed": 1}
