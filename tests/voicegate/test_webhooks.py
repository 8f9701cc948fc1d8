"""Provider webhooks end to end over HTTP: verify, decide, log, act, answer."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.voicegate.conftest import call_initiated, hook_path, logged
from trustconsole.core.actor import Actor
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate import signatures, telnyx
from voicegate.choices import CommandStatus, Provider

pytestmark = pytest.mark.django_db

BLOCKED = "+14155550123"
FRIEND = "+14155550188"


@pytest.fixture
def blacklisted(org) -> Any:
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=[BLOCKED])
    return visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")


def _post_telnyx(client, connection, signer, event: dict[str, Any]):
    body = json.dumps(event).encode()
    return client.post(
        hook_path(connection),
        body,
        content_type="application/json",
        **signer.headers(body),
    )


def test_blocked_caller_gets_exactly_one_reject_even_when_redelivered(
    org, blacklisted, telnyx_signer, make_connection, client, telnyx_api
) -> None:
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    event = call_initiated(BLOCKED)
    first = _post_telnyx(client, connection, telnyx_signer, event)
    again = _post_telnyx(client, connection, telnyx_signer, event)

    assert first.status_code == 200
    assert first.json() == {"decision": "reject", "reason": "blacklisted_visitor"}
    assert again.json() == {"status": "duplicate"}
    assert len(telnyx_api.requests) == 1
    sent = telnyx_api.requests[0]
    call_control_id = event["data"]["payload"]["call_control_id"]
    assert (
        sent.path == f"/v2/calls/{call_control_id.replace(':', '%3A')}/actions/reject"
    )
    assert sent.headers["authorization"] == "Bearer KEY_test"
    assert sent.json() == {
        "cause": "USER_BUSY",
        "command_id": telnyx.command_id_for(event["data"]["id"]),
    }
    decision = logged().get()
    assert decision.visitor_id == blacklisted.pk
    assert decision.caller_e164 == BLOCKED
    assert decision.command_status == CommandStatus.SENT
    assert decision.latency_us > 0


def test_reject_retries_5xx_and_treats_call_ended_as_done(
    org, blacklisted, telnyx_signer, make_connection, client, telnyx_api
) -> None:
    telnyx_api.answers = [
        (503, {"errors": [{"code": "10000", "title": "busy"}]}),
        (
            422,
            {
                "errors": [
                    {
                        "code": "90018",
                        "title": "Call has already ended",
                        "detail": "This call is no longer active and can't receive "
                        "commands.",
                    }
                ]
            },
        ),
    ]
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    _post_telnyx(client, connection, telnyx_signer, call_initiated(BLOCKED))
    assert len(telnyx_api.requests) == 2
    bodies = {r.body for r in telnyx_api.requests}
    assert len(bodies) == 1  # the retry repeats the same command_id
    assert logged().get().command_status == CommandStatus.ALREADY_ENDED


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"HTTP_TELNYX_TIMESTAMP": "1700000000"}, 401),
    ],
)
def test_missing_signature_is_refused_and_never_decided(
    org,
    blacklisted,
    telnyx_signer,
    make_connection,
    client,
    telnyx_api,
    headers,
    status,
) -> None:
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    body = json.dumps(call_initiated(BLOCKED)).encode()
    response = client.post(
        hook_path(connection), body, content_type="application/json", **headers
    )
    assert response.status_code == status
    assert not logged().exists()
    assert telnyx_api.requests == []


def test_stale_or_tampered_signature_is_refused(
    org, blacklisted, telnyx_signer, make_connection, client, telnyx_api, caplog
) -> None:
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    body = json.dumps(call_initiated(BLOCKED)).encode()
    stale = telnyx_signer.headers(body, timestamp=1_700_000_000)
    response = client.post(
        hook_path(connection), body, content_type="application/json", **stale
    )
    assert response.status_code == 403
    fresh = telnyx_signer.headers(body)
    tampered = body.replace(BLOCKED.encode(), FRIEND.encode())
    response = client.post(
        hook_path(connection), tampered, content_type="application/json", **fresh
    )
    assert response.status_code == 403
    assert not logged().exists()
    assert telnyx_api.requests == []
    assert "signature does not match" in caplog.text


def test_unknown_webhook_address_is_404(client) -> None:
    response = client.post("/voice/hooks/nope/", b"{}", content_type="application/json")
    assert response.status_code == 404


def test_outgoing_and_other_events_are_not_decided(
    org, blacklisted, telnyx_signer, make_connection, client, telnyx_api
) -> None:
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    outgoing = call_initiated(BLOCKED, direction="outgoing")
    hangup = call_initiated(BLOCKED, event_type="call.hangup")
    for event in (outgoing, hangup):
        response = _post_telnyx(client, connection, telnyx_signer, event)
        assert response.json() == {"status": "ignored"}
    assert not logged().exists()
    assert telnyx_api.requests == []


@pytest.mark.django_db(transaction=True)
def test_allowed_call_and_other_events_are_forwarded_unchanged(
    org, telnyx_signer, make_connection, live_server, recording_server,
    loopback_targets, celery_worker_queue, client,
) -> None:  # fmt: skip
    connection = make_connection(
        org,
        secret=telnyx_signer.public_b64,
        downstream_url=recording_server.url + "/my-voice-app",
    )
    initiated = json.dumps(call_initiated(FRIEND)).encode()
    headers = telnyx_signer.headers(initiated)
    response = client.post(
        hook_path(connection), initiated, content_type="application/json", **headers
    )
    assert response.json() == {"decision": "allow", "reason": "not_listed"}
    hangup = call_initiated(FRIEND, event_type="call.hangup")
    _post_telnyx(client, connection, telnyx_signer, hangup)
    _post_telnyx(client, connection, telnyx_signer, hangup)  # redelivered: once

    wait_for(lambda: len(recording_server.requests) >= 2, what="two forwarded events")
    first = recording_server.requests[0]
    assert first.path == "/my-voice-app"
    assert first.body == initiated
    assert (
        first.headers["telnyx-signature-ed25519"]
        == (headers["HTTP_TELNYX_SIGNATURE_ED25519"])
    )
    assert recording_server.requests[1].json()["data"]["event_type"] == "call.hangup"
    import time

    time.sleep(1.0)
    assert len(recording_server.requests) == 2


def _twilio_post(client, connection, params: dict[str, str], token: str):
    url = "http://testserver" + hook_path(connection)
    signature = signatures.twilio_signature(
        auth_token=token, url=url, params={k: [v] for k, v in params.items()}
    )
    return client.post(hook_path(connection), params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_twilio_blocked_caller_gets_reject_busy_twiml(
    org, blacklisted, make_connection, client
) -> None:
    connection = make_connection(org, Provider.TWILIO, secret="twilio-auth-token")
    params = {
        "CallSid": "CA" + uuid.uuid4().hex,
        "AccountSid": "AC" + uuid.uuid4().hex,
        "From": BLOCKED,
        "To": "+14155550100",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    response = _twilio_post(client, connection, params, "twilio-auth-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    assert [(c.tag, c.attrib) for c in root] == [("Reject", {"reason": "busy"})]
    # Redelivery answers the same and is logged once.
    again = _twilio_post(client, connection, params, "twilio-auth-token")
    assert ET.fromstring(again.content)[0].tag == "Reject"
    assert logged().count() == 1


def test_twilio_allowed_caller_is_redirected_downstream(
    org, make_connection, client
) -> None:
    connection = make_connection(
        org,
        Provider.TWILIO,
        secret="twilio-auth-token",
        downstream_url="https://voice.example.com/answer?a=1&b=2",
    )
    params = {"CallSid": "CA1", "From": FRIEND, "To": "+14155550100"}
    root = ET.fromstring(
        _twilio_post(client, connection, params, "twilio-auth-token").content
    )
    assert [(c.tag, c.text) for c in root] == [
        ("Redirect", "https://voice.example.com/answer?a=1&b=2")
    ]


def test_twilio_get_and_bad_signature(
    org, blacklisted, make_connection, client
) -> None:
    connection = make_connection(org, Provider.TWILIO, secret="twilio-auth-token")
    query = f"CallSid=CA2&From=%2B{BLOCKED[1:]}&To=%2B14155550100"
    url = "http://testserver" + hook_path(connection) + "?" + query
    signature = signatures.twilio_signature(
        auth_token="twilio-auth-token", url=url, params={}
    )
    ok = client.get(
        hook_path(connection) + "?" + query, HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert ET.fromstring(ok.content)[0].tag == "Reject"
    bad = client.get(
        hook_path(connection) + "?" + query.replace("CA2", "CA3"),
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert bad.status_code == 403
    assert logged().count() == 1


def test_texml_reject_and_empty_response(
    org, blacklisted, telnyx_signer, make_connection, client
) -> None:
    connection = make_connection(
        org, Provider.TELNYX_TEXML, secret=telnyx_signer.public_b64
    )
    for caller, expected in ((BLOCKED, ["Reject"]), (FRIEND, [])):
        body = f"CallSid=v3:{uuid.uuid4().hex}&From=%2B{caller[1:]}&To=%2B14155550100"
        response = client.post(
            hook_path(connection),
            body,
            content_type="application/x-www-form-urlencoded",
            **telnyx_signer.headers(body.encode()),
        )
        root = ET.fromstring(response.content)
        assert [c.tag for c in root] == expected
        if expected:
            assert root[0].attrib == {"reason": "busy"}


def test_plivo_blocked_caller_gets_hangup_busy(
    org, blacklisted, make_connection, client
) -> None:
    connection = make_connection(org, Provider.PLIVO, secret="plivo-auth-token")
    params = {"CallUUID": str(uuid.uuid4()), "From": BLOCKED[1:], "To": "14155550100"}
    url = "http://testserver" + hook_path(connection)
    signature = signatures.plivo_signature_v3(
        auth_token="plivo-auth-token",
        url=url,
        nonce="12345",
        method="POST",
        params={k: [v] for k, v in params.items()},
    )
    response = client.post(
        hook_path(connection),
        params,
        HTTP_X_PLIVO_SIGNATURE_V3=signature,
        HTTP_X_PLIVO_SIGNATURE_V3_NONCE="12345",
    )
    root = ET.fromstring(response.content)
    assert [(c.tag, c.attrib) for c in root] == [("Hangup", {"reason": "busy"})]


def test_generic_connection_answers_json(
    org, blacklisted, make_connection, client
) -> None:
    token = "pbx-shared-token-0123456789"
    connection = make_connection(org, Provider.GENERIC, secret=token)
    response = client.post(
        hook_path(connection),
        {"from": BLOCKED, "to": "+14155550100", "call_id": "pbx-1"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "reject"
    assert body["reason"] == "blacklisted_visitor"
    assert body["visitor"]["id"] == str(blacklisted.public_id)
    wrong = client.post(
        hook_path(connection),
        {"from": BLOCKED, "to": "+1"},
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer wrong-token-0123456789",
    )
    assert wrong.status_code == 403
    missing = client.post(
        hook_path(connection),
        {"to": "+14155550100"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        {"field": "from", "reason": "This field is required."}
    ]


def test_texml_get_is_verified_over_its_query_string(
    org, blacklisted, telnyx_signer, make_connection, client
) -> None:
    connection = make_connection(
        org, Provider.TELNYX_TEXML, secret=telnyx_signer.public_b64
    )
    query = f"CallSid=v3:abc&From=%2B{BLOCKED[1:]}&To=%2B14155550100"
    signed = telnyx_signer.headers(query.encode())
    ok = client.get(f"{hook_path(connection)}?{query}", **signed)
    assert [c.tag for c in ET.fromstring(ok.content)] == ["Reject"]
    forged = query.replace(BLOCKED[1:], FRIEND[1:])
    refused = client.get(f"{hook_path(connection)}?{forged}", **signed)
    assert refused.status_code == 403


def test_a_webhook_address_over_its_rate_gets_429_with_retry_after(
    org, blacklisted, telnyx_signer, make_connection, client, telnyx_api, settings
) -> None:
    """GIVEN a limit of 2 requests a minute per connection token WHEN a third
    event comes THEN 429 (JSON, Retry-After) before any verification or decision;
    another connection's address is still answered."""
    settings.VOICEGATE_HOOK_RATE = (2, 60)
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    other = make_connection(org, secret=telnyx_signer.public_b64)
    answers = [
        _post_telnyx(client, connection, telnyx_signer, call_initiated(BLOCKED))
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json() == {
        "detail": "Too many requests for this webhook address; retry later."
    }
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert logged().count() == 2
    assert len(telnyx_api.requests) == 2
    ok = _post_telnyx(client, other, telnyx_signer, call_initiated(FRIEND))
    assert ok.status_code == 200
