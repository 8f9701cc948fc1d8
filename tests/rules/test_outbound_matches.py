"""Outbound checks in the rule match log: every check a rule matched (live or
shadow), allowed or refused, with its codes, through `POST
/api/v1/voice/outbound-check` on both of its paths (the short path answers a
token-authenticated JSON body; a form body goes to the DRF view), read back on
the rule's page and `GET /api/v1/rules/<id>/matches/`."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.test import Client

from accounts.models import AccountNumber
from tests.accounts.factories import AccountFactory
from tests.rules.factories import make_rule
from trustconsole.rules import engine, matchlog
from trustconsole.rules.models import RuleMatch
from voicegate.policy import memory
from voicegate.policy.models import OutboundDenial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]

CHECK = "/api/v1/voice/outbound-check"
OWNED = "+14155550100"
LONDON = "+442079460123"
PARIS = "+33142685300"
TO_GB = 'destination.country == "GB"'


@pytest.fixture(autouse=True)
def _fresh_policy_state() -> Iterator[None]:
    memory.states_clear()
    matchlog.reset()
    yield
    memory.states_clear()
    matchlog.reset()


@pytest.fixture
def account(org):
    row = AccountFactory(organisation=org, company_name="Dialer Ltd")
    AccountNumber.objects.create(organisation=org, account=row, e164=OWNED)
    return row


def _short(api, to: str, account) -> dict:
    body = {"from": OWNED, "to": to, "account": str(account.public_id)}
    response = api.post(CHECK, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _drf(api, to: str, account) -> dict:
    body = urlencode({"from": OWNED, "to": to, "account": str(account.public_id)})
    response = api.post(CHECK, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    return response.json()


def _matches(api_client_for, org, rule) -> dict:
    response = api_client_for(org, "viewer").get(
        f"/api/v1/rules/{rule.public_id}/matches/"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _page(user, rule) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/settings/rules/{rule.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_live_outbound_rule_logs_each_refusal_from_both_paths(
    org, oscar, api_client_for, account
) -> None:
    """GIVEN a live rule refusing calls to GB WHEN one call to London goes through
    the short path, one through the DRF view and one to Paris THEN both London
    calls are refused and logged with their code, the Paris call is not logged,
    and the rule's page says "Refused 2 outbound calls; 0 really allowed, 2
    refused", listing the numbers with the account."""
    rule = make_rule(
        org, TO_GB, {"refuse": {"code": "uk_not_licensed"}},
        channel="outbound_check", mode="live", name="No UK",
    )  # fmt: skip
    api = api_client_for(org, "operator")
    assert _short(api, LONDON, account)["allowed"] is False
    assert _drf(api, LONDON, account)["allowed"] is False
    assert _drf(api, PARIS, account)["allowed"] is True
    engine.hits_flush()
    rows = RuleMatch.objects.filter(rule=rule)
    assert [(r.mode, r.real, r.acted, r.subject_label) for r in rows] == [
        ("live", "refused: uk_not_licensed", True, LONDON)
    ] * 2
    assert rows[0].account_id == account.pk
    assert rows[0].real_by == "rule No UK (version 1)"
    assert OutboundDenial.objects.count() == 2

    found = _matches(api_client_for, org, rule)
    assert found["summary"] == (
        "Refused 2 outbound calls; 0 really allowed, 2 refused; that number is "
        "not whitelisted now."
    )
    assert (found["total"], found["allowed"], found["acted"]) == (2, 0, 2)
    assert [(e["who"], e["kind"], e["account_id"]) for e in found["events"]] == [
        (LONDON, "number", str(account.public_id))
    ] * 2
    html = _page(oscar, rule)
    assert "Refused <strong>2</strong> outbound calls; 0 really allowed, 2 refused" in (
        html
    )
    # Each event: the number (with the account) and the call with its code.
    assert html.count(f"<td>{LONDON} (<a") == 2
    assert html.count(f"{OWNED} → {LONDON} (uk_not_licensed)") == 2
    assert PARIS not in html
    assert f"/accounts/{account.public_id}/" in html


def test_a_shadow_outbound_rule_never_refuses_and_says_what_it_would_have_done(
    org, oscar, api_client_for, account
) -> None:
    """GIVEN a shadow rule refusing calls to GB WHEN calls to London go through
    both paths THEN both are allowed, nothing is refused or logged as a denial,
    and the page says "Would have refused 2 outbound calls; 2 really allowed,
    0 refused"."""
    rule = make_rule(
        org, TO_GB, {"refuse": {"code": "uk_not_licensed"}},
        channel="outbound_check", mode="shadow",
    )  # fmt: skip
    api = api_client_for(org, "operator")
    short, full = _short(api, LONDON, account), _drf(api, LONDON, account)
    assert (short["allowed"], full["allowed"]) == (True, True)
    assert short["violations"] == full["violations"] == []
    assert not OutboundDenial.objects.exists()
    engine.hits_flush()
    found = _matches(api_client_for, org, rule)
    assert found["summary"].startswith(
        "Would have refused 2 outbound calls; 2 really allowed, 0 refused"
    )
    assert [(e["mode"], e["real"], e["kind"]) for e in found["events"]] == [
        ("shadow", "allowed", "number")
    ] * 2
    assert "Would have refused <strong>2</strong> outbound calls" in _page(oscar, rule)


def test_a_shadow_rule_beside_a_real_refusal_logs_the_real_codes(
    org, api_client_for, account
) -> None:
    """GIVEN a live and a shadow rule both matching London WHEN one call is
    checked THEN the shadow rule's row keeps what really happened: refused by
    the live rule, with its code."""
    make_rule(
        org, TO_GB, {"refuse": {"code": "uk_not_licensed"}},
        channel="outbound_check", mode="live", name="No UK",
    )  # fmt: skip
    shadow = make_rule(
        org, TO_GB, {"refuse": {"code": "gb_review"}},
        channel="outbound_check", mode="shadow", name="Review GB",
    )  # fmt: skip
    _short(api_client_for(org, "operator"), LONDON, account)
    engine.hits_flush()
    found = _matches(api_client_for, org, shadow)
    assert found["summary"].startswith(
        "Would have refused 1 outbound call; 0 really allowed, 1 refused"
    )
    [event] = found["events"]
    assert (event["real"], event["reason"]) == (
        "refused: uk_not_licensed",
        "rule No UK (version 1)",
    )


def test_a_check_no_rule_matched_logs_nothing(org, api_client_for, account) -> None:
    make_rule(
        org, TO_GB, {"refuse": {"code": "uk_not_licensed"}},
        channel="outbound_check", mode="live",
    )  # fmt: skip
    _short(api_client_for(org, "operator"), PARIS, account)
    assert matchlog.pending() == 0
