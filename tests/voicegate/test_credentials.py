"""The call gate and encrypted credentials: decrypted once per load, and a
credential no key opens answers with the connection's fail mode, loudly."""

from __future__ import annotations

import json
import logging
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from playwright.sync_api import expect

from tests.voicegate.conftest import call_initiated, hook_path, logged
from trustconsole.core.actor import Actor
from trustconsole.lib import crypto
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate import gate, services, signatures
from voicegate.choices import CommandStatus, Decision, FailMode, Provider, Reason
from voicegate.models import VoiceConnection

pytestmark = pytest.mark.django_db

TOKEN = "twilio-auth-token-0123456789abcdef"
BLOCKED = "+14155550123"


def _twilio_call(client: Client, connection: VoiceConnection, caller: str) -> Any:
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": caller, "To": "+14155550100"}
    url = "http://testserver" + hook_path(connection)
    signature = signatures.twilio_signature(
        auth_token=TOKEN, url=url, params={k: [v] for k, v in params.items()}
    )
    return client.post(hook_path(connection), params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def blacklisted(org) -> Any:
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=[BLOCKED])
    return visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")


@pytest.fixture
def decryptions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every decryption of a stored credential, as it happens."""
    seen: list[str] = []
    real = crypto.decrypt

    def spy(token: str) -> str:
        seen.append(token)
        return real(token)

    monkeypatch.setattr(crypto, "decrypt", spy)
    return seen


def test_the_gate_decrypts_once_per_snapshot_load_not_per_call(
    org, blacklisted, make_connection, telnyx_signer, client, decryptions,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    """GIVEN a Twilio and a Telnyx Call Control connection WHEN calls arrive
    THEN their three stored credentials are decrypted only when the gate loads its
    snapshot (the first call; with Redis a key Redis never held also reloads once),
    never per call; after a connection changes, once more, and then not again."""
    twilio = make_connection(org, Provider.TWILIO, secret=TOKEN)
    make_connection(org, secret=telnyx_signer.public_b64)
    decryptions.clear()
    _twilio_call(client, twilio, BLOCKED)
    _twilio_call(client, twilio, BLOCKED)
    assert decryptions and len(decryptions) % 3 == 0  # whole snapshot loads only
    decryptions.clear()
    answers = [_twilio_call(client, twilio, BLOCKED) for _ in range(23)]
    assert all(ET.fromstring(a.content)[0].tag == "Reject" for a in answers)
    assert decryptions == []

    with django_capture_on_commit_callbacks(execute=True):
        services.connection_update(
            actor=Actor.system_for(org, "test"), connection=twilio, name="Renamed"
        )
    decryptions.clear()
    for _ in range(25):
        _twilio_call(client, twilio, BLOCKED)
    assert len(decryptions) == 3
    assert logged().filter(decision=Decision.REJECT).count() == 50


def _lose_the_key(settings: Any) -> None:
    """Replace ENCRYPTION_KEYS by a key that opens nothing stored so far."""
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    gate.reset()


def test_an_unreadable_secret_fails_open_loudly(
    org, blacklisted, make_connection, client, settings, caplog
) -> None:
    """GIVEN a connection whose secret no configured key opens WHEN a call arrives
    THEN the gate lets it through (fail open), logs FAIL-OPEN at CRITICAL naming
    ENCRYPTION_KEYS, and logs the decision; never a 500."""
    twilio = make_connection(org, Provider.TWILIO, secret=TOKEN)
    _lose_the_key(settings)
    with caplog.at_level(logging.CRITICAL, logger="voicegate.gate"):
        response = _twilio_call(client, twilio, BLOCKED)
    assert response.status_code == 200
    assert ET.fromstring(response.content).tag == "Response"
    assert list(ET.fromstring(response.content)) == []  # no reject: the call goes on
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert any(
        "FAIL-OPEN" in r.getMessage()
        and "ENCRYPTION_KEYS does not hold the key" in r.getMessage()
        for r in critical
    )
    assert logged().get().reason == Reason.FAIL_OPEN
    assert gate.failure_count() == 1


def test_an_unreadable_secret_fails_closed_when_the_connection_says_so(
    org, make_connection, client, settings
) -> None:
    twilio = make_connection(
        org, Provider.TWILIO, secret=TOKEN, fail_mode=FailMode.CLOSED
    )
    _lose_the_key(settings)
    response = _twilio_call(client, twilio, "+14155550188")
    assert [c.tag for c in ET.fromstring(response.content)] == ["Reject"]
    assert logged().get().reason == Reason.FAIL_CLOSED


def test_an_unreadable_api_key_sends_no_reject_and_says_why(
    org, blacklisted, make_connection, telnyx_signer, client, telnyx_api, settings
) -> None:
    """GIVEN a Call Control connection whose secret is readable but whose API key is
    not WHEN a blacklisted caller calls THEN the decision is still taken on real
    state, no reject command goes out with an empty key, and the call log says why."""
    key = Fernet.generate_key().decode()
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    # The secret under a key that is still configured, the API key under a lost one.
    lost = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [lost]
    connection.api_key = "KEY_call_control_0123456789"
    connection.save(update_fields=["api_key"])
    settings.ENCRYPTION_KEYS = [key]
    connection.secret = telnyx_signer.public_b64
    connection.save(update_fields=["secret"])
    gate.reset()
    body = json.dumps(call_initiated(BLOCKED)).encode()
    response = client.post(
        hook_path(connection),
        body,
        content_type="application/json",
        **telnyx_signer.headers(body),
    )
    assert response.json() == {"decision": "reject", "reason": "blacklisted_visitor"}
    assert telnyx_api.requests == []
    decision = logged().get()
    assert decision.command_status == CommandStatus.FAILED
    assert "ENCRYPTION_KEYS does not hold the key" in decision.command_detail


def test_pages_and_api_name_the_unreadable_credential(
    org, alice, api_client_for, make_connection, settings
) -> None:
    """GIVEN a connection whose secret no configured key opens WHEN its page and the
    API show it THEN both answer 200 with a clear message naming ENCRYPTION_KEYS, and
    entering the secret again makes it readable."""
    twilio = make_connection(org, Provider.TWILIO, secret=TOKEN)
    _lose_the_key(settings)
    api = api_client_for(org, "admin")
    shown = api.get(f"/api/v1/voice/connections/{twilio.public_id}")
    assert shown.status_code == 200
    assert shown.json()["credential_error"] == crypto.UNREADABLE
    assert shown.json()["secret_hint"] == crypto.UNREADABLE
    browser = Client()
    browser.force_login(alice)
    for path in ("/voice/connections/", f"/voice/connections/{twilio.public_id}/"):
        page = browser.get(path)
        assert page.status_code == 200
        assert crypto.UNREADABLE in page.content.decode()
    renamed = api.patch(
        f"/api/v1/voice/connections/{twilio.public_id}",
        {"name": "Still unreadable"},
        format="json",
    )
    assert renamed.status_code == 200
    assert renamed.json()["credential_error"] == crypto.UNREADABLE
    fixed = api.patch(
        f"/api/v1/voice/connections/{twilio.public_id}",
        {"secret": TOKEN + "-new"},
        format="json",
    )
    assert fixed.json()["credential_error"] is None
    assert fixed.json()["secret_hint"] == "••••-new"


def test_a_hint_pasted_back_is_refused(org, api_client_for, make_connection) -> None:
    twilio = make_connection(org, Provider.TWILIO, secret=TOKEN)
    api = api_client_for(org, "admin")
    hint = api.get(f"/api/v1/voice/connections/{twilio.public_id}").json()[
        "secret_hint"
    ]
    refused = api.patch(
        f"/api/v1/voice/connections/{twilio.public_id}", {"secret": hint}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "secret"
    assert VoiceConnection.objects.get(pk=twilio.pk).secret == TOKEN


@pytest.mark.browser
def test_the_connection_page_shows_the_hint_and_an_unreadable_credential(
    login, alice, org, make_connection, settings, tmp_path
) -> None:
    twilio = make_connection(org, Provider.TWILIO, secret=TOKEN)
    page = login(alice)
    page.goto(f"/voice/connections/{twilio.public_id}/")
    expect(page.get_by_test_id("credentials")).to_contain_text("••••cdef")
    page.screenshot(path=str(tmp_path / "hint.png"), full_page=True)
    _lose_the_key(settings)
    page.goto(f"/voice/connections/{twilio.public_id}/")
    expect(page.get_by_test_id("credential-error")).to_contain_text(
        "ENCRYPTION_KEYS does not hold the key"
    )
    page.screenshot(path=str(tmp_path / "unreadable.png"), full_page=True)
