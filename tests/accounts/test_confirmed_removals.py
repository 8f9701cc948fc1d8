"""Removing one of an account's numbers follows the one confirmation policy: a
first POST without a reason shows the confirmation (the number named, nothing
removed); with the reason the number goes and the audit entry keeps the reason,
shown beside the sentence in the account's history."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts import services
from tests.accounts.factories import AccountFactory, AccountNumberFactory
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from trustconsole.lib.confirm import REASON_MISSING

pytestmark = pytest.mark.django_db


def test_removing_a_number_in_the_page_asks_why(org, sue) -> None:
    account = AccountFactory(organisation=org, company_name="Dialer Ltd")
    AccountNumberFactory(account=account, e164="+14155550100")
    client = Client()
    client.force_login(sue)
    url = f"/accounts/{account.public_id}/numbers/remove/"
    again = client.post(url, {"number": "+14155550100"})
    assert again.status_code == 400
    page = again.content.decode()
    assert 'data-testid="confirm-page"' in page and REASON_MISSING in page
    assert (
        'data-confirm="Remove +14155550100 from Dialer Ltd? It is no longer '
        'counted as a number the account owns."'
    ) in page
    assert 'name="number" value="+14155550100"' in page
    assert account.numbers.filter(e164="+14155550100").exists()
    assert not AuditEntry.objects.filter(action="account.numbers_remove").exists()

    done = client.post(
        url, {"number": "+14155550100", "reason": "Ported to a new carrier"}
    )
    assert done.status_code == 302
    assert not account.numbers.exists()
    entry = AuditEntry.objects.get(action="account.numbers_remove")
    assert entry.reason == "Ported to a new carrier"
    assert "removed numbers from Dialer Ltd" in describe(entry).sentence
    assert describe(entry).reason == "Ported to a new carrier"
    history = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert "Ported to a new carrier" in history


def test_a_viewer_is_refused_before_any_confirmation(org, bob) -> None:
    account = AccountFactory(organisation=org)
    AccountNumberFactory(account=account, e164="+14155550100")
    client = Client()
    client.force_login(bob)
    url = f"/accounts/{account.public_id}/numbers/remove/"
    for data in ({}, {"reason": "x"}):
        refused = client.post(url, {"number": "+14155550100", **data})
        assert refused.status_code == 403
    assert account.numbers.exists()


def test_the_service_needs_the_reason_too(org) -> None:
    account = AccountFactory(organisation=org)
    AccountNumberFactory(account=account, e164="+14155550100")
    support = Actor(organisation=org, role="support", system="test")
    with pytest.raises(ValidationError, match=REASON_MISSING):
        services.account_numbers_remove(
            actor=support, account=account, numbers=["+14155550100"], reason=" "
        )
    assert account.numbers.exists()
