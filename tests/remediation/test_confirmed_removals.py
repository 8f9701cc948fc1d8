"""Removing an enterprise's owned number and withdrawing its Terms of Service
acceptance follow the one confirmation policy: the page asks for the reason (a
first POST without one shows the confirmation and changes nothing), the API
answers 400 naming `reason`, and the reason is kept in the audit entry, which
reads as words."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from remediation.models import Enterprise, OwnedNumber
from tests.remediation.conftest import make_enterprise, own
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from trustconsole.lib.confirm import REASON_MISSING

pytestmark = pytest.mark.django_db
MISSING = [{"field": "reason", "reason": REASON_MISSING}]
NUMBER = "+12025550142"


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def confirmation_again(response: Any) -> str:
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="confirm-page"' in page and REASON_MISSING in page
    return page


def test_removing_an_owned_number_in_the_page_asks_why(org, alice) -> None:
    enterprise = make_enterprise(org)
    own(enterprise, [NUMBER])
    client = browser(alice)
    url = f"/settings/remediation/enterprises/{enterprise.public_id}/numbers/{NUMBER}/"
    page = confirmation_again(client.post(url, {"action": "remove"}))
    assert (
        f'data-confirm="Remove {NUMBER} from Northwind Dental? It is no longer an '
        'owned number of this enterprise."'
    ) in page
    assert OwnedNumber.objects.filter(e164=NUMBER).exists()
    assert not AuditEntry.objects.filter(action="enterprise.number_remove").exists()

    done = client.post(url, {"action": "remove", "reason": "Ported away"}, follow=True)
    assert f"{NUMBER} removed." in done.content.decode()
    assert not OwnedNumber.objects.exists()
    entry = AuditEntry.objects.get(action="enterprise.number_remove")
    assert entry.reason == "Ported away"
    assert f"removed the number {NUMBER}" in describe(entry).sentence
    # The enterprise's history shows the reason beside the sentence.
    assert "Ported away" in done.content.decode()


def test_withdrawing_the_terms_in_the_page_asks_why(org, alice) -> None:
    enterprise = make_enterprise(org)
    assert enterprise.terms_accepted_at is not None
    client = browser(alice)
    url = f"/settings/remediation/enterprises/{enterprise.public_id}/"
    shown = client.get(url).content.decode()
    assert (
        'data-confirm="Withdraw the Terms of Service acceptance of Northwind Dental? '
        "Its numbers cannot be sent for remediation until they are accepted again."
        '"'
    ) in shown
    confirmation_again(client.post(url, {"action": "revoke_terms", "reason": " "}))
    enterprise.refresh_from_db()
    assert enterprise.terms_accepted_at is not None and enterprise.can_remediate

    why = {"action": "revoke_terms", "reason": "Signed on paper instead"}
    done = client.post(url, why, follow=True)
    assert "Terms of Service acceptance withdrawn." in done.content.decode()
    enterprise.refresh_from_db()
    assert enterprise.terms_accepted_at is None and not enterprise.can_remediate
    entry = AuditEntry.objects.get(action="enterprise.update")
    assert entry.reason == "Signed on paper instead"
    assert describe(entry).reason == "Signed on paper instead"
    assert "Signed on paper instead" in done.content.decode()


def test_the_api_needs_a_reason_for_either(org, api_client_for) -> None:
    enterprise = make_enterprise(org)
    own(enterprise, [NUMBER])
    api = api_client_for(org, "admin")
    base = f"/api/v1/enterprises/{enterprise.public_id}/"
    number_url = f"{base}numbers/{quote(NUMBER)}/"
    for body in ({}, {"reason": "  "}):
        refused = api.delete(number_url, body, format="json")
        assert refused.status_code == 400 and refused.json()["errors"] == MISSING
        refused = api.patch(base, {"terms_accepted": False, **body}, format="json")
        assert refused.status_code == 400 and refused.json()["errors"] == MISSING
    enterprise.refresh_from_db()
    assert enterprise.terms_accepted_at is not None
    assert OwnedNumber.objects.count() == 1
    assert not AuditEntry.objects.filter(action__startswith="enterprise.").exists()

    removed = api.delete(number_url, {"reason": "Ported away"}, format="json")
    assert removed.status_code == 204 and not OwnedNumber.objects.exists()
    withdrawn = api.patch(
        base, {"terms_accepted": False, "reason": "Contract ended"}, format="json"
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["terms_accepted"] is False
    assert AuditEntry.objects.get(action="enterprise.number_remove").reason == (
        "Ported away"
    )
    assert AuditEntry.objects.get(action="enterprise.update").reason == "Contract ended"
    # Accepting needs no reason; withdrawing terms never accepted changes nothing.
    assert api.patch(base, {"terms_accepted": False}, format="json").status_code == 200
    accepted = api.patch(base, {"terms_accepted": True}, format="json")
    assert accepted.status_code == 200
    assert Enterprise.objects.get(pk=enterprise.pk).terms_accepted_at is not None
