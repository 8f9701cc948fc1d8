"""The policy API: the check's JSON, lists, records, denials, settings, roles,
tenant isolation and query counts."""

from __future__ import annotations

import pytest

from tests.accounts.factories import AccountFactory
from tests.voicegate.policy.conftest import DEST, OWNED
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry
from voicegate.policy import services
from voicegate.policy.models import DncEntry, DncList, OutboundDenial

CHECK = "/api/v1/voice/outbound-check"


@pytest.fixture
def client(org, api_client_for):
    return api_client_for(org, "operator")


def test_the_check_answers_allowed_with_no_violations(client, account) -> None:
    response = client.post(
        CHECK,
        {"from": OWNED, "to": DEST, "account": str(account.public_id)},
        format="json",
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer.pop("explanation")["step"] == "default"
    assert answer == {"allowed": True, "violations": [], "warnings": []}


def test_the_check_lists_every_violation(client, op, account) -> None:
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    response = client.post(
        CHECK,
        {"from": "+14155550177", "to": DEST, "account": str(account.public_id)},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["allowed"] is False
    assert [v["code"] for v in body["violations"]] == ["dnc", "caller_id_not_owned"]
    assert all(v["detail"] for v in body["violations"])
    denial = OutboundDenial.objects.get()
    assert denial.requested_by.startswith("API token test operator")


def test_a_short_emergency_number_is_a_violation_not_an_error(client, op) -> None:
    services.caller_id_verify(actor=op, number="+61291234567", method="document")
    response = client.post(CHECK, {"from": "+61291234567", "to": "000"}, format="json")
    assert response.status_code == 200
    assert [v["code"] for v in response.json()["violations"]] == ["emergency_number"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"from": "nonsense", "to": DEST}, "from", "is not a phone number"),
        ({"from": OWNED, "to": "+1 555 123 4567"}, "to", "not a valid phone number"),
        ({"from": OWNED, "to": "12"}, "to", "not a valid phone number"),
        ({"to": DEST}, "from", "required"),
        ({"from": OWNED}, "to", "required"),
        ({"from": OWNED, "to": DEST, "region": "ZZ"}, "region", "not a known"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(client, body, field, reason) -> None:
    response = client.post(CHECK, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["detail"] == "Invalid input."
    assert data["errors"][0]["field"] == field
    assert reason in data["errors"][0]["reason"]
    assert not OutboundDenial.objects.exists()


def test_another_organisations_account_is_a_404(client, other_org) -> None:
    outsider = AccountFactory(organisation=other_org)
    response = client.post(
        CHECK,
        {"from": OWNED, "to": DEST, "account": str(outsider.public_id)},
        format="json",
    )
    assert response.status_code == 404
    response = client.post(
        CHECK, {"from": OWNED, "to": DEST, "account": "not-an-id"}, format="json"
    )
    assert response.status_code == 404


def test_a_viewer_token_cannot_run_checks(org, api_client_for) -> None:
    response = api_client_for(org, "viewer").post(
        CHECK, {"from": OWNED, "to": DEST}, format="json"
    )
    assert response.status_code == 403


def test_the_check_needs_a_token(db) -> None:
    from rest_framework.test import APIClient

    assert APIClient().post(CHECK, {}, format="json").status_code in (401, 403)


def test_lists_entries_export_and_removal(client, op) -> None:
    created = client.post(
        "/api/v1/voice/dnc-lists",
        {"name": "National", "kind": "national", "country": "US"},
        format="json",
    )
    assert created.status_code == 201
    list_id = created.json()["id"]
    base = f"/api/v1/voice/dnc-lists/{list_id}"
    added = client.post(f"{base}/entries", {"number": "(415) 555-0199"}, format="json")
    assert added.status_code == 201
    assert added.json() == {"number": DEST}
    client.post(f"{base}/entries", {"number": "+12025550143"}, format="json")
    entries = client.get(f"{base}/entries").json()
    assert entries["count"] == 2
    assert [e["number"] for e in entries["results"]] == ["+12025550143", DEST]
    found = client.get(f"{base}/entries", {"number": "415-555-0199"}).json()
    assert [e["number"] for e in found["results"]] == [DEST]
    export = client.get(f"{base}/export")
    assert export.status_code == 200
    assert export["Content-Type"] == "text/csv"
    assert b"".join(export.streaming_content).decode() == (
        "number\n+12025550143\n+14155550199\n"
    )
    detail = client.get(base).json()
    assert detail["entry_count"] == 2
    assert detail["last_import"] is None
    entry = f"{base}/entries/%2B14155550199"
    refused = client.delete(entry)
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"field": "reason", "reason": "Give the reason; it is kept in the audit trail."}
    ]
    assert client.get(f"{base}/entries").json()["count"] == 2
    why = {"reason": "Opted in again"}
    assert client.delete(entry, why, format="json").status_code == 204
    assert AuditEntry.objects.get(action="policy.dnc_number_remove").reason == (
        "Opted in again"
    )
    gone = client.delete(entry, why, format="json")
    assert gone.status_code == 400
    assert gone.json()["errors"][0]["field"] == "number"
    # Emptying or deleting a whole list asks for the reason first.
    for refused in (
        client.post(f"{base}/empty", {}, format="json"),
        client.delete(base, {"reason": " "}, format="json"),
    ):
        assert refused.status_code == 400
        assert [e["field"] for e in refused.json()["errors"]] == ["reason"]
    assert DncList.objects.get().entry_count > 0
    assert (
        client.post(f"{base}/empty", {"reason": "x"}, format="json").json()[
            "entry_count"
        ]
        == 0
    )
    assert client.delete(base, {"reason": "done"}, format="json").status_code == 204
    assert not DncList.objects.exists()


def test_bad_list_input_is_a_400(client) -> None:
    response = client.post(
        "/api/v1/voice/dnc-lists", {"name": "", "kind": "weird"}, format="json"
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "kind"}
    base = "/api/v1/voice/dnc-lists"
    list_id = client.post(base, {"name": "Own"}, format="json").json()["id"]
    bad = client.post(f"{base}/{list_id}/entries", {"number": "abc"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "number"
    assert not DncEntry.objects.exists()


def test_another_organisations_lists_are_404(client, other_org) -> None:
    beta = Actor.system_for(other_org, "test")
    beta_list = services.dnc_list_create(actor=beta, name="Beta")
    services.dnc_number_add(actor=beta, dnc_list=beta_list, number=DEST)
    base = f"/api/v1/voice/dnc-lists/{beta_list.public_id}"
    for url in (base, f"{base}/entries", f"{base}/export", f"{base}/imports"):
        assert client.get(url).status_code == 404, url
    assert client.delete(f"{base}/entries/%2B14155550199").status_code == 404
    assert client.post(f"{base}/entries", {"number": OWNED}).status_code == 404
    assert client.get("/api/v1/voice/dnc-lists").json()["count"] == 0
    assert DncEntry.objects.count() == 1


def test_the_list_endpoint_does_not_query_per_list(
    client, op, django_assert_num_queries
) -> None:
    for i in range(5):
        services.dnc_list_create(actor=op, name=f"List {i}")
    # token, token touch, count, page, last imports
    with django_assert_num_queries(5):
        body = client.get("/api/v1/voice/dnc-lists").json()
    assert body["count"] == 5


def test_caller_ids_and_consent_records(client, account) -> None:
    response = client.post(
        "/api/v1/voice/caller-ids",
        {
            "number": "+14155550177",
            "account": str(account.public_id),
            "method": "sms",
            "note": "Code 4471 confirmed",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["account"] == str(account.public_id)
    assert body["verified_by"].startswith("API token")
    listed = client.get("/api/v1/voice/caller-ids", {"account": str(account.public_id)})
    assert listed.json()["count"] == 1
    consent = client.post(
        "/api/v1/voice/consents",
        {"number": DEST, "evidence": "Opt-in form #42"},
        format="json",
    )
    assert consent.status_code == 201
    assert consent.json()["account"] is None
    assert client.get("/api/v1/voice/consents", {"number": "555"}).json()["count"] == 1
    consent_id = consent.json()["id"]
    why = {"reason": "Opt-in withdrawn by phone"}
    url = f"/api/v1/voice/consents/{consent_id}"
    assert client.delete(url, why, format="json").status_code == 204
    url = f"/api/v1/voice/caller-ids/{body['id']}"
    assert client.delete(url, why, format="json").status_code == 204


def test_bad_records_are_a_400_naming_the_field(client) -> None:
    response = client.post(
        "/api/v1/voice/caller-ids",
        {"number": "12", "method": "sms"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "number"
    response = client.post(
        "/api/v1/voice/consents", {"number": DEST, "evidence": ""}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "evidence"


def test_another_organisations_records_are_404(client, other_org) -> None:
    beta = Actor.system_for(other_org, "test")
    row = services.caller_id_verify(actor=beta, number=DEST, method="sms")
    consent = services.consent_record(actor=beta, number=DEST, evidence="x")
    assert client.get(f"/api/v1/voice/caller-ids/{row.public_id}").status_code == 404
    assert client.delete(f"/api/v1/voice/caller-ids/{row.public_id}").status_code == 404
    url = f"/api/v1/voice/consents/{consent.public_id}"
    assert client.delete(url).status_code == 404
    assert client.get("/api/v1/voice/caller-ids").json()["count"] == 0


def test_denials_and_counts_per_account(client, check, org, account) -> None:
    other = AccountFactory(organisation=org, company_name="Quiet Ltd")
    for _ in range(3):
        check("+14155550177", DEST, account=account)
    check("+14155550178", DEST, account=other)
    check("+14155550179", DEST)
    body = client.get("/api/v1/voice/denials").json()
    assert body["count"] == 5
    first = body["results"][0]
    assert first["from"] == "+14155550179"
    assert first["account"] is None
    assert first["violations"][0]["code"] == "caller_id_not_owned"
    mine = client.get("/api/v1/voice/denials", {"account": str(account.public_id)})
    assert mine.json()["count"] == 3
    coded = client.get("/api/v1/voice/denials", {"code": "dnc"}).json()
    assert coded["count"] == 0
    counts = client.get("/api/v1/voice/denials/by-account").json()["results"]
    assert [(c["company_name"], c["denials"]) for c in counts] == [
        ("Dialer Ltd", 3),
        ("Quiet Ltd", 1),
    ]
    assert client.get("/api/v1/voice/denials/by-account", {"days": 0}).status_code == (
        400
    )


def test_settings_are_read_by_members_and_changed_by_admins(
    org, api_client_for
) -> None:
    operator = api_client_for(org, "operator")
    assert operator.get("/api/v1/voice/policy-settings").json()["harassment_limit"] == 3
    denied = operator.patch(
        "/api/v1/voice/policy-settings", {"harassment_limit": 5}, format="json"
    )
    assert denied.status_code == 403
    admin = api_client_for(org, "admin")
    changed = admin.patch(
        "/api/v1/voice/policy-settings",
        {"harassment_limit": 5, "denial_signal_weight": 40},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["harassment_limit"] == 5
    bad = admin.patch(
        "/api/v1/voice/policy-settings", {"denial_signal_weight": 15}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "denial_signal_weight"


def test_the_schema_describes_the_check(client) -> None:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/voice/outbound-check" in schema["paths"]
    check_input = schema["components"]["schemas"]["OutboundCheckInputRequest"]
    assert set(check_input["required"]) == {"from", "to"}
