"""Global search: every kind it finds, grouped, and nothing of another organisation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.accounts.factories import AccountFactory, AccountNumberFactory
from tests.remediation.conftest import make_enterprise
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.search import search
from visitors import services as visitor_services
from voicegate.models import BlockedNumber, CallDecision

pytestmark = pytest.mark.django_db


def _titles(results, kind: str) -> list[str]:
    return [h.title for g in results.groups if g.kind == kind for h in g.hits]


@pytest.fixture
def world(org, other_org):
    actor = Actor.system_for(org, "test")
    dana = visitor_services.visitor_upsert(
        actor=actor,
        name="Dana Scully",
        emails=["dana@fbi.example"],
        phones=["+12025550143"],
        ips=["203.0.113.7"],
    )
    visitor_services.visitor_upsert(
        actor=Actor.system_for(other_org, "test"),
        name="Dana Other",
        emails=["dana@other.example"],
        phones=["+12025550143"],
        ips=["203.0.113.7"],
    )
    acme = AccountFactory(
        organisation=org, company_name="Acme Messaging", email="ops@acme.example"
    )
    AccountNumberFactory(account=acme, e164="+442079460011")
    AccountFactory(
        organisation=other_org, company_name="Acme Elsewhere", email="ops@acme2.example"
    )
    from remediation.models import RemediationRequest

    enterprise = make_enterprise(org)
    request = RemediationRequest.objects.create(
        organisation=org,
        enterprise=enterprise,
        call_purpose="Appointment reminders",
        phone_numbers_count=2,
        phone_numbers_submitted=2,
        phone_numbers_ineligible=0,
        created_by="alice",
        provider="sandbox",
        upstream_id="rr-upstream-77",
    )
    for org_ in (org, other_org):
        CallDecision.objects.create(
            organisation=org_,
            provider="generic",
            caller="+12025550143",
            caller_e164="+12025550143",
            decision="reject",
            reason="blacklisted_visitor",
        )
    BlockedNumber.objects.create(organisation=org, number="+12025550199", reason="x")
    return {"actor": actor, "dana": dana, "acme": acme, "request": request}


@pytest.mark.parametrize(
    "q",
    [
        "Dana",
        "dana sc",
        "dana@fbi",
        "DANA@FBI.EXAMPLE",
        "203.0.113.7",
        "+1 202 555 0143",
    ],
)
def test_visitor_by_name_email_ip_or_phone(world, q) -> None:
    assert _titles(search(actor=world["actor"], q=q), "visitors") == ["Dana Scully"]


def test_visitor_by_profile_id(world) -> None:
    results = search(actor=world["actor"], q=str(world["dana"].public_id))
    assert _titles(results, "visitors") == ["Dana Scully"]


@pytest.mark.parametrize("q", ["acme", "Acme Mess", "ops@acme.ex", "+442079460011"])
def test_account_by_name_email_or_number(world, q) -> None:
    assert _titles(search(actor=world["actor"], q=q), "accounts") == ["Acme Messaging"]


def test_remediation_request_by_id_or_provider_id(world) -> None:
    for q in (str(world["request"].public_id), "rr-upstream-77"):
        titles = _titles(search(actor=world["actor"], q=q), "requests")
        assert titles == [f"Remediation request {str(world['request'].public_id)[:8]}"]


def test_voice_calls_and_block_list_by_number(world) -> None:
    calls = search(actor=world["actor"], q="(202) 555-0143")
    assert _titles(calls, "calls") == ["Call from +12025550143"]
    hit = next(g for g in calls.groups if g.kind == "calls").hits[0]
    assert hit.url == "/voice/calls/?number=%2B12025550143"
    assert _titles(search(actor=world["actor"], q="+12025550199"), "calls") == [
        "+12025550199 is on the block list"
    ]


def test_groups_in_order_and_short_queries(world) -> None:
    results = search(actor=world["actor"], q="+12025550143")
    assert [g.kind for g in results.groups] == ["visitors", "calls"]
    assert search(actor=world["actor"], q="d").too_short
    assert search(actor=world["actor"], q="   ").groups == []


def test_another_organisation_finds_nothing_of_alpha(world, other_org) -> None:
    outsider = Actor(organisation=other_org, role=Role.ADMIN, system="t")
    assert _titles(search(actor=outsider, q="Dana"), "visitors") == ["Dana Other"]
    assert search(actor=outsider, q=str(world["dana"].public_id)).groups == []
    assert search(actor=outsider, q=str(world["request"].public_id)).groups == []
    assert search(actor=outsider, q="rr-upstream-77").groups == []
    assert _titles(search(actor=outsider, q="Acme"), "accounts") == ["Acme Elsewhere"]
    assert search(actor=outsider, q="+442079460011").groups == []


def test_a_search_is_a_handful_of_queries(world) -> None:
    with CaptureQueriesContext(connection) as queries:
        search(actor=world["actor"], q="dana")
    assert len(queries) <= 8


# --- Page, fragment and API ---------------------------------------------------------


def test_page_without_js_and_fragment(client, alice, world) -> None:
    client.force_login(alice)
    page = client.get("/search/", {"q": "dana"})
    assert page.status_code == 200
    assert b"Dana Scully" in page.content and b"<h1>Search</h1>" in page.content
    fragment = client.get("/search/", {"q": "dana"}, HTTP_HX_REQUEST="true")
    assert fragment.content.lstrip().startswith(b'<div id="gs-results"')
    empty = client.get("/search/", {"q": "nobody-at-all"})
    assert b"Nothing in Alpha matches" in empty.content


def test_every_page_carries_the_box_and_its_script(client, bob) -> None:
    client.force_login(bob)
    body = client.get("/").content.decode()
    assert 'id="global-search"' in body and "js/search.js" in body
    assert 'href="/search/"' in body


def test_api_groups_results(api_client_for, org, world) -> None:
    response = api_client_for(org, Role.VIEWER).get("/api/v1/search/", {"q": "dana"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["groups"][0]["kind"] == "visitors"
    assert body["groups"][0]["results"][0]["title"] == "Dana Scully"


def test_api_needs_q_and_is_scoped(api_client_for, org, other_org, world) -> None:
    client = api_client_for(org)
    missing = client.get("/api/v1/search/")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "q"
    outsider = api_client_for(other_org).get(
        "/api/v1/search/", {"q": str(world["dana"].public_id)}
    )
    assert outsider.json()["groups"] == []
