"""The built-in sandbox provider, over HTTP: shapes, the clock, outcomes, faults."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from remediation import sandbox
from remediation.models import SandboxFault

pytestmark = pytest.mark.django_db

BASE = "/sandbox/telnyx/v2/enterprises/ent-1/reputation/remediation"
KEY = {"HTTP_AUTHORIZATION": "Bearer sandbox-key-1"}
# One number per last digit: 0 … 9.
BATCH = [f"+1202555010{d}" for d in range(10)]


@pytest.fixture
def client() -> Client:
    return Client()


def submit(client: Client, phone_numbers: list[str] = BATCH, **extra: Any) -> Any:
    body = {"phone_numbers": phone_numbers, "call_purpose": "Reminders", **extra}
    return client.post(BASE, body, content_type="application/json", **KEY)


def test_submit_answers_202_pending_in_the_seed_shape(client) -> None:
    response = submit(client)
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["status"] == "pending"
    assert data["results"] is None
    assert data["phone_numbers_count"] == data["phone_numbers_submitted"] == 10


def test_it_needs_a_bearer_key(client) -> None:
    response = client.get(BASE)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "10009"


def test_it_validates_like_the_provider(client) -> None:
    response = submit(client, phone_numbers=[], webhook_url="http://x.example")
    assert response.status_code == 422
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/phone_numbers", "/webhook_url"}
    bad = client.post(BASE, "nope", content_type="application/json", **KEY)
    assert bad.status_code == 400


def test_the_clock_walks_a_request_through_the_states(client, settings) -> None:
    """GIVEN the default delays (10 s, 30 s, 60 s) WHEN time passes THEN the request
    is pending, in progress, has tier-1 results, then completes with every number
    in the bucket its last digit decides."""
    start = dt.datetime(2026, 6, 7, 18, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        rid = submit(client).json()["data"]["id"]

        def state() -> dict[str, Any]:
            return client.get(f"{BASE}/{rid}", **KEY).json()["data"]

        assert state()["status"] == "pending"
        clock.move_to(start + dt.timedelta(seconds=15))
        assert state()["status"] == "in_progress"
        assert state()["results"] is None
        clock.move_to(start + dt.timedelta(seconds=31))
        partial = state()
        assert partial["status"] == "in_progress"
        assert partial["tier1_completed_at"] == "2026-06-07T18:00:30.000000Z"
        assert partial["tier2_completed_at"] is None
        assert partial["results"]["remediated"] == [BATCH[0], BATCH[2], BATCH[4]]
        assert partial["results"]["not_flagged"] == [BATCH[5], BATCH[6]]
        assert partial["results"]["refused"] == []
        clock.move_to(start + dt.timedelta(seconds=61))
        done = state()
    assert done["status"] == "completed"
    assert done["tier2_completed_at"] == "2026-06-07T18:01:00.000000Z"
    assert done["results"] == {
        "remediated": BATCH[0:5],
        "not_flagged": BATCH[5:7],
        "requires_review": BATCH[7:9],
        "ineligible": [],
        "refused": BATCH[9:10],
    }
    assert done["updated_at"] == done["tier2_completed_at"]


def test_a_marked_purpose_fails(client) -> None:
    start = dt.datetime(2026, 6, 7, 18, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        rid = submit(client, call_purpose="Test [sandbox:fail]").json()["data"]["id"]
        clock.move_to(start + dt.timedelta(seconds=120))
        data = client.get(f"{BASE}/{rid}", **KEY).json()["data"]
    assert data["status"] == "failed"
    assert data["results"] is None


def test_cancel_works_while_pending_only(client) -> None:
    start = dt.datetime(2026, 6, 7, 18, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        first = submit(client).json()["data"]["id"]
        second = submit(client).json()["data"]["id"]
        response = client.post(f"{BASE}/{first}/actions/cancel", **KEY)
        assert response.status_code == 200
        assert response.json()["data"]["status"] == "cancelled"
        clock.move_to(start + dt.timedelta(seconds=20))
        late = client.post(f"{BASE}/{second}/actions/cancel", **KEY)
        assert late.status_code == 409
        assert client.get(f"{BASE}/{first}", **KEY).json()["data"]["status"] == (
            "cancelled"
        )


def test_each_key_sees_only_its_own_requests(client) -> None:
    rid = submit(client).json()["data"]["id"]
    other = {"HTTP_AUTHORIZATION": "Bearer someone-else"}
    assert client.get(f"{BASE}/{rid}", **other).status_code == 404
    assert client.get(BASE, **other).json()["meta"]["total_results"] == 0
    assert client.get(BASE, **KEY).json()["meta"]["total_results"] == 1


def test_the_list_is_slim_and_paginated(client) -> None:
    for _ in range(3):
        submit(client)
    data = client.get(BASE, {"page[size]": 2, "page[number]": 2}, **KEY).json()
    assert len(data["data"]) == 1
    assert set(data["data"][0]) == set(sandbox.SLIM_FIELDS)
    assert data["meta"] == {
        "page_number": 2,
        "page_size": 2,
        "total_results": 3,
        "total_pages": 2,
    }
    assert client.get(BASE, {"filter[status]": "completed"}, **KEY).json()["data"] == []
    assert client.get(BASE, {"page[size]": "x"}, **KEY).status_code == 400


def _fault(client: Client, **fault: Any) -> None:
    response = client.post(
        "/sandbox/telnyx/control/faults", fault, content_type="application/json", **KEY
    )
    assert response.status_code == 201, response.content


def test_injected_errors_and_rate_limits_are_served_once_each(client) -> None:
    _fault(client, kind="error", status=503)
    _fault(client, kind="rate_limit", retry_after=7, method="GET")
    first = client.get(BASE, **KEY)
    assert first.status_code == 503
    assert first.json()["errors"][0]["code"] == "10007"
    second = client.get(BASE, **KEY)
    assert second.status_code == 429
    assert second["Retry-After"] == "7"
    assert second.json()["errors"][0]["code"] == "10011"
    assert client.get(BASE, **KEY).status_code == 200
    assert list(SandboxFault.objects.values_list("remaining", "hits")) == [
        (0, 1),
        (0, 1),
    ]


def test_a_fault_can_be_limited_to_a_method(client) -> None:
    _fault(client, kind="error", status=500, method="POST", count=2)
    assert client.get(BASE, **KEY).status_code == 200
    assert submit(client).status_code == 500
    listed = client.get("/sandbox/telnyx/control/faults", **KEY).json()["data"]
    assert listed[0]["remaining"] == 1
    client.delete("/sandbox/telnyx/control/faults", **KEY)
    assert submit(client).status_code == 202


def test_a_delay_fault_slows_one_answer(client, monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(sandbox.time, "sleep", slept.append)
    _fault(client, kind="delay", delay_seconds=90)
    assert client.get(BASE, **KEY).status_code == 200
    assert slept == [sandbox.MAX_DELAY_SECONDS]


def test_bad_faults_are_422(client) -> None:
    for fault in ({"kind": "explode"}, {"kind": "error", "status": 200}, {}):
        response = client.post(
            "/sandbox/telnyx/control/faults",
            fault,
            content_type="application/json",
            **KEY,
        )
        assert response.status_code == 422


def test_switched_off_it_answers_404_everywhere(client, settings) -> None:
    settings.REMEDIATION_SANDBOX_ENABLED = False
    assert submit(client).status_code == 404
    assert client.get(BASE, **KEY).status_code == 404
    assert client.post("/sandbox/telnyx/control/faults", **KEY).status_code == 404


def test_unknown_paths_and_methods_answer_in_json(client) -> None:
    missing = client.get("/sandbox/telnyx/v2/numbers", **KEY)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "10005"
    wrong = client.delete(BASE, **KEY)
    assert wrong.status_code == 405
    assert wrong["Allow"] == "GET, POST"
