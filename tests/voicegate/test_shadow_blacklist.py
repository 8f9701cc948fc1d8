"""A shadow blacklist: the voice gate lets the visitor's calls through and logs
that it would have rejected them; nothing else about the visitor changes. Through
the API, the decision API and the outbound check."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from tests.voicegate.conftest import logged
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import sentence
from trustconsole.core.models import AuditEntry
from visitors.choices import VisitorStatus
from visitors.models import Visitor
from visitors.services import visitor_identifier_add, visitor_upsert

pytestmark = pytest.mark.django_db

PHONE = "+14155550111"


@pytest.fixture
def api(org, api_client_for):
    return api_client_for(org, "operator")


@pytest.fixture
def visitor(org):
    return visitor_upsert(
        actor=Actor.system_for(org, "tests"), name="Mallory", phones=[PHONE]
    )


def _decide(api, caller=PHONE):
    body = {"from": caller, "to": "+14155550100", "call_id": uuid.uuid4().hex}
    response = api.post("/api/v1/voice/decide", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _shadow(api, visitor, reason="trying a block"):
    return api.post(
        f"/api/v1/visitors/{visitor.public_id}/shadow-blacklist/",
        {"reason": reason},
        format="json",
    )


def test_calls_are_let_through_and_logged_as_would_be_rejections(api, visitor) -> None:
    response = _shadow(api, visitor)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "none" and body["shadow_blacklisted_at"]
    answer = _decide(api)
    assert answer["action"] == "allow"
    [entry] = answer["explanation"]["shadow_entries"]
    assert (entry["kind"], entry["id"], entry["shadow"]) == (
        "visitor",
        str(visitor.public_id),
        True,
    )
    assert (
        "Would have been rejected by the shadow blacklist of visitor Mallory"
        in answer["explanation"]["sentence"]
    )
    assert logged().get().explanation["shadow_entries"][0]["reason"] == (
        "trying a block"
    )
    visitor.refresh_from_db()
    assert (visitor.status, visitor.trust_score) == (VisitorStatus.NONE, 100)
    audit = AuditEntry.objects.get(action="visitor.shadow_blacklist")
    assert "on a shadow blacklist" in sentence(audit)


def test_a_number_added_later_is_covered_and_clearing_ends_it(
    org, api, visitor
) -> None:
    _shadow(api, visitor)
    visitor_identifier_add(
        actor=Actor.system_for(org, "tests"),
        visitor=Visitor.objects.get(pk=visitor.pk),
        kind="phone",
        value="+14155550122",
    )
    assert _decide(api, "+14155550122")["explanation"]["shadow_entries"]
    cleared = api.post(
        f"/api/v1/visitors/{visitor.public_id}/shadow-blacklist/clear/",
        {"reason": "enough"},
        format="json",
    )
    assert (
        cleared.status_code == 200 and cleared.json()["shadow_blacklisted_at"] is None
    )
    assert _decide(api)["explanation"]["shadow_entries"] == []
    assert AuditEntry.objects.filter(action="visitor.shadow_clear").exists()


def test_a_real_blacklist_ends_the_trial_for_good(api, visitor) -> None:
    _shadow(api, visitor)
    api.post(
        f"/api/v1/visitors/{visitor.public_id}/blacklist/",
        {"reason": "it was right"},
        format="json",
    )
    assert _decide(api)["action"] == "reject"
    api.post(
        f"/api/v1/visitors/{visitor.public_id}/clear-status/",
        {"reason": "sorted out"},
        format="json",
    )
    answer = _decide(api)
    assert (answer["action"], answer["explanation"]["shadow_entries"]) == (
        "allow",
        [],
    )


def test_a_whitelisted_visitor_cannot_be_shadow_blacklisted(api, visitor) -> None:
    api.post(
        f"/api/v1/visitors/{visitor.public_id}/whitelist/",
        {"reason": "partner"},
        format="json",
    )
    response = _shadow(api, visitor)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"
    visitor.refresh_from_db()
    assert visitor.shadow_blacklisted_at is None


def test_a_shadow_blacklist_needs_a_reason(api, visitor) -> None:
    response = _shadow(api, visitor, reason="")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"


def test_outbound_checks_are_untouched(org, api, visitor) -> None:
    _shadow(api, visitor)
    answer = api.post(
        "/api/v1/voice/outbound-check",
        {"from": "+14155550100", "to": PHONE},
        format="json",
    ).json()
    assert "blacklisted_destination" not in [v["code"] for v in answer["violations"]]


def test_the_visitor_page_starts_and_ends_a_shadow_blacklist(oscar, visitor) -> None:
    client = Client()
    client.force_login(oscar)
    url = f"/security/visitors/{visitor.public_id}/"
    client.post(f"{url}shadow-blacklist/", {"reason": "trying"})
    visitor.refresh_from_db()
    assert visitor.shadow_blacklist_reason == "trying"
    page = client.get(url).content.decode()
    assert "<strong>shadow blacklist</strong> since" in page
    assert "End shadow blacklist" in page
    client.post(f"{url}shadow-blacklist/", {"end": "1"})
    visitor.refresh_from_db()
    assert visitor.shadow_blacklisted_at is None
