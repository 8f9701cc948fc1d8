"""Every account hold and restriction records what decided it, and the account
status (API and page) is the decision core's answer: the account's own status and
its email on the blacklist, read again after each explicit status write."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.choices import SignalSource, SignalType
from tests.accounts.factories import AccountFactory
from tests.conftest import PASSWORD
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import changes, sentence
from trustconsole.core.models import AuditEntry
from visitors.services import visitor_blacklist, visitor_clear_status, visitor_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_api(org, api_client_for):
    return api_client_for(org, "support")


def _detail(api, account) -> dict:
    response = api.get(f"/api/v1/accounts/{account.public_id}")
    assert response.status_code == 200
    return response.json()


def test_a_signup_hold_names_the_risk_assessment_and_its_reason(support_api) -> None:
    """GIVEN a risky signup WHEN support reads the account THEN the hold's
    explanation names the signup risk assessment, the step and the score."""
    response = support_api.post(
        "/api/v1/accounts",
        {
            "company_name": "Quick Leads",
            "email": "boss@mailinator.com",
            "website": "https://quick-leads.example",
            "country": "US",
        },
        format="json",
    )
    body = response.json()
    assert body["status"] == "on_hold"
    assert body["status_by"] == "the signup risk assessment"
    why = body["status_explanation"]
    assert (why["channel"], why["decision"], why["step"]) == (
        "account_action",
        "deny",
        "account_status",
    )
    assert why["identity"] == {"kind": "account", "value": body["id"]}
    assert why["entry"]["added_by"] == "the signup risk assessment"
    assert why["entry"]["reason"].startswith("Signup risk score 60")
    assert "set by the signup risk assessment" in why["sentence"]
    assert {s["service"]: s["allowed"] for s in body["services"]} == {
        "numbers": False,
        "sip_trunking": False,
        "sms": False,
        "voice": False,
    }


def test_a_hold_by_support_names_the_agent_and_reads_as_words(org, support_api) -> None:
    account = AccountFactory(organisation=org)
    assert _detail(support_api, account)["status_explanation"] is None
    response = support_api.post(
        f"/api/v1/accounts/{account.public_id}/hold",
        {"reason": "Chargebacks from three cards"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = _detail(support_api, account)
    why = body["status_explanation"]
    assert why["entry"]["added_by"] == body["status_by"]
    assert body["status_by"].startswith("API token")
    assert why["entry"]["reason"] == "Chargebacks from three cards"
    entry = AuditEntry.objects.get(action="account.hold")
    assert sentence(entry).endswith("put " + str(account) + " on hold")
    decided = next(c for c in changes(entry) if c.field == "status_by")
    assert (decided.label, decided.after) == ("Decided by", body["status_by"])


def test_an_automatic_restriction_names_its_rule(org, support_api) -> None:
    actor = Actor.system_for(org, "complaints feed")
    account = AccountFactory(organisation=org)
    for _ in range(2):
        services.account_signal_add(
            actor=actor,
            account=account,
            signal_type=SignalType.CARRIER_COMPLAINTS,
            weight=20,
            source=SignalSource.USAGE_FEED,
            note="carrier complaint",
        )
    body = _detail(support_api, account)
    assert body["status"] == "restricted"
    # The default rule set's restriction rule, by name and version.
    assert body["status_by"] == "the rule Restriction: Carrier complaints (version 1)"
    assert body["status_explanation"]["entry"]["added_by"] == body["status_by"]
    allowed = {s["service"]: s["allowed"] for s in body["services"]}
    assert allowed["sms"] is False


def test_a_blacklisted_email_restricts_the_account_without_telling_why(
    org, support_api
) -> None:
    """GIVEN an active account whose email a blacklisted visitor has WHEN the
    customer status is read THEN every service is restricted (the reason stays
    internal); support sees the blacklist entry; Clear status frees it again."""
    actor = Actor.system_for(org, "test")
    account = AccountFactory(organisation=org, email="mallory@example.com")
    mallory = visitor_upsert(actor=actor, emails=["mallory@example.com"])
    path = f"/api/v1/accounts/{account.public_id}/status"
    assert support_api.get(path).json()["restricted_services"] == []
    visitor_blacklist(actor=actor, visitor=mallory, reason="fraud ring")
    status = support_api.get(path).json()
    assert status["status"] == "active"
    assert status["restricted_services"] == ["numbers", "sip_trunking", "sms", "voice"]
    assert status["alert"]["title"] == "Your account has restrictions"
    assert "fraud" not in str(status) and "blacklist" not in str(status)
    why = _detail(support_api, account)["status_explanation"]
    assert (why["step"], why["entry"]["id"], why["entry"]["reason"]) == (
        "blacklist",
        str(mallory.public_id),
        "fraud ring",
    )
    visitor_clear_status(actor=actor, visitor=mallory, reason="cleared")
    assert support_api.get(path).json()["restricted_services"] == []


def test_the_account_page_shows_who_decided_and_why(org, client, sue) -> None:
    account = AccountFactory(organisation=org)
    services.account_hold(
        actor=Actor.system_for(org, "case desk"),
        account=account,
        reason="Identity documents forged",
    )
    assert client.login(username=sue.username, password=PASSWORD)
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert "system: case desk" in page
    assert 'data-testid="status-by"' in page
    assert "Identity documents forged" in page
    assert "Denied by the account status" in page
