"""Removing an IP block, a visitor's identifier or a risk signal follows the one
confirmation policy: the page asks for the reason (a first POST without one shows
the confirmation and changes nothing), the API answers 400 naming `reason`, and
the reason is kept in the audit entry, which reads as words."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.visitors.factories import VisitorFactory
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from trustconsole.lib.confirm import REASON_MISSING
from visitors import services
from visitors.choices import IdentifierKind, SignalSource
from visitors.models import IPBlock, RiskSignal, Visitor

pytestmark = pytest.mark.django_db
MISSING = [{"field": "reason", "reason": REASON_MISSING}]


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def refused_in_the_page(client: Client, url: str, data: dict[str, str]) -> str:
    again = client.post(url, data)
    assert again.status_code == 400
    page = again.content.decode()
    assert 'data-testid="confirm-page"' in page and REASON_MISSING in page
    return page


def test_lifting_an_ip_block_in_the_page_asks_why(operator, oscar) -> None:
    block = services.ip_block_create(
        actor=operator, network="198.51.100.0/24", reason="abuse"
    )
    client = browser(oscar)
    listing = client.get("/security/ip-blocks/").content.decode()
    assert (
        'data-confirm="Remove the block of 198.51.100.0/24? Requests from it are '
        'no longer refused."'
    ) in listing
    url = f"/security/ip-blocks/{block.public_id}/remove/"
    refused_in_the_page(client, url, {"reason": "  "})
    assert IPBlock.objects.filter(pk=block.pk).exists()
    assert not AuditEntry.objects.filter(action="ip_block.remove").exists()

    done = client.post(url, {"reason": "Abuse stopped"}, follow=True)
    assert "198.51.100.0/24 is no longer blocked." in done.content.decode()
    assert not IPBlock.objects.exists()
    entry = AuditEntry.objects.get(action="ip_block.remove")
    assert entry.reason == "Abuse stopped"
    assert "removed the IP block 198.51.100.0/24" in describe(entry).sentence


def test_removing_an_identifier_in_the_page_asks_why(org, operator, oscar) -> None:
    visitor = services.visitor_upsert(
        actor=operator, name="Eve", phones=["+12025550143"]
    )
    client = browser(oscar)
    url = f"/security/visitors/{visitor.public_id}/identifiers/remove/"
    posted = {"kind": IdentifierKind.PHONE, "value": "+12025550143"}
    page = refused_in_the_page(client, url, posted)
    assert "Remove +12025550143 from Eve?" in page
    # The confirmation carries what is to be removed.
    assert 'name="value" value="+12025550143"' in page
    assert visitor.identifiers.filter(value="+12025550143").exists()

    done = client.post(url, {**posted, "reason": "Wrong number"}, follow=True)
    assert "Identifier removed." in done.content.decode()
    assert not visitor.identifiers.filter(value="+12025550143").exists()
    entry = AuditEntry.objects.get(action="visitor.identifier_remove")
    assert entry.reason == "Wrong number"
    assert "removed" in describe(entry).sentence
    assert "+12025550143" in describe(entry).sentence


def test_removing_a_risk_signal_in_the_page_asks_why(org, operator, oscar) -> None:
    visitor = VisitorFactory(organisation=org, name="Eve")
    signal = services.risk_signal_add(
        actor=operator,
        visitor=visitor,
        signal_type="spam",
        level="high",
        source=SignalSource.CONSOLE,
    )
    visitor.refresh_from_db()
    score = visitor.trust_score
    assert score < 100
    client = browser(oscar)
    url = f"/security/signals/{signal.public_id}/remove/"
    page = refused_in_the_page(client, url, {})
    assert f"Remove the {signal.type_label} signal of Eve?" in page
    visitor.refresh_from_db()
    assert visitor.trust_score == score
    assert RiskSignal.objects.get(pk=signal.pk).ended_at is None

    done = client.post(url, {"reason": "Refunded, not spam"}, follow=True)
    assert f"{signal.type_label} removed." in done.content.decode()
    visitor.refresh_from_db()
    assert visitor.trust_score == 100
    entry = AuditEntry.objects.get(action="risk_signal.remove")
    assert entry.reason == "Refunded, not spam"
    assert "removed a" in describe(entry).sentence


def test_the_api_needs_a_reason_to_remove_either(org, operator, api_client_for) -> None:
    api = api_client_for(org, "operator")
    block = services.ip_block_create(
        actor=operator, network="198.51.100.7", reason="abuse"
    )
    visitor = VisitorFactory(organisation=org)
    signal = services.risk_signal_add(
        actor=operator,
        visitor=visitor,
        signal_type="spam",
        level="high",
        source=SignalSource.CONSOLE,
    )
    urls = [
        (f"/api/v1/ip-blocks/{block.public_id}/", "ip_block.remove", 204),
        (f"/api/v1/signals/{signal.public_id}/", "risk_signal.remove", 200),
    ]
    for url, _, _ in urls:
        for body in ({}, {"reason": " "}):
            refused = api.delete(url, body, format="json")
            assert refused.status_code == 400
            assert refused.json()["errors"] == MISSING
    assert IPBlock.objects.count() == 1
    assert RiskSignal.objects.get().ended_at is None
    for url, action, code in urls:
        done = api.delete(url, {"reason": "Cleanup"}, format="json")
        assert done.status_code == code
        assert AuditEntry.objects.get(action=action).reason == "Cleanup"
    assert not IPBlock.objects.exists()
    assert Visitor.objects.get(pk=visitor.pk).trust_score == 100
