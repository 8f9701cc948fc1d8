"""The accounts API: signup, status, requests with uploads, decisions, roles."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.choices import AccountStatus, RequestStatus
from accounts.models import Account, ReassessmentRequest
from tests.accounts.factories import (
    PNG,
    AccountFactory,
    RequestFactory,
    pdf_upload,
    png_upload,
    request_data,
)
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_api(org, api_client_for):
    return api_client_for(org, "support")


def test_signup_assesses_holds_and_emails(
    support_api, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    """GIVEN a risky signup WHEN it is posted THEN the answer explains the score,
    the account is on hold and the customer was emailed."""
    with django_capture_on_commit_callbacks(execute=True):
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
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "on_hold"
    assert body["risk_score"] == 60
    assert {s["signal_type"] for s in body["signals"]} == {
        "disposable_email",
        "website_mismatch",
    }
    assert len(mailoutbox) == 1
    status = support_api.get(f"/api/v1/accounts/{body['id']}/status").json()
    assert status["status"] == "on_hold"
    assert status["alert"]["title"] == "Your signup is on hold"
    assert "signals" not in status and "disposable" not in str(status)


def test_signup_errors_name_each_field(support_api) -> None:
    response = support_api.post(
        "/api/v1/accounts",
        {"company_name": "", "email": "x", "country": "QQ"},
        format="json",
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"company_name", "email", "country"}
    assert not Account.objects.exists()


def test_the_list_is_filtered_and_its_queries_bounded(
    org, api_client_for, django_assert_max_num_queries
) -> None:
    client = api_client_for(org, "viewer")
    for _ in range(5):
        AccountFactory(organisation=org)
    AccountFactory(organisation=org, status="blocked")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/accounts?status=blocked")
    assert response.json()["count"] == 1
    assert client.get("/api/v1/accounts").json()["count"] == 6


def test_a_request_with_file_uploads_joins_the_queue(support_api, org) -> None:
    account = AccountFactory(organisation=org, status="on_hold")
    data = request_data()
    data["evidence_files"] = [pdf_upload(), png_upload()]
    data["evidence_file_kinds"] = ["certificate_of_incorporation", "business_card"]
    response = support_api.post(
        f"/api/v1/accounts/{account.public_id}/requests", data, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["sla_state"] == "on_time"
    assert [e["content_type"] for e in body["evidence"]] == [
        "application/pdf",
        "image/png",
    ]
    download = support_api.get(body["evidence"][1]["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["X-Content-Type-Options"] == "nosniff"
    queue = support_api.get("/api/v1/accounts/reviews").json()
    assert [r["id"] for r in queue["results"]] == [body["id"]]


def test_a_request_refuses_each_bad_field_and_a_wrong_file(support_api, org) -> None:
    account = AccountFactory(organisation=org, status="on_hold")
    data = request_data(company_website="", sample_message="")
    data["evidence_files"] = [SimpleUploadedFile("run.exe", b"MZ\x90\x00")]
    data["evidence_file_kinds"] = ["screenshot"]
    response = support_api.post(
        f"/api/v1/accounts/{account.public_id}/requests", data, format="multipart"
    )
    assert response.status_code == 400
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert set(errors) == {"company_website", "sample_message", "evidence.0.file"}
    assert "run.exe is not an accepted file" in errors["evidence.0.file"]
    assert not ReassessmentRequest.objects.exists()


def test_support_decides_by_api_and_viewers_cannot(
    org, support_api, api_client_for
) -> None:
    request = RequestFactory(account__organisation=org)
    url = f"/api/v1/accounts/requests/{request.public_id}/decision"
    viewer = api_client_for(org, "viewer")
    assert viewer.post(url, {"decision": "lift", "reason": "x"}).status_code == 403
    operator = api_client_for(org, "operator")
    assert operator.post(url, {"decision": "lift", "reason": "x"}).status_code == 403
    missing = support_api.post(url, {"decision": "keep"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "reason"
    response = support_api.post(
        url, {"decision": "lift", "reason": "EIN verified"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == RequestStatus.LIFTED
    request.account.refresh_from_db()
    assert request.account.status == AccountStatus.ACTIVE
    entry = AuditEntry.objects.get(action="account.lift")
    assert entry.actor_label.startswith("API token test support")
    assert entry.reason == "EIN verified"


def test_another_organisation_gets_404_everywhere(
    org, other_org, api_client_for
) -> None:
    account = AccountFactory(organisation=org, status="closed")
    request = RequestFactory(account__organisation=org)
    charlie = api_client_for(other_org, "admin")
    for url in (
        f"/api/v1/accounts/{account.public_id}",
        f"/api/v1/accounts/{account.public_id}/status",
        f"/api/v1/accounts/{account.public_id}/requests",
        f"/api/v1/accounts/requests/{request.public_id}",
    ):
        assert charlie.get(url).status_code == 404, url
    response = charlie.post(
        f"/api/v1/accounts/{account.public_id}/block",
        {"reason": "x", "permanent": True},
        format="json",
    )
    assert response.status_code == 404
    assert charlie.get("/api/v1/accounts").json()["count"] == 0


def test_closed_account_port_away_refund_and_feedback_by_api(org, support_api) -> None:
    account = AccountFactory(organisation=org, email="owner@shut.example")
    support_api.post(
        f"/api/v1/accounts/{account.public_id}/numbers",
        {"numbers": ["+12025550143"]},
        format="json",
    )
    block = support_api.post(
        f"/api/v1/accounts/{account.public_id}/block",
        {"reason": "Scam traffic", "permanent": True},
        format="json",
    )
    assert block.json()["status"] == "closed"
    expires = (timezone.now() + dt.timedelta(days=10)).isoformat()
    grant = support_api.post(
        f"/api/v1/accounts/{account.public_id}/port-away",
        {"expires_at": expires, "reason": "Customer asked"},
        format="json",
    )
    assert grant.status_code == 201
    assert grant.json()["port_out_fee_waived"] is True
    assert grant.json()["numbers"] == ["+12025550143"]
    refund = support_api.post(
        f"/api/v1/accounts/{account.public_id}/refunds",
        {"amount": "100.00"},
        format="json",
    )
    assert refund.status_code == 201
    outcome = support_api.post(
        f"/api/v1/accounts/refunds/{refund.json()['id']}/outcome",
        {"status": "refused", "note": "Chargeback pending"},
        format="json",
    )
    assert outcome.json()["status"] == "refused"
    feedback = support_api.post(
        "/api/v1/accounts/feedback",
        {
            "subject": "Feedback: owner@shut.example 99812 Blocked Account",
            "body": "Tell us which rule fired.",
        },
        format="json",
    )
    assert feedback.status_code == 201
    assert feedback.json()["ticket_id"] == "99812"
    assert support_api.get("/api/v1/accounts/feedback").json()["count"] == 1
    again = support_api.post(
        f"/api/v1/accounts/{account.public_id}/requests",
        request_data(evidence_links=[{"kind": "ein", "url": "https://x.example"}]),
        format="json",
    )
    assert again.status_code == 400
    assert "permanently blocked" in again.json()["errors"][0]["reason"]


def test_usage_feed_and_signal_rule_by_api(org, support_api) -> None:
    account = AccountFactory(organisation=org)
    for _ in range(4):
        response = support_api.post(
            f"/api/v1/accounts/{account.public_id}/signals",
            {"signal_type": "outbound_denials", "weight": 10, "note": "denied"},
            format="json",
        )
        assert response.status_code == 201
    detail = support_api.get(f"/api/v1/accounts/{account.public_id}").json()
    assert detail["restricted_services"] == ["voice"]
    usage = support_api.post(
        f"/api/v1/accounts/{account.public_id}/usage",
        {"day": "2026-03-02", "outbound_calls": 12, "payment_flagged": True},
        format="json",
    )
    assert usage.status_code == 200
    assert usage.json()["payment_flagged"] is True


def test_the_schema_lists_the_accounts_endpoints(org, api_client_for) -> None:
    client = api_client_for(org, "viewer")
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/accounts",
        "/api/v1/accounts/{public_id}/status",
        "/api/v1/accounts/requests/{public_id}/decision",
        "/api/v1/accounts/feedback",
    ):
        assert path in schema["paths"], path


def test_asking_for_info_and_resuming_by_api(org, support_api) -> None:
    request = RequestFactory(account__organisation=org)
    base = f"/api/v1/accounts/requests/{request.public_id}"
    asked = support_api.post(
        f"{base}/decision",
        {"decision": "ask_info", "message": "Send your EIN letter."},
        format="json",
    )
    assert asked.json()["sla_state"] == "paused"
    resumed = support_api.post(f"{base}/resume", {"note": "Replied"}, format="json")
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "pending"
    assert AuditEntry.objects.get(action="reassessment.resume").reason == "Replied"
