"""A rule's page shows what it matched in the logged decisions of the last 7
days next to what was really decided, with the events."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from tests.rules.factories import make_rule
from tests.voicegate.conftest import logged
from trustconsole.core.actor import Actor
from trustconsole.rules import engine
from visitors.services import visitor_upsert, visitor_whitelist

pytestmark = pytest.mark.django_db


def _call(api, caller):
    body = {"from": caller, "to": "+14155550100", "call_id": uuid.uuid4().hex}
    response = api.post("/api/v1/voice/decide", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["action"]


def _page(user, rule) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/settings/rules/{rule.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_shadow_rule_shows_what_it_would_have_rejected_and_who_is_trusted_now(
    org, other_org, oscar, api_client_for
) -> None:
    rule = make_rule(org, 'caller.country == "NG"', {"reject": True}, mode="shadow")
    other = make_rule(other_org, 'caller.country == "NG"', {"reject": True})
    api = api_client_for(org, "operator")
    assert [_call(api, c) for c in ("+2348010000001", "+2348010000002")] == [
        "allow",
        "allow",
    ]
    _call(api, "+14155550111")
    _call(api_client_for(other_org, "operator"), "+2348010000009")
    logged()
    actor = Actor.system_for(org, "tests")
    visitor = visitor_upsert(actor=actor, phones=["+2348010000001"])
    visitor_whitelist(actor=actor, visitor=visitor, reason="a known partner")
    html = _page(oscar, rule)
    assert "Shadow against real (last 7 days)" in html
    assert (
        "Would have acted on <strong>2</strong> calls, 2 of them really allowed; "
        "1 of those 2 numbers is whitelisted now." in html
    )
    assert html.count("+23480100000") == 2 and "+14155550111" not in html
    assert "+2348010000009" not in html and str(other.public_id) not in html


def test_a_live_outbound_rule_lists_the_calls_it_refused(
    org, oscar, api_client_for
) -> None:
    rule = make_rule(
        org,
        'destination.country == "GB"',
        {"refuse": {"code": "uk_not_licensed"}},
        channel="outbound_check",
        mode="live",
    )
    api = api_client_for(org, "operator")
    api.post(
        "/api/v1/voice/outbound-check",
        {"from": "+14155550100", "to": "+442079460123"},
        format="json",
    )
    engine.hits_flush()  # the match log is written with the hit counts
    html = _page(oscar, rule)
    assert "What it matched (last 7 days)" in html
    assert "Refused <strong>1</strong> outbound call; 0 really allowed, 1 refused" in (
        html
    )
    assert "+442079460123" in html


@pytest.mark.parametrize(
    ("fine", "subjects", "said"),
    [
        (0, 1, "that number is not whitelisted now"),
        (1, 1, "that number is whitelisted now"),
        (0, 3, "none of those 3 numbers are whitelisted now"),
        (1, 3, "1 of those 3 numbers is whitelisted now"),
        (2, 3, "2 of those 3 numbers are whitelisted now"),
        (3, 3, "all 3 of those numbers are whitelisted now"),
    ],
)
def test_how_many_are_fine_now_reads_as_english(fine, subjects, said) -> None:
    from trustconsole.rules.selectors import of_those

    assert of_those(fine, subjects, ("number", "numbers"), "whitelisted now") == said


def test_one_matched_call_is_said_in_the_singular(org, oscar, api_client_for) -> None:
    """GIVEN a shadow rule WHEN it matches one call from one number THEN its page
    says "1 call, really allowed; that number is not whitelisted now"."""
    rule = make_rule(org, 'caller.country == "NG"', {"reject": True}, mode="shadow")
    assert _call(api_client_for(org, "operator"), "+2348010000001") == "allow"
    logged()
    assert (
        "Would have acted on <strong>1</strong> call, really allowed; that number "
        "is not whitelisted now." in _page(oscar, rule)
    )
