"""The visitors API: list/upsert/detail, actions, signals, events, queue, IP blocks."""

from __future__ import annotations

import pytest

from tests.visitors.factories import VisitorFactory
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry
from visitors import services
from visitors.choices import ReviewStatus, VisitorStatus, WeightLevel
from visitors.models import IPBlock, ReviewItem, Visitor


@pytest.fixture
def operator_api(org, api_client_for):
    return api_client_for(org, Role.OPERATOR)


@pytest.fixture
def viewer_api(org, api_client_for):
    return api_client_for(org, Role.VIEWER)


def test_upsert_creates_then_finds_the_same_visitor(operator_api) -> None:
    body = {"name": "Dana", "emails": ["Dana@FBI.example"], "phones": ["202-555-0143"]}
    created = operator_api.post("/api/v1/visitors/", body, format="json")
    assert created.status_code == 201
    data = created.json()
    assert data["identifiers"]["emails"] == ["dana@fbi.example"]
    assert data["identifiers"]["phones"] == ["+12025550143"]
    assert data["trust_score"] == 100 and data["band"] == "safe"
    again = operator_api.post(
        "/api/v1/visitors/", {"phones": ["+1 202 555 0143"]}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == data["id"]


def test_an_unparseable_phone_is_a_400_naming_the_field(operator_api) -> None:
    response = operator_api.post(
        "/api/v1/visitors/",
        {"emails": ["ok@example.com"], "phones": ["12ab"]},
        format="json",
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "phones" and "'12ab'" in error["reason"]
    assert not Visitor.objects.exists()


def test_conflicting_identifiers_are_a_400(operator_api, org) -> None:
    actor = Actor.system_for(org, "test")
    services.visitor_upsert(actor=actor, emails=["a@example.com"])
    services.visitor_upsert(actor=actor, phones=["+12025550143"])
    response = operator_api.post(
        "/api/v1/visitors/",
        {"emails": ["a@example.com"], "phones": ["+12025550143"]},
        format="json",
    )
    assert response.status_code == 400
    assert "another visitor" in response.json()["errors"][0]["reason"]


def test_the_list_filters_like_the_page(operator_api, org) -> None:
    actor = Actor.system_for(org, "test")
    dana = services.visitor_upsert(actor=actor, name="Dana", emails=["d@x.example"])
    services.visitor_upsert(actor=actor, name="Fox", emails=["f@x.example"])
    services.visitor_blacklist(actor=actor, visitor=dana, reason="x")
    listed = operator_api.get("/api/v1/visitors/?status=blacklisted").json()
    assert [v["name"] for v in listed["results"]] == ["Dana"]
    assert listed["count"] == 1
    ranged = operator_api.get("/api/v1/visitors/?score_min=31").json()
    assert [v["name"] for v in ranged["results"]] == ["Fox"]
    found = operator_api.get("/api/v1/visitors/?q=f@x.example").json()
    assert [v["name"] for v in found["results"]] == ["Fox"]
    bad = operator_api.get("/api/v1/visitors/?status=evil&score_max=200")
    assert bad.status_code == 400


def test_blacklist_whitelist_and_clear_by_api_with_audit(operator_api, org) -> None:
    visitor = VisitorFactory(organisation=org)
    base = f"/api/v1/visitors/{visitor.public_id}"
    data = operator_api.post(
        f"{base}/blacklist/", {"reason": "threats"}, format="json"
    ).json()
    assert data["status"] == "blacklisted" and data["trust_score"] == 30
    [signal] = data["signals"]
    assert signal["label"] == "Blacklisted visitor" and signal["weight"] == 70
    assert signal["level"] == "extreme"
    assert data["explanation"]["text"] == "100 − 70 (Blacklisted visitor) = 30"
    entry = AuditEntry.objects.get(action="visitor.blacklist")
    assert entry.reason == "threats" and entry.actor_label.startswith("API token")
    data = operator_api.post(f"{base}/clear-status/", {}, format="json").json()
    assert data["status"] == "none" and data["trust_score"] == 100
    data = operator_api.post(f"{base}/whitelist/", {}, format="json").json()
    assert data["status"] == "whitelisted"


def test_a_viewer_token_reads_but_cannot_act(viewer_api, org) -> None:
    visitor = VisitorFactory(organisation=org)
    _, item = _flagged(org)
    base = f"/api/v1/visitors/{visitor.public_id}"
    assert viewer_api.get("/api/v1/visitors/").status_code == 200
    assert viewer_api.get(f"{base}/").status_code == 200
    assert viewer_api.get("/api/v1/review-queue/").status_code == 200
    assert viewer_api.get("/api/v1/ip-blocks/").status_code == 200
    for url, body in [
        (f"{base}/blacklist/", {"reason": "x"}),
        (f"{base}/whitelist/", {}),
        (f"{base}/clear-status/", {}),
        (f"{base}/signals/", {"signal_type": "spam", "level": "low"}),
        (f"{base}/events/", {"kind": "user_report"}),
        ("/api/v1/visitors/", {"emails": ["v@example.com"]}),
        (f"/api/v1/review-queue/{item.public_id}/actions/", {"action": "blacklist"}),
        ("/api/v1/review-queue/bulk/", {"items": [str(item.public_id)], "action": "x"}),
        ("/api/v1/ip-blocks/", {"network": "203.0.113.1", "reason": "x"}),
        ("/api/v1/signal-weights/", {"level": "low", "weight": 5}),
    ]:
        response = viewer_api.post(url, body, format="json")
        assert response.status_code == 403, url
        assert "can read here but not change" in response.json()["detail"]
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE
    assert not IPBlock.objects.exists()


def test_another_organisations_objects_are_404(org, other_org, api_client_for) -> None:
    beta = api_client_for(other_org, Role.ADMIN)
    visitor = VisitorFactory(organisation=org)
    _, item = _flagged(org)
    assert beta.get(f"/api/v1/visitors/{visitor.public_id}/").status_code == 404
    response = beta.post(
        f"/api/v1/visitors/{visitor.public_id}/blacklist/", {}, format="json"
    )
    assert response.status_code == 404
    response = beta.post(
        f"/api/v1/review-queue/{item.public_id}/actions/",
        {"action": "dismiss"},
        format="json",
    )
    assert response.status_code == 404
    bulk = beta.post(
        "/api/v1/review-queue/bulk/",
        {"items": [str(item.public_id)], "action": "dismiss"},
        format="json",
    )
    assert bulk.status_code == 404
    assert beta.get("/api/v1/visitors/").json()["count"] == 0
    visitor.refresh_from_db()
    item.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE and item.is_open


def test_signals_are_added_listed_and_removed(operator_api, org) -> None:
    visitor = VisitorFactory(organisation=org)
    base = f"/api/v1/visitors/{visitor.public_id}"
    created = operator_api.post(
        f"{base}/signals/",
        {"signal_type": "chargeback", "level": "high", "note": "bank dispute"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["weight"] == 40
    listed = operator_api.get(f"{base}/signals/").json()
    assert listed["count"] == 1
    signal_id = created.json()["id"]
    removed = operator_api.delete(
        f"/api/v1/signals/{signal_id}/", {"reason": "refunded"}, format="json"
    )
    assert removed.json()["active"] is False
    assert operator_api.get(f"{base}/").json()["trust_score"] == 100
    bad = operator_api.post(
        f"{base}/signals/", {"signal_type": "blacklisted_visitor", "level": "low"}
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "signal_type"


def test_events_apply_their_rule(operator_api, org) -> None:
    visitor = VisitorFactory(organisation=org)
    base = f"/api/v1/visitors/{visitor.public_id}"
    response = operator_api.post(
        f"{base}/events/",
        {"kind": "user_report", "detail": {"by": "agent 7"}},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["label"] == "User report"
    assert len(response.json()["signals"]) == 1
    assert operator_api.get(f"{base}/").json()["trust_score"] == 60
    assert operator_api.get(f"{base}/events/").json()["count"] == 1


def _flagged(org):
    actor = Actor.system_for(org, "test")
    visitor = VisitorFactory(organisation=org)
    services.risk_signal_add(
        actor=actor, visitor=visitor, signal_type="spam", level=WeightLevel.EXTREME
    )
    return visitor, ReviewItem.objects.get(visitor=visitor)


def test_queue_items_are_listed_and_acted_on(operator_api, org) -> None:
    first, item = _flagged(org)
    _, second = _flagged(org)
    _, third = _flagged(org)
    queue = operator_api.get("/api/v1/review-queue/").json()
    assert [r["id"] for r in queue["results"]] == [
        str(item.public_id),
        str(second.public_id),
        str(third.public_id),
    ]
    acted = operator_api.post(
        f"/api/v1/review-queue/{item.public_id}/actions/",
        {"action": "blacklist", "reason": "spam run"},
        format="json",
    )
    assert acted.json()["status"] == "blacklisted"
    first.refresh_from_db()
    assert first.status == VisitorStatus.BLACKLISTED
    again = operator_api.post(
        f"/api/v1/review-queue/{item.public_id}/actions/",
        {"action": "dismiss"},
        format="json",
    )
    assert again.status_code == 400
    bulk = operator_api.post(
        "/api/v1/review-queue/bulk/",
        {"items": [str(second.public_id), str(third.public_id)], "action": "dismiss"},
        format="json",
    )
    assert bulk.json() == {"done": 2}
    assert not ReviewItem.objects.filter(status=ReviewStatus.OPEN).exists()


def test_ip_blocks_by_api(operator_api) -> None:
    created = operator_api.post(
        "/api/v1/ip-blocks/",
        {"network": "198.51.100.0/24", "reason": "botnet"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["network"] == "198.51.100.0/24"
    bad = operator_api.post(
        "/api/v1/ip-blocks/", {"network": "1.2.3", "reason": ""}, format="json"
    )
    assert bad.status_code == 400
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"network", "reason"}
    block_id = created.json()["id"]
    assert operator_api.get("/api/v1/ip-blocks/").json()["count"] == 1
    lifted = operator_api.delete(
        f"/api/v1/ip-blocks/{block_id}/", {"reason": "Abuse stopped"}, format="json"
    )
    assert lifted.status_code == 204
    assert operator_api.get("/api/v1/ip-blocks/").json()["count"] == 0


def test_admins_override_weights(org, api_client_for) -> None:
    admin = api_client_for(org, Role.ADMIN)
    operator = api_client_for(org, Role.OPERATOR)
    assert (
        operator.post(
            "/api/v1/signal-weights/", {"level": "low", "weight": 5}, format="json"
        ).status_code
        == 403
    )
    rows = admin.post(
        "/api/v1/signal-weights/", {"level": "low", "weight": 5}, format="json"
    ).json()
    assert {r["level"]: r["weight"] for r in rows}["low"] == 5
    bad = admin.post(
        "/api/v1/signal-weights/", {"level": "low", "weight": 500}, format="json"
    )
    assert bad.status_code == 400


def test_every_endpoint_is_in_the_openapi_schema(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    text = schema.content.decode()
    for path in (
        "/api/v1/visitors/",
        "/api/v1/visitors/{public_id}/blacklist/",
        "/api/v1/visitors/{public_id}/whitelist/",
        "/api/v1/visitors/{public_id}/clear-status/",
        "/api/v1/visitors/{public_id}/signals/",
        "/api/v1/review-queue/",
        "/api/v1/review-queue/bulk/",
        "/api/v1/review-queue/{public_id}/actions/",
        "/api/v1/ip-blocks/",
        "/api/v1/signal-weights/",
        "/widget/v1/messages",
    ):
        assert path in text, path


def test_list_endpoints_keep_their_queries_bounded(
    operator_api, org, django_assert_max_num_queries
) -> None:
    for n in range(3):
        _flagged(org)
        VisitorFactory(organisation=org, name=f"Guest {n}")
    for url in ("/api/v1/visitors/", "/api/v1/review-queue/", "/api/v1/ip-blocks/"):
        with django_assert_max_num_queries(8):
            assert operator_api.get(url).status_code == 200
    more = [_flagged(org) for _ in range(6)]
    with django_assert_max_num_queries(8):
        queue = operator_api.get("/api/v1/review-queue/").json()
    assert queue["count"] == 9 and len(more) == 6


def test_merge_by_api(operator_api, viewer_api, org) -> None:
    keep = VisitorFactory(organisation=org, name="Keep")
    gone = VisitorFactory(organisation=org, name="Gone")
    url = f"/api/v1/visitors/{keep.public_id}/merge/"
    body = {"source": str(gone.public_id), "reason": "duplicate"}
    assert viewer_api.post(url, body, format="json").status_code == 403
    response = operator_api.post(url, body, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Keep"
    assert not Visitor.objects.filter(pk=gone.pk).exists()
    again = operator_api.post(url, body, format="json")
    assert again.status_code == 404
