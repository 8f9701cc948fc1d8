"""The Telnyx client against mocked Telnyx answers (documented shapes only).

Telnyx is outside this machine, so its answers are mocked at the HTTP boundary with
httpx.MockTransport, using the shapes the seed and the API reference document.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.db.models import TextField
from django.db.models.functions import Cast

from remediation.models import RemediationSettings
from remediation.providers import (
    CancelNotSupported,
    ProviderError,
    ProviderTransientError,
    TelnyxClient,
    client_for,
    parse_remediation,
    retry_after_seconds,
)

ENTERPRISE = "4a6192a4-573d-446d-b3ce-aff9117272a6"
REMEDIATION = "9f1c8a2e-5b3d-4e7a-9c11-2a6f0d3b4c55"
PENDING = {
    "data": {
        "id": REMEDIATION,
        "status": "pending",
        "phone_numbers_count": 2,
        "phone_numbers_submitted": 2,
        "phone_numbers_ineligible": 0,
        "call_purpose": "Outbound appointment reminders for our dental clinic.",
        "contact_email": "ops@example.com",
        "webhook_url": None,
        "created_at": "2026-06-07T18:06:51.940749Z",
        "updated_at": "2026-06-07T18:06:51.940749Z",
        "tier1_completed_at": None,
        "tier2_completed_at": None,
        "results": None,
    }
}
COMPLETED = {
    "data": {
        **PENDING["data"],
        "status": "completed",
        "updated_at": "2026-06-07T19:42:10.112233Z",
        "tier1_completed_at": "2026-06-07T19:10:04.000000Z",
        "tier2_completed_at": "2026-06-07T19:42:10.000000Z",
        "results": {
            "remediated": ["+12025551234"],
            "not_flagged": [],
            "requires_review": ["+12025555678"],
            "ineligible": [],
            "refused": [],
        },
    }
}
ERROR_404 = {
    "errors": [
        {
            "code": "10005",
            "title": "Resource not found",
            "detail": "Remediation request not found.",
        }
    ]
}

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, **kwargs: Any) -> tuple[TelnyxClient, list[float]]:
    slept: list[float] = []
    made = TelnyxClient(
        base_url="https://api.telnyx.com/v2",
        api_key="KEY_test",
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
        backoff=0.5,
        **kwargs,
    )
    return made, slept


def test_submit_posts_the_documented_body_with_the_bearer_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json=PENDING)

    made, _ = client(handler)
    result = made.submit(
        enterprise_id=ENTERPRISE,
        phone_numbers=["+12025551234", "+12025555678"],
        call_purpose="Outbound appointment reminders for our dental clinic.",
        contact_email="ops@example.com",
    )
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == (
        f"https://api.telnyx.com/v2/enterprises/{ENTERPRISE}/reputation/remediation"
    )
    assert request.headers["Authorization"] == "Bearer KEY_test"
    assert json.loads(request.content) == {
        "phone_numbers": ["+12025551234", "+12025555678"],
        "call_purpose": "Outbound appointment reminders for our dental clinic.",
        "contact_email": "ops@example.com",
    }
    assert result.id == REMEDIATION and result.status == "pending"
    assert result.results is None


def test_retrieve_reads_tiers_and_buckets() -> None:
    made, _ = client(lambda r: httpx.Response(200, json=COMPLETED))
    result = made.retrieve(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)
    assert result.status == "completed"
    assert result.tier2_completed_at == dt.datetime(
        2026, 6, 7, 19, 42, 10, tzinfo=dt.UTC
    )
    assert result.results["requires_review"] == ["+12025555678"]


def test_a_get_is_retried_on_5xx_with_growing_back_off() -> None:
    answers = iter([503, 500, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json=COMPLETED if status == 200 else ERROR_404)

    made, slept = client(handler, retries=2)
    assert made.retrieve(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)
    assert len(slept) == 2
    assert 0.25 <= slept[0] <= 0.75 and 0.5 <= slept[1] <= 1.5


def test_a_get_that_keeps_failing_is_a_transient_error() -> None:
    made, slept = client(
        lambda r: httpx.Response(502, text="<html>bad gateway"), retries=1
    )
    with pytest.raises(ProviderTransientError, match="502") as caught:
        made.retrieve(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)
    assert caught.value.status_code == 502
    assert len(slept) == 1


def test_timeouts_are_retried_for_reads() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=COMPLETED)

    made, _ = client(handler, retries=2)
    assert made.retrieve(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)
    assert len(calls) == 3


@pytest.mark.parametrize("failure", ["timeout", 503])
def test_a_submit_is_not_repeated_after_a_timeout_or_5xx(failure) -> None:
    """A timed-out or failed POST may have been accepted: one try, then the poller
    decides (it looks for the request upstream before sending it again)."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if failure == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(failure, json=ERROR_404)

    made, _ = client(handler, retries=3)
    with pytest.raises(ProviderTransientError):
        made.submit(
            enterprise_id=ENTERPRISE,
            phone_numbers=["+12025551234"],
            call_purpose="x",
        )
    assert len(calls) == 1


def test_a_refused_connection_is_retried_even_for_a_submit() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(202, json=PENDING)

    made, _ = client(handler, retries=1)
    made.submit(
        enterprise_id=ENTERPRISE, phone_numbers=["+12025551234"], call_purpose="x"
    )
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("header", "seconds"), [("17", 17.0), ("0", 0.0), (None, None)]
)
def test_a_429_hands_its_retry_after_to_the_poller(header, seconds) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            429,
            headers=headers,
            json={"errors": [{"code": "10011", "title": "Too many requests"}]},
        )

    made, slept = client(handler, retries=3)
    with pytest.raises(ProviderTransientError) as caught:
        made.retrieve(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)
    assert caught.value.status_code == 429
    assert caught.value.retry_after == seconds
    assert len(calls) == 1 and slept == []


def test_retry_after_may_be_an_http_date() -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    value = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 85 <= retry_after_seconds(value) <= 91
    assert retry_after_seconds("soon") is None


def test_a_4xx_is_a_permanent_error_carrying_the_providers_words() -> None:
    made, slept = client(lambda r: httpx.Response(404, json=ERROR_404), retries=3)
    with pytest.raises(ProviderError) as caught:
        made.retrieve(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)
    assert not isinstance(caught.value, ProviderTransientError)
    assert "Resource not found (10005): Remediation request not found." in str(
        caught.value
    )
    assert slept == []


def test_an_error_with_description_instead_of_detail_is_read() -> None:
    body = {"errors": [{"code": "10015", "title": "Bad Request", "description": "bad"}]}
    made, _ = client(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ProviderError, match="Bad Request \\(10015\\): bad"):
        made.retrieve(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)


def test_unknown_statuses_and_missing_buckets() -> None:
    with pytest.raises(ProviderTransientError):
        parse_remediation({"id": "x", "status": "archived"})
    parsed = parse_remediation(
        {
            "id": "x",
            "status": "in_progress",
            "results": {"remediated": ["+12025551234"]},
        }
    )
    assert parsed.results == {
        "remediated": ["+12025551234"],
        "not_flagged": [],
        "requires_review": [],
        "ineligible": [],
        "refused": [],
    }
    with pytest.raises(ProviderError):
        parse_remediation({"status": "pending"})


def test_telnyx_has_no_cancel() -> None:
    made, _ = client(lambda r: httpx.Response(500))
    with pytest.raises(CancelNotSupported):
        made.cancel(enterprise_id=ENTERPRISE, remediation_id=REMEDIATION)


@pytest.mark.django_db
def test_the_client_follows_the_organisation_settings(org, settings) -> None:
    settings.REMEDIATION_SANDBOX_URL = "http://127.0.0.1:9/sandbox/telnyx/v2"
    row = RemediationSettings.objects.create(organisation=org)
    sandbox = client_for(row)
    assert sandbox.base_url == "http://127.0.0.1:9/sandbox/telnyx/v2"
    assert sandbox.supports_cancel
    row.provider = "telnyx"
    with pytest.raises(ProviderError, match="No Telnyx API key"):
        client_for(row)
    row.api_key = "KEY_0123456789_live"
    row.save()
    row.refresh_from_db()
    stored = RemediationSettings.objects.values_list(
        Cast("api_key", output_field=TextField()), flat=True
    ).get(pk=row.pk)
    assert "KEY_0123456789_live" not in stored
    assert row.api_key_hint == "••••live"
    telnyx = client_for(row)
    assert telnyx.base_url == "https://api.telnyx.com/v2"
    assert telnyx._client.headers["Authorization"] == "Bearer KEY_0123456789_live"
    assert not telnyx.supports_cancel
    # A request submitted to the sandbox keeps polling the sandbox.
    assert (
        client_for(row, provider="sandbox").base_url == settings.REMEDIATION_SANDBOX_URL
    )
