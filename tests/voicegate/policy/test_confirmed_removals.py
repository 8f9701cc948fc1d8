"""Withdrawing a verified caller ID or a consent record follows the one
confirmation policy: the page asks for the reason (first POST without one shows
the confirmation and changes nothing), the API answers 400 naming `reason`, and
the reason is kept in the audit entry, which reads as words."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.voicegate.policy.conftest import DEST
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from trustconsole.lib.confirm import REASON_MISSING
from voicegate.policy import services
from voicegate.policy.models import ConsentRecord, VerifiedCallerId

pytestmark = pytest.mark.django_db
MISSING = [{"field": "reason", "reason": REASON_MISSING}]
CALLER = "+14155550177"


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_withdrawing_a_caller_id_in_the_page_asks_why(op, oscar) -> None:
    row = services.caller_id_verify(actor=op, number=CALLER, method="sms")
    client = browser(oscar)
    listing = client.get("/voice/policy/caller-ids/").content.decode()
    assert (
        f'data-confirm="Withdraw {CALLER}? Outbound calls showing it are refused '
        'unless it is owned."'
    ) in listing
    url = f"/voice/policy/caller-ids/{row.public_id}/remove/"
    again = client.post(url, {})
    assert again.status_code == 400
    page = again.content.decode()
    assert 'data-testid="confirm-page"' in page and REASON_MISSING in page
    assert VerifiedCallerId.objects.filter(pk=row.pk).exists()
    assert not AuditEntry.objects.filter(action="policy.caller_id_remove").exists()

    done = client.post(url, {"reason": "Number ported away"}, follow=True)
    assert f"{CALLER} is no longer a verified caller ID." in done.content.decode()
    assert not VerifiedCallerId.objects.filter(pk=row.pk).exists()
    entry = AuditEntry.objects.get(action="policy.caller_id_remove")
    assert entry.reason == "Number ported away"
    assert "removed the verified caller ID" in describe(entry).sentence


def test_withdrawing_a_consent_in_the_page_asks_why(op, oscar) -> None:
    row = services.consent_record(actor=op, number=DEST, evidence="Opt-in #42")
    client = browser(oscar)
    listing = client.get("/voice/policy/consent/").content.decode()
    assert f'data-confirm="Withdraw the consent of {DEST}?' in listing
    url = f"/voice/policy/consent/{row.public_id}/remove/"
    again = client.post(url, {"reason": "   "})
    assert again.status_code == 400
    assert 'data-testid="confirm-page"' in again.content.decode()
    assert ConsentRecord.objects.filter(pk=row.pk).exists()

    done = client.post(url, {"reason": "Customer revoked it"}, follow=True)
    assert f"Consent of {DEST} withdrawn." in done.content.decode()
    assert not ConsentRecord.objects.filter(pk=row.pk).exists()
    entry = AuditEntry.objects.get(action="policy.consent_remove")
    assert entry.reason == "Customer revoked it"
    assert "removed the call consent of" in describe(entry).sentence


def test_the_api_needs_a_reason_to_withdraw_either(op, org, api_client_for) -> None:
    api = api_client_for(org, "operator")
    caller = services.caller_id_verify(actor=op, number=CALLER, method="sms")
    consent = services.consent_record(actor=op, number=DEST, evidence="Opt-in #42")
    urls = [
        (f"/api/v1/voice/caller-ids/{caller.public_id}", "policy.caller_id_remove"),
        (f"/api/v1/voice/consents/{consent.public_id}", "policy.consent_remove"),
    ]
    for url, _ in urls:
        for body in ({}, {"reason": " "}):
            refused = api.delete(url, body, format="json")
            assert refused.status_code == 400
            assert refused.json()["errors"] == MISSING
    assert VerifiedCallerId.objects.count() == 1 and ConsentRecord.objects.count() == 1
    for url, action in urls:
        assert api.delete(url, {"reason": "Cleanup"}, format="json").status_code == 204
        assert AuditEntry.objects.get(action=action).reason == "Cleanup"
    assert not VerifiedCallerId.objects.exists() and not ConsentRecord.objects.exists()
