"""Inbound Number Reputation webhooks: Ed25519 signatures, replay window, dedup,
and what flagged / removed / verification events change."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from nacl.signing import SigningKey

from remediation.choices import SpamRisk
from remediation.models import OwnedNumber, ReputationEvent
from remediation.selectors import settings_for
from tests.remediation.conftest import make_enterprise, own
from trustconsole.core.models import AuditEntry
from voicegate.models import VoiceConnection

NUMBER = "+13125550142"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def public(key: SigningKey) -> str:
    return base64.b64encode(bytes(key.verify_key)).decode()


@pytest.fixture
def setup(org, key) -> dict[str, Any]:
    row = settings_for(organisation=org)
    row.telnyx_public_key = public(key)
    row.save()
    enterprise = make_enterprise(org, upstream_enterprise_id="4a6192a4-573d")
    own(enterprise, [NUMBER], spam_risk=SpamRisk.LOW)
    OwnedNumber.objects.filter(e164=NUMBER).update(registered_at="2026-11-01T00:00Z")
    return {"org": org, "enterprise": enterprise}


def event(event_type: str, payload: dict[str, Any], event_id: str | None = None):
    return {
        "data": {
            "record_type": "event",
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": "2026-10-05T07:00:12.521992Z",
            "event_type": event_type,
            "payload": {
                "record_type": "reputation_phone_number",
                "phone_number": NUMBER,
                "enterprise_id": "4a6192a4-573d",
                **payload,
            },
        },
        "meta": {"attempt": 1, "delivered_to": "https://example.com/webhooks"},
    }


def post(client, org, document, key: SigningKey, *, stamp: int | None = None, **h):
    body = json.dumps(document).encode()
    timestamp = str(stamp if stamp is not None else int(time.time()))
    signature = base64.b64encode(
        key.sign(timestamp.encode() + b"|" + body).signature
    ).decode()
    headers = {
        "HTTP_TELNYX_SIGNATURE_ED25519": signature,
        "HTTP_TELNYX_TIMESTAMP": timestamp,
        **h,
    }
    return client.post(
        f"/hooks/reputation/{org.public_id}/",
        body,
        content_type="application/json",
        **headers,
    )


def test_a_flag_makes_the_number_elevated_once(client, setup, key) -> None:
    """GIVEN a signed number.flagged WHEN it arrives twice (a retry) THEN the number
    is high with its category, one observation and one audit entry exist, and the
    second delivery answers 200 duplicate."""
    org = setup["org"]
    document = event(
        "number_reputation.number.flagged",
        {"spam_risk": "high", "spam_category": "robocall"},
    )
    first = post(client, org, document, key)
    assert first.status_code == 200, first.content
    assert first.json() == {"status": "processed"}
    again = post(client, org, document, key)
    assert again.json() == {"status": "duplicate"}
    number = OwnedNumber.objects.get(e164=NUMBER)
    assert number.spam_risk == SpamRisk.HIGH
    assert number.spam_category == "robocall"
    assert number.elevated_at is not None
    assert number.observations.count() == 1
    assert ReputationEvent.objects.count() == 1
    entry = AuditEntry.objects.get(action="reputation.risk_change")
    assert entry.reason == (
        f"Provider webhook: Spam risk changed for 1 number(s): {NUMBER} low → high."
    )


def test_a_flag_without_a_risk_still_means_elevated(client, setup, key) -> None:
    post(client, setup["org"], event("number_reputation.number.flagged", {}), key)
    assert OwnedNumber.objects.get(e164=NUMBER).spam_risk == SpamRisk.HIGH


def test_removed_stops_monitoring_with_its_reason(client, setup, key) -> None:
    document = event(
        "number_reputation.number.removed",
        {
            "source": "external",
            "ownership_status": "removed",
            "removal_reason": "unconfirmed_ownership",
            "removed_at": "2026-10-09T07:00:03+00:00",
        },
    )
    assert post(client, setup["org"], document, key).json() == {"status": "processed"}
    number = OwnedNumber.objects.get(e164=NUMBER)
    assert not number.is_registered and not number.monitored
    assert number.removed_reason == "unconfirmed_ownership"
    assert number.removed_at.isoformat().startswith("2026-10-09T07:00:03")
    entry = AuditEntry.objects.get(action="reputation.number_removed")
    assert entry.reason == (
        f"The provider stopped monitoring {NUMBER}: unconfirmed_ownership."
    )


def test_verification_status_is_kept(client, setup, key) -> None:
    document = event(
        "number_reputation.external_verification.status_changed",
        {"status": "verified"},
    )
    post(client, setup["org"], document, key)
    assert OwnedNumber.objects.get(e164=NUMBER).verification_status == "verified"
    assert AuditEntry.objects.filter(action="reputation.verification_status").exists()


def test_bad_signatures_change_nothing(client, setup, key) -> None:
    """Wrong key → 403; stale (301 s) → 403; missing headers → 401; other org's
    address → 404. Nothing is recorded."""
    org = setup["org"]
    document = event("number_reputation.number.flagged", {})
    assert post(client, org, document, SigningKey.generate()).status_code == 403
    stale = int(time.time()) - 301
    assert post(client, org, document, key, stamp=stale).status_code == 403
    body = json.dumps(document)
    missing = client.post(
        f"/hooks/reputation/{org.public_id}/", body, content_type="application/json"
    )
    assert missing.status_code == 401
    assert (
        client.post(
            f"/hooks/reputation/{uuid.uuid4()}/", body, content_type="application/json"
        ).status_code
        == 404
    )
    assert not ReputationEvent.objects.exists()
    assert OwnedNumber.objects.get(e164=NUMBER).spam_risk == SpamRisk.LOW


def test_a_replayed_delivery_within_the_window_is_a_duplicate(
    client, setup, key
) -> None:
    """GIVEN a delivery captured and sent again (same signature and id) within the
    300 s window THEN it is not applied twice."""
    org = setup["org"]
    document = event("number_reputation.number.removed", {"removal_reason": "x"})
    stamp = int(time.time()) - 100
    assert post(client, org, document, key, stamp=stamp).json()["status"] == (
        "processed"
    )
    OwnedNumber.objects.filter(e164=NUMBER).update(registered_at="2026-11-02T00:00Z")
    assert post(client, org, document, key, stamp=stamp).json()["status"] == (
        "duplicate"
    )
    assert OwnedNumber.objects.get(e164=NUMBER).is_registered


def test_the_key_of_a_telnyx_voice_connection_verifies_too(client, org, key) -> None:
    """GIVEN no key in Settings → Remediation but a Telnyx voice connection WHEN a
    delivery is signed with that account's key THEN it is accepted."""
    VoiceConnection.objects.create(
        organisation=org,
        name="Main",
        provider="telnyx_call_control",
        secret=public(key),
    )
    enterprise = make_enterprise(org)
    own(enterprise, [NUMBER], spam_risk=None)
    document = event("number_reputation.number.flagged", {"enterprise_id": ""})
    assert post(client, org, document, key).json() == {"status": "processed"}


def test_no_key_at_all_refuses(client, org, key) -> None:
    document = event("number_reputation.number.flagged", {})
    assert post(client, org, document, key).status_code == 403


def test_tenants_are_separate(client, setup, other_org, key) -> None:
    """GIVEN the same number in another organisation WHEN Alpha's event arrives at
    Beta's address (signed with Alpha's key) THEN Beta refuses it."""
    other = make_enterprise(other_org, upstream_enterprise_id="4a6192a4-573d")
    own(other, [NUMBER], spam_risk=SpamRisk.LOW)
    document = event("number_reputation.number.flagged", {})
    assert post(client, other_org, document, key).status_code == 403
    assert post(client, setup["org"], document, key).status_code == 200
    assert OwnedNumber.objects.get(enterprise=other).spam_risk == SpamRisk.LOW


def test_unknown_numbers_and_events_are_acknowledged_and_ignored(
    client, setup, key
) -> None:
    org = setup["org"]
    stranger = event("number_reputation.number.flagged", {"phone_number": "+1"})
    assert post(client, org, stranger, key).json() == {"status": "ignored"}
    other = event("number_reputation.something_new", {})
    assert post(client, org, other, key).json() == {"status": "ignored"}
    broken = post(client, org, {"data": "nope"}, key)
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["field"] == "data"
