"""Remediation credentials no configured key opens: clear errors, nothing signed
with an empty key, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from remediation import services, webhooks
from remediation.models import WebhookAttempt
from remediation.providers import ProviderError, client_for
from remediation.selectors import settings_for
from tests.remediation.test_webhooks import _delivery
from trustconsole.lib import crypto

pytestmark = pytest.mark.django_db


def _lose_the_key(settings: Any) -> None:
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


def test_a_webhook_is_not_sent_when_its_secret_is_unreadable(
    org, enterprise, actor_for, webhook_settings, settings
) -> None:
    """GIVEN a webhook signing secret no configured key opens WHEN a status webhook
    is due THEN nothing is posted (never signed with an empty key), the attempt is
    recorded with an error naming ENCRYPTION_KEYS, and it is retried later."""
    receiver = webhook_settings
    delivery = _delivery(org, enterprise, actor_for, receiver.url)
    # The signing secret is saved under the key that is about to be lost.
    services.settings_row_ensure(organisation=org)
    _lose_the_key(settings)
    assert webhooks.deliver(delivery_id=delivery.pk) is not None  # a retry is due
    assert receiver.received == []
    attempt = WebhookAttempt.objects.get()
    assert not attempt.ok
    assert "ENCRYPTION_KEYS does not hold the key" in attempt.error


def test_an_unreadable_api_key_is_a_clear_error(
    org, alice, api_client_for, settings
) -> None:
    """GIVEN the organisation's Telnyx API key under a lost key WHEN the console
    uses it or shows it THEN the provider client refuses with a message naming
    ENCRYPTION_KEYS, the page and the API answer 200 with that message, and saving
    Telnyx settings without a new key is a 400 on api_key."""
    api = api_client_for(org, "admin")
    saved = api.patch(
        "/api/v1/remediation/settings/",
        {"provider": "telnyx", "api_key": "KEY_remediation_0123456789"},
        format="json",
    )
    assert saved.status_code == 200
    _lose_the_key(settings)
    with pytest.raises(ProviderError, match="ENCRYPTION_KEYS does not hold the key"):
        client_for(settings_for(organisation=org))
    shown = api.get("/api/v1/remediation/settings/")
    assert shown.status_code == 200
    assert shown.json()["api_key_hint"] == crypto.UNREADABLE
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/settings/remediation/")
    assert page.status_code == 200 and crypto.UNREADABLE in page.content.decode()
    refused = api.patch(
        "/api/v1/remediation/settings/", {"cooldown_days": 10}, format="json"
    )
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["field"] == "api_key" and "ENCRYPTION_KEYS" in error["reason"]
    fixed = api.patch(
        "/api/v1/remediation/settings/",
        {"api_key": "KEY_remediation_new_0123456789"},
        format="json",
    )
    assert fixed.status_code == 200 and fixed.json()["api_key_hint"] == "••••6789"


def test_webhook_secret_writes_are_validated(org, api_client_for) -> None:
    api = api_client_for(org, "admin")
    before = settings_for(organisation=org).webhook_secret
    for bad in ("too-short", "••••abcd", "has spaces in it but is long enough ok"):
        answer = api.patch(
            "/api/v1/remediation/settings/", {"webhook_secret": bad}, format="json"
        )
        assert answer.status_code == 400, bad
        assert answer.json()["errors"][0]["field"] == "webhook_secret"
    assert settings_for(organisation=org).webhook_secret == before
