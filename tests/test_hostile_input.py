"""Hostile bodies and query parameters get a 4xx in each path's own shape, never a
5xx, and change nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.remediation.conftest import make_enterprise
from tests.visitors.factories import WidgetFactory
from trustconsole.core.models import AuditEntry
from visitors.models import Message, Visitor

pytestmark = pytest.mark.django_db

DEEP = 100_000
WIDGET = "/widget/v1/messages"


def deep_json(depth: int, inner: str = "") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


def assert_console_error(response, status: int, field: str | None = None) -> dict:
    """The console's `{"detail", "errors": [{"field", "reason"}]}` shape."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["errors"] and all(set(e) == {"field", "reason"} for e in body["errors"])
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def assert_provider_error(response, status: int, parameter: str | None = None):
    """The provider's JSON:API `{"errors": [{"code", "title", "detail"}]}` shape."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    errors = response.json()["errors"]
    assert errors and all({"code", "title", "detail"} <= set(e) for e in errors)
    if parameter is not None:
        assert errors[0]["source"] == {"parameter": parameter}
    return errors


@pytest.fixture
def widget(org):
    return WidgetFactory(organisation=org, name="Main website")


def _widget_post(widget, body: bytes) -> object:
    return Client().post(
        WIDGET, body, content_type="application/json", HTTP_X_WIDGET_KEY=widget.key
    )


# --- JSON bodies -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 5_000, DEEP])
def test_deeply_nested_json_to_the_widget_is_a_400(widget, depth) -> None:
    response = _widget_post(widget, deep_json(depth))
    body = assert_console_error(response, 400)
    assert "deeper than 32 levels" in body["detail"]
    assert not Message.objects.exists()


def test_a_body_over_the_limit_to_the_widget_is_a_json_413(widget, settings) -> None:
    settings.API_JSON_MAX_BYTES = 4096
    message = {"visitor_id": "w-1", "body": "x" * 5000}
    response = _widget_post(widget, json.dumps(message).encode())
    body = assert_console_error(response, 413)
    assert "4,096 bytes" in body["detail"]
    assert not Visitor.objects.exists()


def test_a_body_over_djangos_own_limit_is_a_json_413_not_the_html_page(
    widget, settings
) -> None:
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE refusal (a form body) is JSON too."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = Client().post(
        WIDGET,
        "body=" + "x" * 4000,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_WIDGET_KEY=widget.key,
    )
    assert_console_error(response, 413)


def test_the_widget_refuses_a_number_as_the_message_body(widget) -> None:
    response = _widget_post(widget, b'{"visitor_id": "w-1", "body": 5}')
    body = assert_console_error(response, 400, "body")
    assert body["errors"][0]["reason"] == "Must be a string."
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "raw", [b"NaN", b'{"body": Infinity}', b'{"body": 1e999}', b"\xff\xfe", b"[1,"]
)
def test_json_that_is_not_json_is_a_400(widget, raw) -> None:
    assert_console_error(_widget_post(widget, raw), 400)


def test_deep_json_to_the_visitors_api_is_a_400(org, api_client_for) -> None:
    client = api_client_for(org, "operator")
    response = client.post(
        "/api/v1/visitors/", deep_json(DEEP), content_type="application/json"
    )
    assert_console_error(response, 400)
    nested = {
        "emails": ["a@example.com"],
        "name": "x",
        "extra": json.loads("[" * 40 + "]" * 40),
    }
    response = client.post("/api/v1/visitors/", nested, format="json")
    assert_console_error(response, 400)
    assert not Visitor.objects.exists()


def test_list_fields_have_upper_bounds(org, api_client_for) -> None:
    client = api_client_for(org, "operator")
    emails = [f"user{i}@example.com" for i in range(51)]
    response = client.post("/api/v1/visitors/", {"emails": emails}, format="json")
    body = assert_console_error(response, 400, "emails")
    assert "50" in body["errors"][0]["reason"]
    assert not Visitor.objects.exists()


def test_deep_json_to_the_v2_remediation_api_keeps_the_provider_shape(
    org, api_client_for
) -> None:
    enterprise = make_enterprise(org)
    url = f"/v2/enterprises/{enterprise.public_id}/reputation/remediation"
    client = api_client_for(org, "operator")
    errors = assert_provider_error(
        client.post(url, deep_json(DEEP), content_type="application/json"), 400
    )
    assert errors[0]["code"] == "10015"
    assert "deeper than" in errors[0]["detail"]


def test_a_body_over_the_limit_to_v2_is_a_provider_shaped_413(
    org, api_client_for, settings
) -> None:
    settings.API_JSON_MAX_BYTES = 2048
    enterprise = make_enterprise(org)
    url = f"/v2/enterprises/{enterprise.public_id}/reputation/remediation"
    body = {"phone_numbers": ["+12025550140"] * 300, "call_purpose": "Reminders"}
    response = api_client_for(org, "operator").post(url, body, format="json")
    assert_provider_error(response, 413)


# --- Query parameters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/visitors/?q=a%00b", "q"),
        ("/api/v1/accounts?q=%00", "q"),
        ("/api/v1/accounts?status=on_hold%00", "status"),
        ("/api/v1/audit/?target_type=visitor%00", "target_type"),
    ],
)
def test_a_nul_byte_in_a_query_parameter_is_a_400_naming_it(
    org, api_client_for, url, parameter
) -> None:
    response = api_client_for(org, "viewer").get(url)
    body = assert_console_error(response, 400, parameter)
    assert "NUL" in body["errors"][0]["reason"]


@pytest.mark.parametrize(
    "url",
    [
        "/security/visitors/?q=a%00b",
        "/accounts/?status=%00",
        "/settings/audit/?target_type=%00",
    ],
)
def test_a_nul_byte_on_a_page_is_the_400_page(org, bob, url) -> None:
    client = Client()
    assert client.login(username=bob.username, password=PASSWORD)
    response = client.get(url)
    assert response.status_code == 400
    assert b"Bad request" in response.content
    assert b"NUL" in response.content


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/accounts?status=AAA", "status"),
        ("/api/v1/visitors/?status=AAA", "status"),
        ("/api/v1/visitors/?score_min=abc", "score_min"),
        ("/api/v1/visitors/?page_size=-1", "page_size"),
        ("/api/v1/visitors/?page_size=abc", "page_size"),
        ("/api/v1/visitors/?page_size=501", "page_size"),
        ("/api/v1/visitors/?page=0", "page"),
        ("/api/v1/ip-blocks/?include_expired=maybe", "include_expired"),
        ("/api/v1/voice/denials?code=nope", "code"),
        ("/api/v1/voice/denials/by-account?days=abc", "days"),
    ],
)
def test_an_invalid_filter_value_is_a_400_naming_it(
    org, api_client_for, url, parameter
) -> None:
    response = api_client_for(org, "viewer").get(url)
    assert_console_error(response, 400, parameter)


def test_the_accounts_page_shows_a_bad_filter_in_the_form(org, bob) -> None:
    client = Client()
    assert client.login(username=bob.username, password=PASSWORD)
    response = client.get("/accounts/?status=AAA")
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert b"Select a valid choice" in response.content


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page[number]=99999999999999999999999", "page[number]"),
        ("page[number]=1e3", "page[number]"),
        ("filter[created_at][lte]=99999-01-01", "filter[created_at][lte]"),
        (
            "filter[created_at][gte]=9999-12-31T23:59:59-18:00",
            "filter[created_at][gte]",
        ),
        ("filter[status]=%00", "filter[status]"),
    ],
)
def test_bad_v2_list_parameters_are_provider_shaped_400s(
    org, api_client_for, query, parameter
) -> None:
    enterprise = make_enterprise(org)
    url = f"/v2/enterprises/{enterprise.public_id}/reputation/remediation?{query}"
    errors = assert_provider_error(api_client_for(org, "viewer").get(url), 400)
    assert errors[0]["source"] == {"parameter": parameter}


def test_a_timestamp_with_an_offset_the_database_refuses_still_filters(
    org, api_client_for
) -> None:
    """-18:09 is a valid ISO 8601 offset; it is compared in UTC."""
    enterprise = make_enterprise(org)
    url = (
        f"/v2/enterprises/{enterprise.public_id}/reputation/remediation"
        "?filter[created_at][lte]=4555-11-19T14:30:14-18:09"
    )
    response = api_client_for(org, "viewer").get(url)
    assert response.status_code == 200
    assert response.json()["meta"]["total_results"] == 0


def test_refused_requests_write_no_audit_entry(org, api_client_for, widget) -> None:
    client = api_client_for(org, "operator")
    before = AuditEntry.objects.count()
    client.post("/api/v1/visitors/", deep_json(DEEP), content_type="application/json")
    _widget_post(widget, deep_json(DEEP))
    client.get("/api/v1/visitors/?q=%00")
    assert AuditEntry.objects.count() == before


def test_a_huge_v2_page_size_is_capped_not_refused(org, api_client_for) -> None:
    enterprise = make_enterprise(org)
    url = (
        f"/v2/enterprises/{enterprise.public_id}/reputation/remediation"
        "?page[size]=99999999999999999999999"
    )
    response = api_client_for(org, "viewer").get(url)
    assert response.status_code == 200
    assert response.json()["meta"]["page_size"] == 250
