"""Rotating the status webhook secret and disabling reputation monitoring follow
the one confirmation policy: a reason is required in the page and in the API
(400 naming `reason`, nothing changes, the provider is not called) and is kept in
the audit entry, which reads as words."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from remediation import monitoring
from remediation.models import SandboxNumber
from remediation.selectors import settings_for
from tests.remediation.test_reputation_services import BATCH, monitored  # noqa: F401
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from trustconsole.lib.confirm import REASON_MISSING

pytestmark = pytest.mark.django_db
MISSING = [{"field": "reason", "reason": REASON_MISSING}]


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_rotating_the_secret_by_api_needs_a_reason(org, api_client_for) -> None:
    api = api_client_for(org, "admin")
    url = "/api/v1/remediation/settings/webhook-secret/rotate/"
    before = settings_for(organisation=org).webhook_secret
    for body in ({}, {"reason": "  "}):
        refused = api.post(url, body, format="json")
        assert refused.status_code == 400 and refused.json()["errors"] == MISSING
    assert settings_for(organisation=org).webhook_secret == before
    assert not AuditEntry.objects.filter(action__startswith="remediation.").exists()

    rotated = api.post(url, {"reason": "Old one was pasted in a ticket"}, format="json")
    assert rotated.status_code == 200
    secret = settings_for(organisation=org).webhook_secret
    assert rotated.json() == {
        "webhook_secret": secret,
        "webhook_secret_hint": "••••" + secret[-4:],
    }
    entry = AuditEntry.objects.get(action="remediation.webhook_secret_rotate")
    assert entry.reason == "Old one was pasted in a ticket"
    text = describe(entry)
    assert text.sentence.endswith("replaced the status webhook signing secret")
    assert secret not in str(entry.before) + str(entry.after)
    # Setting one's own secret replaces it too: the same rule.
    own = {"webhook_secret": "x" * 32}
    patch = api.patch("/api/v1/remediation/settings/", own, format="json")
    assert patch.status_code == 400 and patch.json()["errors"] == MISSING
    assert settings_for(organisation=org).webhook_secret == secret
    own["reason"] = "Our receivers share one secret"
    saved = api.patch("/api/v1/remediation/settings/", own, format="json")
    assert saved.status_code == 200
    assert settings_for(organisation=org).webhook_secret == "x" * 32
    changed = AuditEntry.objects.get(action="remediation.settings_update")
    assert changed.reason == "Our receivers share one secret"


def test_only_admins_rotate(org, api_client_for, oscar) -> None:
    before = settings_for(organisation=org).webhook_secret
    url = "/api/v1/remediation/settings/webhook-secret/rotate/"
    operator = api_client_for(org, "operator")
    assert operator.post(url, {"reason": "x"}, format="json").status_code == 403
    page = browser(oscar).post(
        "/settings/remediation/", {"action": "rotate", "reason": "x"}
    )
    assert page.status_code == 403
    assert settings_for(organisation=org).webhook_secret == before


def test_disabling_monitoring_needs_a_reason(
    monitored,  # noqa: F811
    sandbox_from_client,
    org,
    api_client_for,
    alice,
) -> None:
    """GIVEN an enterprise monitored by the provider (the sandbox)
    WHEN an admin disables monitoring without a reason, by API or in the page
    THEN it is refused (400 naming reason / the confirmation again) and the
    provider still monitors every number; with a reason it is disabled and the
    audit entry keeps the reason and says how many numbers stopped."""
    monitoring.reputation_numbers_register(
        actor=Actor.system_for(org, "test"), enterprise=monitored, phone_numbers=BATCH
    )
    assert SandboxNumber.objects.count() == 5
    url = f"/api/v1/enterprises/{monitored.public_id}/reputation/"
    api = api_client_for(org, "admin")
    refused = api.delete(url, {}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"] == MISSING
    page_url = f"/settings/remediation/enterprises/{monitored.public_id}/"
    client = browser(alice)
    page = client.get(page_url).content.decode()
    assert (
        f'data-confirm="Disable monitoring of {monitored.name}? The provider stops '
        'monitoring every number of this enterprise."'
    ) in page
    again = client.post(page_url, {"action": "monitoring_disable"})
    assert again.status_code == 400
    assert 'data-testid="confirm-page"' in again.content.decode()
    monitored.refresh_from_db()
    assert monitored.monitoring_enabled
    assert SandboxNumber.objects.count() == 5  # the provider was not asked

    done = client.post(
        page_url,
        {"action": "monitoring_disable", "reason": "Contract ended"},
        follow=True,
    )
    assert "Monitoring disabled" in done.content.decode()
    monitored.refresh_from_db()
    assert not monitored.monitoring_enabled and not SandboxNumber.objects.exists()
    entry = AuditEntry.objects.get(action="reputation.disable")
    assert entry.reason == "Contract ended"
    assert "no longer monitored" in describe(entry).sentence
    # The history on the enterprise's page shows the reason beside the sentence.
    assert "Contract ended" in client.get(page_url).content.decode()


def test_another_organisation_cannot_disable_it(
    monitored,  # noqa: F811
    other_org,
    api_client_for,
) -> None:
    url = f"/api/v1/enterprises/{monitored.public_id}/reputation/"
    answer = api_client_for(other_org, "admin").delete(
        url, {"reason": "x"}, format="json"
    )
    assert answer.status_code == 404
    monitored.refresh_from_db()
    assert monitored.monitoring_enabled
