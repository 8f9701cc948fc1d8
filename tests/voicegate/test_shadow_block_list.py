"""Shadow block-list entries: the gate logs "would have rejected" and lets the
call through, through the real entry points (the API, a Twilio webhook, the
block-list page); put live, the very next call is rejected."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from tests.voicegate.conftest import hook_path, logged
from trustconsole.core.audit_text import sentence
from trustconsole.core.models import AuditEntry
from voicegate import signatures
from voicegate.choices import Provider
from voicegate.models import BlockedNumber

pytestmark = pytest.mark.django_db

CALLER = "+14155550111"


def _decide(api, caller=CALLER):
    body = {"from": caller, "to": "+14155550100", "call_id": uuid.uuid4().hex}
    response = api.post("/api/v1/voice/decide", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def api(org, api_client_for):
    return api_client_for(org, "operator")


def _shadow_entry(api) -> dict:
    response = api.post(
        "/api/v1/voice/blocked-numbers",
        {"number": CALLER, "reason": "trying a block", "shadow": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_shadow_entry_lets_the_call_through_and_says_it_would_have_rejected(
    api,
) -> None:
    entry = _shadow_entry(api)
    assert entry["shadow"] is True
    answer = _decide(api)
    assert answer["action"] == "allow"
    explanation = answer["explanation"]
    assert [(e["label"], e["shadow"]) for e in explanation["shadow_entries"]] == [
        (CALLER, True)
    ]
    assert (
        f"Would have been rejected by the shadow block-list entry {CALLER}"
        in explanation["sentence"]
    )
    row = logged().get()
    assert row.decision == "allow"
    assert row.explanation["shadow_entries"][0]["id"] == entry["id"]
    audit = AuditEntry.objects.get(action="voice.block_list.shadow_add")
    assert "in shadow (logged, not rejected)" in sentence(audit)


def test_put_live_the_very_next_call_is_rejected_and_back_in_shadow_allowed(
    api,
) -> None:
    entry = _shadow_entry(api)
    assert _decide(api)["action"] == "allow"
    live = api.patch(
        f"/api/v1/voice/blocked-numbers/{entry['id']}",
        {"shadow": False, "reason": "looks right"},
        format="json",
    )
    assert live.status_code == 200 and live.json()["shadow"] is False
    answer = _decide(api)
    assert (answer["action"], answer["explanation"]["step"]) == ("reject", "block_list")
    assert answer["explanation"]["shadow_entries"] == []
    api.patch(
        f"/api/v1/voice/blocked-numbers/{entry['id']}", {"shadow": True}, format="json"
    )
    assert _decide(api)["action"] == "allow"
    actions = list(
        AuditEntry.objects.filter(action__startswith="voice.block_list")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "voice.block_list.shadow_add",
        "voice.block_list.live",
        "voice.block_list.shadow",
    ]


def test_a_bad_mode_change_is_a_400_naming_the_field(api) -> None:
    entry = _shadow_entry(api)
    response = api.patch(
        f"/api/v1/voice/blocked-numbers/{entry['id']}",
        {"shadow": "maybe"},
        format="json",
    )
    assert response.status_code == 400
    assert "shadow" in str(response.json())
    assert BlockedNumber.objects.get().shadow is True


def test_a_twilio_webhook_is_not_rejected_by_a_shadow_entry(
    org, api, make_connection, client
) -> None:
    connection = make_connection(org, Provider.TWILIO, secret="twilio-auth-token")
    _shadow_entry(api)
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": CALLER, "To": "+1415555"}
    url = "http://testserver" + hook_path(connection)
    signature = signatures.twilio_signature(
        auth_token="twilio-auth-token",
        url=url,
        params={k: [v] for k, v in params.items()},
    )
    response = client.post(
        hook_path(connection), params, HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert [c.tag for c in ET.fromstring(response.content)] != ["Reject"]
    assert logged().get().explanation["shadow_entries"][0]["label"] == CALLER


def test_a_shadow_entry_never_refuses_an_outbound_call(org, api) -> None:
    _shadow_entry(api)
    response = api.post(
        "/api/v1/voice/outbound-check",
        {"from": "+14155550100", "to": CALLER},
        format="json",
    )
    assert "blocked_destination" not in [
        v["code"] for v in response.json()["violations"]
    ]


def test_the_block_list_page_adds_a_shadow_entry_and_puts_it_live(oscar) -> None:
    client = Client()
    client.force_login(oscar)
    response = client.post(
        "/voice/block-list/", {"number": CALLER, "reason": "try", "shadow": "on"}
    )
    assert response.status_code == 302
    blocked = BlockedNumber.objects.get()
    assert blocked.shadow is True
    page = client.get("/voice/block-list/").content.decode()
    assert "Shadow</span>" in page and "Put live" in page
    client.post(f"/voice/block-list/{blocked.public_id}/mode/", {"shadow": "0"})
    blocked.refresh_from_db()
    assert blocked.shadow is False
    assert "Live" in client.get("/voice/block-list/").content.decode()
