"""The seed's remediation API under /v2/: every status code, limit, count and shape."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from remediation.choices import GateStatus, RemediationStatus
from remediation.models import RemediationNumber, RemediationRequest
from tests.remediation.conftest import make_enterprise, numbers, own
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.django_db

DETAIL_KEYS = [
    "id",
    "status",
    "phone_numbers_count",
    "phone_numbers_submitted",
    "phone_numbers_ineligible",
    "call_purpose",
    "contact_email",
    "webhook_url",
    "created_at",
    "updated_at",
    "tier1_completed_at",
    "tier2_completed_at",
    "results",
]
LIST_KEYS = [
    "id",
    "status",
    "phone_numbers_count",
    "call_purpose",
    "created_at",
    "updated_at",
    "tier1_completed_at",
    "tier2_completed_at",
]
PURPOSE = "Outbound appointment reminders for our dental clinic."


def url(enterprise: Any, *rest: str) -> str:
    return "/".join(
        [f"/v2/enterprises/{enterprise.public_id}/reputation/remediation", *rest]
    )


def body(phone_numbers: list[str], **extra: Any) -> dict[str, Any]:
    return {"phone_numbers": phone_numbers, "call_purpose": PURPOSE, **extra}


@pytest.fixture
def client(org, api_client_for) -> APIClient:
    return api_client_for(org, "operator")


def errors(response: Any) -> list[dict[str, Any]]:
    assert response["Content-Type"].startswith("application/json"), response.content
    data = response.json()
    assert set(data) == {"errors"}
    for error in data["errors"]:
        assert {"code", "title", "detail"} <= set(error)
        assert isinstance(error["code"], str)
    return data["errors"]


# --- 202 and the persisted request -------------------------------------------------


def test_submit_answers_202_with_the_persisted_pending_request(
    client, enterprise
) -> None:
    """GIVEN two owned numbers WHEN they are submitted THEN the answer is 202 with the
    seed's detail shape, status pending, counts 2/2/0 and results null, and the
    request is stored with an audit entry."""
    two = numbers(2)
    own(enterprise, two)
    response = client.post(
        url(enterprise),
        body(
            two,
            contact_email="ops@example.com",
            webhook_url="https://example.com/hooks/remediation",
        ),
        format="json",
    )
    assert response.status_code == 202
    data = response.json()["data"]
    assert list(data) == DETAIL_KEYS
    assert data["status"] == "pending"
    assert (
        data["phone_numbers_count"],
        data["phone_numbers_submitted"],
        data["phone_numbers_ineligible"],
    ) == (2, 2, 0)
    assert data["results"] is None
    assert data["tier1_completed_at"] is None and data["tier2_completed_at"] is None
    assert data["contact_email"] == "ops@example.com"
    assert data["webhook_url"] == "https://example.com/hooks/remediation"
    assert data["created_at"].endswith("Z") and len(data["created_at"]) == 27
    stored = RemediationRequest.objects.get(public_id=data["id"])
    assert stored.status == RemediationStatus.PENDING
    assert list(stored.numbers.values_list("e164", flat=True)) == two
    assert AuditEntry.objects.filter(
        action="remediation.submit", target_id=data["id"]
    ).exists()


def test_optional_fields_come_back_as_null(client, enterprise) -> None:
    own(enterprise, numbers(1))
    response = client.post(url(enterprise), body(numbers(1)), format="json")
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["contact_email"] is None and data["webhook_url"] is None


@pytest.mark.parametrize("count", [1, 2000])
def test_the_batch_limits_accept_1_and_2000_numbers(client, enterprise, count) -> None:
    batch = numbers(count)
    own(enterprise, batch)
    response = client.post(url(enterprise), body(batch), format="json")
    assert response.status_code == 202
    assert response.json()["data"]["phone_numbers_count"] == count
    assert RemediationNumber.objects.count() == count


@pytest.mark.parametrize("count", [0, 2001])
def test_the_batch_limits_refuse_0_and_2001_numbers(client, enterprise, count) -> None:
    batch = numbers(count)
    own(enterprise, batch)
    response = client.post(url(enterprise), body(batch), format="json")
    assert response.status_code == 422
    (error,) = errors(response)
    assert error["source"] == {"pointer": "/phone_numbers"}
    assert "1 to 2,000" in error["detail"]
    assert not RemediationRequest.objects.exists()


@pytest.mark.parametrize(
    ("purpose", "status"),
    [("x", 202), ("x" * 2000, 202), ("", 422), ("   ", 422), ("x" * 2001, 422)],
)
def test_call_purpose_must_be_1_to_2000_characters(
    client, enterprise, purpose, status
) -> None:
    own(enterprise, numbers(1))
    response = client.post(
        url(enterprise),
        {"phone_numbers": numbers(1), "call_purpose": purpose},
        format="json",
    )
    assert response.status_code == status
    if status == 422:
        assert errors(response)[0]["source"] == {"pointer": "/call_purpose"}


def test_missing_required_fields_are_named_with_their_own_code(
    client, enterprise
) -> None:
    response = client.post(url(enterprise), {}, format="json")
    assert response.status_code == 422
    found = {e["source"]["pointer"]: e["code"] for e in errors(response)}
    assert found == {"/phone_numbers": "10004", "/call_purpose": "10004"}


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("a" * 243 + "@example.com", 202),  # 255 characters
        ("a" * 244 + "@example.com", 422),  # 256
        ("not-an-email", 422),
    ],
)
def test_contact_email_is_optional_and_at_most_255(
    client, enterprise, email, status
) -> None:
    own(enterprise, numbers(1))
    response = client.post(
        url(enterprise), body(numbers(1), contact_email=email), format="json"
    )
    assert response.status_code == status
    if status == 422:
        assert errors(response)[0]["source"] == {"pointer": "/contact_email"}


def _url_of_length(length: int) -> str:
    start = "https://example.com/"
    return start + "a" * (length - len(start))


@pytest.mark.parametrize(
    ("webhook_url", "status"),
    [
        ("https://example.com/hooks", 202),
        (_url_of_length(2048), 202),
        (_url_of_length(2049), 422),
        ("http://example.com/hooks", 422),
        ("ftp://example.com/hooks", 422),
        ("https://", 422),
        ("https://127.0.0.1/hooks", 422),
        ("https://localhost/hooks", 422),
        ("https://[::1]/hooks", 422),
        ("https://169.254.169.254/latest", 422),
        # IPv4 inside IPv6, and multicast: Python's is_global says True for these.
        ("https://[::127.0.0.1]/hooks", 422),
        ("https://[64:ff9b::7f00:1]/hooks", 422),
        ("https://[2002:7f00:1::]/hooks", 422),
        ("https://[64:ff9b:1::1]/hooks", 422),
        ("https://[2001::1]/hooks", 422),
        ("https://[::ffff:7f00:1]/hooks", 422),
        ("https://224.0.0.1/", 422),
    ],
)
def test_webhook_url_must_be_public_https_and_at_most_2048(
    client, enterprise, webhook_url, status
) -> None:
    own(enterprise, numbers(1))
    response = client.post(
        url(enterprise), body(numbers(1), webhook_url=webhook_url), format="json"
    )
    assert response.status_code == status
    if status == 422:
        (error,) = errors(response)
        assert error["code"] == "10003"
        assert error["source"] == {"pointer": "/webhook_url"}


def test_a_loopback_webhook_is_accepted_when_development_allows_it(
    client, enterprise, settings
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    own(enterprise, numbers(1))
    response = client.post(
        url(enterprise),
        body(numbers(1), webhook_url="https://localhost:8443/hook"),
        format="json",
    )
    assert response.status_code == 202


def test_numbers_not_in_e164_are_422_with_a_pointer_each(client, enterprise) -> None:
    own(enterprise, numbers(1))
    response = client.post(
        url(enterprise),
        body([numbers(1)[0], "2025550143", "+0123456789", "+1202"]),
        format="json",
    )
    assert response.status_code == 422
    found = {e["source"]["pointer"]: e["code"] for e in errors(response)}
    assert found == {
        "/phone_numbers/1": "10016",
        "/phone_numbers/2": "10016",
        "/phone_numbers/3": "10016",
    }


def test_a_number_twice_in_one_batch_is_422(client, enterprise) -> None:
    one = numbers(1)
    own(enterprise, one)
    response = client.post(url(enterprise), body(one + one), format="json")
    assert response.status_code == 422
    assert errors(response)[0]["source"] == {"pointer": "/phone_numbers/1"}


def test_numbers_of_another_enterprise_are_422(client, org, enterprise) -> None:
    """GIVEN a number owned by a sibling enterprise WHEN submitted here THEN 422
    names it by index, and nothing is stored."""
    sibling = make_enterprise(org, "Sibling")
    mine, theirs = numbers(1), numbers(1, start=50)
    own(enterprise, mine)
    own(sibling, theirs)
    response = client.post(url(enterprise), body(mine + theirs), format="json")
    assert response.status_code == 422
    (error,) = errors(response)
    assert error["code"] == "10017"
    assert error["source"] == {"pointer": "/phone_numbers/1"}
    assert theirs[0] in error["detail"]
    assert not RemediationRequest.objects.exists()


def test_unknown_fields_are_refused(client, enterprise) -> None:
    own(enterprise, numbers(1))
    response = client.post(
        url(enterprise), body(numbers(1), priority="urgent"), format="json"
    )
    assert response.status_code == 422
    assert errors(response)[0]["source"] == {"pointer": "/priority"}


# --- 409 and the cooldown --------------------------------------------------------


def test_a_number_with_an_in_flight_request_answers_409(client, enterprise) -> None:
    """GIVEN a pending request for A WHEN A and B are submitted THEN 409 points at
    A, and B stays free."""
    a, b = numbers(2)
    own(enterprise, [a, b])
    first = client.post(url(enterprise), body([a]), format="json")
    assert first.status_code == 202
    response = client.post(url(enterprise), body([b, a]), format="json")
    assert response.status_code == 409
    (error,) = errors(response)
    assert error["code"] == "10021"
    assert error["source"] == {"pointer": "/phone_numbers/1"}
    assert first.json()["data"]["id"] in error["detail"]
    assert client.post(url(enterprise), body([b]), format="json").status_code == 202


def test_a_finished_request_frees_its_numbers(client, enterprise) -> None:
    a = numbers(1)
    own(enterprise, a)
    first = client.post(url(enterprise), body(a), format="json").json()["data"]
    cancel = client.post(url(enterprise, first["id"], "actions", "cancel"))
    assert cancel.status_code == 200
    assert client.post(url(enterprise), body(a), format="json").status_code == 202


def test_numbers_in_their_cooldown_are_accepted_as_ineligible(
    client, org, enterprise
) -> None:
    """GIVEN one number remediated 10 days ago and a 30-day cooldown WHEN it is
    submitted with a fresh one THEN 202 counts it ineligible, not submitted."""
    fresh, cooling = numbers(2)
    own(enterprise, [fresh])
    own(
        enterprise,
        [cooling],
        last_remediated_at=timezone.now() - dt.timedelta(days=10),
    )
    response = client.post(url(enterprise), body([fresh, cooling]), format="json")
    assert response.status_code == 202
    data = response.json()["data"]
    assert (
        data["phone_numbers_count"],
        data["phone_numbers_submitted"],
        data["phone_numbers_ineligible"],
    ) == (2, 1, 1)
    row = RemediationNumber.objects.get(e164=cooling)
    assert (row.eligible, row.in_flight, row.outcome) == (False, False, "ineligible")


def test_the_cooldown_follows_the_organisation_setting(client, org, enterprise) -> None:
    from remediation.selectors import settings_for

    row = settings_for(organisation=org)
    row.cooldown_days = 7
    row.save()
    number = numbers(1)
    own(enterprise, number, last_remediated_at=timezone.now() - dt.timedelta(days=10))
    data = client.post(url(enterprise), body(number), format="json").json()["data"]
    assert data["phone_numbers_ineligible"] == 0


# --- 403, 401, 400, 404, 405, 500 ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"reputation_status": GateStatus.PENDING}, "reputation status is pending"),
        ({"reputation_status": GateStatus.REJECTED}, "reputation status is rejected"),
        ({"loa_status": GateStatus.PENDING}, "loa_status is pending"),
        ({"loa_status": GateStatus.REJECTED}, "loa_status is rejected"),
        ({"terms_accepted_at": None}, "Terms of Service are not accepted"),
    ],
)
def test_a_closed_gate_answers_403_naming_it(client, org, fields, named) -> None:
    enterprise = make_enterprise(org, "Gated", **fields)
    own(enterprise, numbers(1))
    response = client.post(url(enterprise), body(numbers(1)), format="json")
    assert response.status_code == 403
    (error,) = errors(response)
    assert error["code"] == "10010"
    assert named in error["detail"]
    assert not RemediationRequest.objects.exists()


def test_every_missing_gate_is_listed(client, org) -> None:
    enterprise = make_enterprise(org, "New", approved=False)
    response = client.post(url(enterprise), body(numbers(1)), format="json")
    assert response.status_code == 403
    assert len(errors(response)) == 3


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("support", 403)])
def test_roles_that_may_not_submit_get_403(
    org, enterprise, api_client_for, role, status
) -> None:
    own(enterprise, numbers(1))
    client = api_client_for(org, role)
    response = client.post(url(enterprise), body(numbers(1)), format="json")
    assert response.status_code == status
    assert errors(response)[0]["code"] == "10010"
    # ... yet they read.
    assert client.get(url(enterprise)).status_code == 200


def test_admins_submit(org, enterprise, api_client_for) -> None:
    own(enterprise, numbers(1))
    client = api_client_for(org, "admin")
    assert (
        client.post(url(enterprise), body(numbers(1)), format="json").status_code == 202
    )


@pytest.mark.parametrize("header", [None, "Bearer tc_deadbeef_nope", "Basic abc"])
def test_without_a_valid_token_the_answer_is_401(enterprise, header) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(url(enterprise))
    assert response.status_code == 401
    assert errors(response)[0]["code"] == "10009"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_browser_session_is_not_enough(client, enterprise, alice) -> None:
    from django.test import Client

    browser = Client()
    browser.force_login(alice)
    assert browser.get(url(enterprise)).status_code == 401


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'["+12025550000"]', b'"text"', b"null"],
)
def test_a_body_that_is_not_a_json_object_is_400(client, enterprise, raw) -> None:
    response = client.generic(
        "POST", url(enterprise), raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert errors(response)[0]["code"] == "10015"


def test_a_form_body_is_415(client, enterprise) -> None:
    response = client.post(url(enterprise), {"call_purpose": "x"})
    assert response.status_code == 415
    assert errors(response)[0]["code"] == "10014"


def test_an_unknown_enterprise_is_404(client) -> None:
    for enterprise_id in (uuid.uuid4(), "not-a-uuid"):
        response = client.get(f"/v2/enterprises/{enterprise_id}/reputation/remediation")
        assert response.status_code == 404
        assert errors(response)[0]["code"] == "10005"


def test_an_unknown_or_malformed_request_id_is_404(client, enterprise) -> None:
    for request_id in (str(uuid.uuid4()), "nope"):
        response = client.get(url(enterprise, request_id))
        assert response.status_code == 404
        assert errors(response)[0]["code"] == "10005"


def test_a_request_of_another_enterprise_is_404(client, org, enterprise) -> None:
    sibling = make_enterprise(org, "Sibling")
    own(sibling, numbers(1))
    theirs = client.post(url(sibling), body(numbers(1)), format="json").json()["data"]
    assert client.get(url(sibling, theirs["id"])).status_code == 200
    response = client.get(url(enterprise, theirs["id"]))
    assert response.status_code == 404


def test_another_organisation_sees_nothing(
    client, enterprise, other_org, api_client_for
) -> None:
    """Tenant isolation: Beta's token gets 404 for Alpha's enterprise and request,
    and its own enterprise lists none of Alpha's requests."""
    own(enterprise, numbers(1))
    mine = client.post(url(enterprise), body(numbers(1)), format="json").json()["data"]
    beta = api_client_for(other_org, "admin")
    assert beta.get(url(enterprise)).status_code == 404
    assert beta.get(url(enterprise, mine["id"])).status_code == 404
    assert (
        beta.post(url(enterprise), body(numbers(1)), format="json").status_code == 404
    )
    assert (
        beta.post(url(enterprise, mine["id"], "actions", "cancel")).status_code == 404
    )
    beta_enterprise = make_enterprise(other_org, "Beta Corp")
    assert beta.get(url(beta_enterprise)).json()["meta"]["total_results"] == 0
    assert beta.get(url(beta_enterprise, mine["id"])).status_code == 404


def test_wrong_methods_are_405_in_json(client, enterprise) -> None:
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(url(enterprise))
        assert response.status_code == 405
        assert errors(response)[0]["title"] == "Method not allowed"


def test_unknown_paths_under_v2_are_404_in_json(client) -> None:
    for path in ("/v2/", "/v2/nope", "/v2/enterprises/x/reputation/remediation/"):
        response = client.get(path)
        assert response.status_code == 404
        assert errors(response)[0]["code"] == "10005"


def test_an_unexpected_error_is_500_in_json(client, enterprise, monkeypatch) -> None:
    from remediation import selectors

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "request_list", broken)
    response = client.get(url(enterprise))
    assert response.status_code == 500
    (error,) = errors(response)
    assert error["code"] == "10007"
    assert "fire" not in error["detail"]


def test_a_crash_outside_the_views_is_still_json(settings) -> None:
    """Django's own error pages under /v2/ (here a 500 page) become JSON:API."""
    from django.http import HttpRequest, HttpResponseServerError

    from remediation.middleware import ProviderJsonErrorsMiddleware

    request = HttpRequest()
    request.path = "/v2/enterprises/x/reputation/remediation"
    middleware = ProviderJsonErrorsMiddleware(
        lambda r: HttpResponseServerError("<h1>Server Error</h1>")
    )
    response = middleware(request)
    assert response.status_code == 500
    assert json.loads(response.content)["errors"][0]["code"] == "10007"
    request.path = "/accounts/"
    assert (
        ProviderJsonErrorsMiddleware(lambda r: HttpResponseServerError("<h1>x</h1>"))(
            request
        ).content
        == b"<h1>x</h1>"
    )


# --- GET by id --------------------------------------------------------------------


def test_get_by_id_returns_full_detail_and_null_results_while_pending(
    client, enterprise
) -> None:
    own(enterprise, numbers(3))
    created = client.post(
        url(enterprise),
        body(numbers(3), contact_email="ops@example.com"),
        format="json",
    ).json()["data"]
    response = client.get(url(enterprise, created["id"]))
    assert response.status_code == 200
    assert response.json() == {"data": created}


def test_results_hold_all_five_buckets_with_each_number_once(
    client, enterprise
) -> None:
    """GIVEN results for part of a batch WHEN read THEN results has all five
    buckets (empty ones as []), and no number appears twice."""
    batch = numbers(4)
    own(enterprise, batch)
    created = client.post(url(enterprise), body(batch), format="json").json()["data"]
    request = RemediationRequest.objects.get(public_id=created["id"])
    rows = list(request.numbers.order_by("position"))
    rows[0].outcome, rows[1].outcome = "remediated", "refused"
    RemediationNumber.objects.bulk_update(rows[:2], ["outcome"])
    request.results_available = True
    request.save()
    results = client.get(url(enterprise, created["id"])).json()["data"]["results"]
    assert list(results) == [
        "remediated",
        "not_flagged",
        "requires_review",
        "ineligible",
        "refused",
    ]
    assert results["remediated"] == [batch[0]]
    assert results["refused"] == [batch[1]]
    assert results["not_flagged"] == results["requires_review"] == []
    flat = [n for bucket in results.values() for n in bucket]
    assert len(flat) == len(set(flat)) == 2


# --- The list: slim shape, pagination, filters ---------------------------------------


def _requests(enterprise: Any, count: int, **fields: Any) -> list[RemediationRequest]:
    now = timezone.now()
    return RemediationRequest.objects.bulk_create(
        [
            RemediationRequest(
                organisation=enterprise.organisation,
                enterprise=enterprise,
                call_purpose=f"purpose {i}",
                phone_numbers_count=1,
                phone_numbers_submitted=1,
                phone_numbers_ineligible=0,
                created_by="test",
                provider="sandbox",
                created_at=now - dt.timedelta(minutes=i),
                updated_at=now - dt.timedelta(minutes=i),
                **fields,
            )
            for i in range(count)
        ]
    )


def test_the_list_is_slim_newest_first_with_the_meta_block(client, enterprise) -> None:
    _requests(enterprise, 3)
    response = client.get(url(enterprise))
    assert response.status_code == 200
    data = response.json()
    assert [list(item) for item in data["data"]] == [LIST_KEYS] * 3
    assert [item["call_purpose"] for item in data["data"]] == [
        "purpose 0",
        "purpose 1",
        "purpose 2",
    ]
    assert data["meta"] == {
        "page_number": 1,
        "page_size": 20,
        "total_results": 3,
        "total_pages": 1,
    }


def test_pages_default_to_20_and_are_1_based(client, enterprise) -> None:
    _requests(enterprise, 45)
    first = client.get(url(enterprise)).json()
    assert len(first["data"]) == 20
    assert first["meta"]["total_pages"] == 3
    third = client.get(url(enterprise), {"page[number]": 3}).json()
    assert len(third["data"]) == 5
    assert third["data"][-1]["call_purpose"] == "purpose 44"
    second = client.get(url(enterprise), {"page[number]": 2, "page[size]": 50}).json()
    assert second["data"] == []
    assert second["meta"] == {
        "page_number": 2,
        "page_size": 50,
        "total_results": 45,
        "total_pages": 1,
    }


def test_page_size_is_capped_at_250(client, enterprise) -> None:
    _requests(enterprise, 260)
    data = client.get(url(enterprise), {"page[size]": 1000}).json()
    assert len(data["data"]) == 250
    assert data["meta"]["page_size"] == 250
    assert data["meta"]["total_pages"] == 2
    exact = client.get(url(enterprise), {"page[size]": 250, "page[number]": 2}).json()
    assert len(exact["data"]) == 10


def test_a_page_past_the_end_is_empty_not_an_error(client, enterprise) -> None:
    _requests(enterprise, 2)
    data = client.get(url(enterprise), {"page[number]": 9}).json()
    assert data["data"] == []
    assert data["meta"]["page_number"] == 9
    assert data["meta"]["total_pages"] == 1


def test_an_empty_list_has_no_pages(client, enterprise) -> None:
    data = client.get(url(enterprise)).json()
    assert data == {
        "data": [],
        "meta": {
            "page_number": 1,
            "page_size": 20,
            "total_results": 0,
            "total_pages": 0,
        },
    }


@pytest.mark.parametrize(
    "params",
    [
        {"page[size]": 0},
        {"page[size]": -5},
        {"page[number]": 0},
        {"page[number]": "two"},
        {"filter[status]": "done"},
        {"filter[created_at][gte]": "yesterday"},
        {"filter[created_at][lte]": "2026-13-45"},
        {"filter[state]": "pending"},
        {"page[offset]": 20},
    ],
)
def test_bad_pagination_or_filters_are_400_naming_the_parameter(
    client, enterprise, params
) -> None:
    response = client.get(url(enterprise), params)
    assert response.status_code == 400
    (error,) = errors(response)
    assert error["code"] == "10015"
    assert error["source"] == {"parameter": next(iter(params))}


def test_filter_by_status(client, enterprise) -> None:
    _requests(enterprise, 2)
    _requests(enterprise, 3, status=RemediationStatus.COMPLETED)
    data = client.get(url(enterprise), {"filter[status]": "completed"}).json()
    assert data["meta"]["total_results"] == 3
    assert {item["status"] for item in data["data"]} == {"completed"}
    none = client.get(url(enterprise), {"filter[status]": "failed"}).json()
    assert none["data"] == []


def test_filter_by_created_at_range(client, enterprise) -> None:
    rows = _requests(enterprise, 5)  # created now, -1 min, … -4 min
    gte = rows[2].created_at.isoformat()
    lte = rows[1].created_at.isoformat()
    data = client.get(
        url(enterprise),
        {"filter[created_at][gte]": gte, "filter[created_at][lte]": lte},
    ).json()
    assert [i["call_purpose"] for i in data["data"]] == ["purpose 1", "purpose 2"]
    # Z and an unencoded "+00:00" (which arrives as a space) both work.
    z = rows[0].created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert (
        client.get(url(enterprise), {"filter[created_at][gte]": z}).json()["meta"][
            "total_results"
        ]
        == 1
    )
    spaced = rows[0].created_at.astimezone(dt.UTC).isoformat().replace("+", " ")
    response = client.get(url(enterprise) + f"?filter[created_at][gte]={spaced}")
    assert response.json()["meta"]["total_results"] == 1
    day = client.get(url(enterprise), {"filter[created_at][gte]": "2000-01-01"})
    assert day.json()["meta"]["total_results"] == 5


def test_list_query_count_does_not_grow_with_the_page(
    client, enterprise, django_assert_max_num_queries
) -> None:
    _requests(enterprise, 60)
    with django_assert_max_num_queries(8):
        response = client.get(url(enterprise), {"page[size]": 60})
    assert len(response.json()["data"]) == 60


# --- Cancel (extension) -------------------------------------------------------------


def test_cancelling_a_pending_request(client, enterprise) -> None:
    own(enterprise, numbers(2))
    created = client.post(url(enterprise), body(numbers(2)), format="json").json()[
        "data"
    ]
    response = client.post(url(enterprise, created["id"], "actions", "cancel"))
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "cancelled"
    assert data["phone_numbers_count"] == 2  # still counted, as the seed says
    assert AuditEntry.objects.filter(
        action="remediation.cancel", target_id=created["id"]
    ).exists()
    again = client.post(url(enterprise, created["id"], "actions", "cancel"))
    assert again.status_code == 409
    assert "cancelled" in errors(again)[0]["detail"]


def test_only_pending_requests_can_be_cancelled(client, enterprise) -> None:
    (request,) = _requests(enterprise, 1, status=RemediationStatus.IN_PROGRESS)
    response = client.post(url(enterprise, str(request.public_id), "actions", "cancel"))
    assert response.status_code == 409
    request.refresh_from_db()
    assert request.status == RemediationStatus.IN_PROGRESS


def test_viewers_cannot_cancel(org, enterprise, client, api_client_for) -> None:
    own(enterprise, numbers(1))
    created = client.post(url(enterprise), body(numbers(1)), format="json").json()[
        "data"
    ]
    viewer = api_client_for(org, "viewer")
    response = viewer.post(url(enterprise, created["id"], "actions", "cancel"))
    assert response.status_code == 403
    assert RemediationRequest.objects.get().status == RemediationStatus.PENDING


def test_the_schema_documents_the_v2_endpoints(client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    base = "/v2/enterprises/{enterprise_id}/reputation/remediation"
    assert base in schema["paths"]
    assert "202" in schema["paths"][base]["post"]["responses"]
    assert f"{base}/{{remediation_id}}/actions/cancel" in schema["paths"]
