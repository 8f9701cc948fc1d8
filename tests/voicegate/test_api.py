"""The Voice API: decisions for PBXs, connections, block list, call log, settings."""

from __future__ import annotations

import pytest

from tests.voicegate.conftest import logged
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate.models import BlockedNumber, VoiceConnection

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKED = "+14155550123"


def test_decide_answers_reject_with_the_visitor_and_logs_it(
    org, api_client_for
) -> None:
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=[BLOCKED])
    visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    client = api_client_for(org, "operator")
    response = client.post(
        "/api/v1/voice/decide", {"from": "+1 415-555-0123", "to": "+14155550100"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "reject"
    assert body["reason"] == "blacklisted_visitor"
    assert body["visitor"]["id"] == str(visitor.public_id)
    assert body["visitor"]["status"] == "blacklisted"
    why = body["explanation"]
    assert (why["step"], why["identity"]) == (
        "blacklist",
        {"kind": "phone", "value": BLOCKED},
    )
    assert why["entry"]["id"] == str(visitor.public_id)
    assert (why["entry"]["reason"], why["entry"]["added_by"]) == ("fraud", actor.label)
    allowed = client.post(
        "/api/v1/voice/decide", {"from": "+14155550188", "to": "+1"}, format="json"
    ).json()
    assert allowed.pop("explanation")["step"] == "default"
    assert allowed == {
        "action": "allow",
        "reason": "not_listed",
        "reason_label": "Caller not listed",
        "visitor": None,
    }
    assert logged().filter(organisation=org).count() == 2


def test_decide_is_refused_to_viewers_and_changes_nothing(org, api_client_for) -> None:
    """GIVEN a viewer token WHEN it asks for decisions, again and again THEN each is
    a 403: no call is logged, no caller counted, no visitor or audit entry made."""
    from visitors.models import Visitor

    client = api_client_for(org, "viewer")
    audited = AuditEntry.objects.count()
    for _ in range(9):
        response = client.post(
            "/api/v1/voice/decide", {"from": BLOCKED, "to": "+1"}, format="json"
        )
        assert response.status_code == 403
        assert "viewer" in response.json()["detail"]
    assert not logged().exists()
    assert not Visitor.objects.filter(organisation=org).exists()
    assert AuditEntry.objects.count() == audited


def test_decide_refuses_bad_input_with_field_and_reason(org, api_client_for) -> None:
    client = api_client_for(org, "operator")
    missing = client.post("/api/v1/voice/decide", {"to": "+1"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        {"field": "from", "reason": "This field is required."}
    ]
    wrong = client.post("/api/v1/voice/decide", {"from": 5, "to": "+1"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["field"] == "from"
    assert not logged().exists()


def test_decide_is_per_organisation(org, other_org, api_client_for) -> None:
    actor = Actor.system_for(other_org, "test")
    visitor = visitor_upsert(actor=actor, phones=[BLOCKED])
    visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    body = (
        api_client_for(org, "operator")
        .post("/api/v1/voice/decide", {"from": BLOCKED, "to": "+1"}, format="json")
        .json()
    )
    assert body["action"] == "allow"


def test_connection_crud_is_admin_only_and_audited(org, api_client_for) -> None:
    key = "eu2zvPjhY6odxV34Z/EsRiERvTodkev4Fq0SlK90Izg="
    payload = {
        "name": "Main line",
        "provider": "telnyx_call_control",
        "secret": key,
        "api_key": "KEYxyz",
    }
    operator = api_client_for(org, "operator")
    assert (
        operator.post("/api/v1/voice/connections", payload, format="json").status_code
        == 403
    )
    admin = api_client_for(org, "admin")
    created = admin.post("/api/v1/voice/connections", payload, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "secret" not in body and "api_key" not in body
    assert body["has_api_key"] is True
    connection = VoiceConnection.objects.get()
    assert body["webhook_url"].endswith(f"/voice/hooks/{connection.webhook_token}/")
    listed = operator.get("/api/v1/voice/connections").json()
    assert [c["name"] for c in listed["results"]] == ["Main line"]
    patched = admin.patch(
        f"/api/v1/voice/connections/{connection.public_id}",
        {"fail_mode": "closed", "reason": "premium line"},
        format="json",
    )
    assert patched.json()["fail_mode"] == "closed"
    entry = AuditEntry.objects.get(action="voice.connection.update")
    assert entry.before["fail_mode"] == "open" and entry.after["fail_mode"] == "closed"
    assert entry.reason == "premium line"
    assert key not in str(AuditEntry.objects.values_list("after", flat=True))
    deleted = admin.delete(f"/api/v1/voice/connections/{connection.public_id}")
    assert deleted.status_code == 204
    assert AuditEntry.objects.filter(action="voice.connection.delete").exists()


def test_connection_validation_names_the_field(org, api_client_for) -> None:
    admin = api_client_for(org, "admin")
    bad_key = admin.post(
        "/api/v1/voice/connections",
        {"name": "x", "provider": "telnyx_texml", "secret": "not-a-key"},
        format="json",
    )
    assert bad_key.status_code == 400
    assert bad_key.json()["errors"][0]["field"] == "secret"
    no_api_key = admin.post(
        "/api/v1/voice/connections",
        {
            "name": "x",
            "provider": "telnyx_call_control",
            "secret": "eu2zvPjhY6odxV34Z/EsRiERvTodkev4Fq0SlK90Izg=",
        },
        format="json",
    )
    assert no_api_key.json()["errors"][0]["field"] == "api_key"
    bad_url = admin.post(
        "/api/v1/voice/connections",
        {
            "name": "x",
            "provider": "twilio",
            "secret": "tok",
            "downstream_url": "ftp://x",
        },
        format="json",
    )
    assert bad_url.json()["errors"][0]["field"] == "downstream_url"
    assert not VoiceConnection.objects.exists()


def test_block_list_roles_normalisation_and_isolation(
    org, other_org, api_client_for
) -> None:
    viewer = api_client_for(org, "viewer")
    assert (
        viewer.post(
            "/api/v1/voice/blocked-numbers", {"number": BLOCKED}, format="json"
        ).status_code
        == 403
    )
    operator = api_client_for(org, "operator")
    created = operator.post(
        "/api/v1/voice/blocked-numbers",
        {"number": "+1 (415) 555-0123", "reason": "robocalls"},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["number"] == BLOCKED
    duplicate = operator.post(
        "/api/v1/voice/blocked-numbers", {"number": BLOCKED}, format="json"
    )
    assert duplicate.status_code == 400
    invalid = operator.post(
        "/api/v1/voice/blocked-numbers", {"number": "12"}, format="json"
    )
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["field"] == "number"
    entry = BlockedNumber.objects.get()
    other = api_client_for(other_org, "admin")
    assert (
        other.get(f"/api/v1/voice/blocked-numbers/{entry.public_id}").status_code == 404
    )
    assert (
        other.delete(f"/api/v1/voice/blocked-numbers/{entry.public_id}").status_code
        == 404
    )
    assert viewer.get("/api/v1/voice/blocked-numbers").json()["count"] == 1
    assert (
        operator.delete(f"/api/v1/voice/blocked-numbers/{entry.public_id}").status_code
        == 204
    )
    assert not BlockedNumber.objects.exists()
    assert AuditEntry.objects.filter(action__startswith="voice.block_list").count() == 2


def test_call_log_filters_and_isolation(org, other_org, api_client_for) -> None:
    client = api_client_for(org, "operator")
    for caller in (BLOCKED, "+14155550188", "anonymous"):
        client.post("/api/v1/voice/decide", {"from": caller, "to": "+1"}, format="json")
    api_client_for(other_org, "admin").post(
        "/api/v1/voice/decide", {"from": BLOCKED, "to": "+1"}, format="json"
    )
    everything = client.get("/api/v1/voice/calls").json()
    assert everything["count"] == 3
    by_number = client.get("/api/v1/voice/calls", {"number": "(415) 555-0123"}).json()
    assert [c["caller_e164"] for c in by_number["results"]] == [BLOCKED]
    rejected = client.get("/api/v1/voice/calls", {"decision": "reject"}).json()
    assert rejected["count"] == 0
    bad = client.get("/api/v1/voice/calls", {"date_from": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "date_from"


def test_settings_read_by_viewer_changed_by_admin(org, api_client_for) -> None:
    viewer = api_client_for(org, "viewer")
    assert viewer.get("/api/v1/voice/settings").json()["anonymous_policy"] == "allow"
    assert (
        viewer.patch(
            "/api/v1/voice/settings", {"anonymous_policy": "reject"}, format="json"
        ).status_code
        == 403
    )
    admin = api_client_for(org, "admin")
    bad = admin.patch(
        "/api/v1/voice/settings", {"repeated_call_threshold": 0}, format="json"
    )
    assert bad.status_code == 400
    changed = admin.patch(
        "/api/v1/voice/settings", {"anonymous_policy": "reject"}, format="json"
    )
    assert changed.json()["anonymous_policy"] == "reject"
    decided = admin.post(
        "/api/v1/voice/decide", {"from": "anonymous", "to": "+1"}, format="json"
    ).json()
    assert (decided["action"], decided["reason"]) == ("reject", "anonymous")
    assert AuditEntry.objects.filter(action="voice.settings.update").count() == 1


@pytest.mark.parametrize(
    "downstream_url",
    [
        "http://127.0.0.1:8080/answer",
        "http://169.254.169.254/latest/meta-data/",
        "https://[::127.0.0.1]/answer",
        "https://[64:ff9b::a9fe:a9fe]/answer",
        "http://localhost/answer",
    ],
)
def test_a_downstream_url_on_an_internal_address_is_a_field_error(
    org, api_client_for, settings, downstream_url
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    admin = api_client_for(org, "admin")
    response = admin.post(
        "/api/v1/voice/connections",
        {
            "name": "x",
            "provider": "twilio",
            "secret": "tok",
            "downstream_url": downstream_url,
        },
        format="json",
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "downstream_url"
    assert "non-public" in error["reason"] or "this machine" in error["reason"]
    assert not VoiceConnection.objects.exists()
