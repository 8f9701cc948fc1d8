"""The monitoring API (/api/v1/enterprises/{id}/reputation/…): shapes, errors in
the console's error shape, roles, tenant isolation, %2B in paths."""

from __future__ import annotations

from typing import Any

import pytest

from remediation.models import OwnedNumber, ReputationRefresh
from tests.remediation.conftest import make_enterprise, numbers, own
from trustconsole.core.choices import Role

BATCH = numbers(3, start=600)


@pytest.fixture
def approved(settings, sandbox_from_client, org) -> Any:
    settings.REMEDIATION_SANDBOX_APPROVAL_SECONDS = 0
    enterprise = make_enterprise(org)
    own(enterprise, BATCH, spam_risk=None)
    return enterprise


def test_enable_register_refresh_and_read_by_api(approved, org, api_client_for) -> None:
    """GIVEN an admin token WHEN it enables monitoring and registers numbers THEN
    201s in the documented shapes; an operator queues a refresh (202); a viewer
    reads the history of a number addressed with %2B."""
    admin = api_client_for(org)
    base = f"/api/v1/enterprises/{approved.public_id}/reputation"
    enabled = admin.post(
        f"{base}/",
        {"loa_document_id": "doc", "check_frequency": "daily"},
        format="json",
    )
    assert enabled.status_code == 201, enabled.content
    assert enabled.json()["reputation_status"] == "approved"
    assert enabled.json()["check_frequency"] == "daily"
    registered = admin.post(f"{base}/numbers/", {"phone_numbers": BATCH}, format="json")
    assert registered.status_code == 201
    assert [n["registered"] for n in registered.json()] == [True, True, True]

    operator = api_client_for(org, Role.OPERATOR)
    queued = operator.post(
        f"{base}/refresh/", {"phone_numbers": BATCH[:1]}, format="json"
    )
    assert queued.status_code == 202
    assert queued.json()["status"] == "queued"
    denied = operator.post(f"{base}/numbers/", {"phone_numbers": BATCH}, format="json")
    assert denied.status_code == 403

    viewer = api_client_for(org, Role.VIEWER)
    history = viewer.get(f"{base}/numbers/%2B{BATCH[0][1:]}/")
    assert history.status_code == 200
    assert history.json()["number"]["phone_number"] == BATCH[0]
    assert viewer.post(f"{base}/refresh/", {"phone_numbers": BATCH}).status_code == 403


def test_refusals_name_the_field_and_keep_the_status(
    approved, org, api_client_for
) -> None:
    """Unknown number → 422 naming phone_numbers.1; twice enabled → 400; frequency
    invalid → 400 from the serializer; 101 numbers → 400; nothing changes."""
    admin = api_client_for(org)
    base = f"/api/v1/enterprises/{approved.public_id}/reputation"
    admin.post(f"{base}/", {"loa_document_id": "doc"}, format="json")
    foreign = admin.post(
        f"{base}/numbers/",
        {"phone_numbers": [BATCH[0], "+12025559999"]},
        format="json",
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "phone_numbers.1"
    again = admin.post(f"{base}/", {"loa_document_id": "doc"}, format="json")
    assert again.status_code == 400
    assert "already enabled" in again.json()["detail"]
    bad = admin.patch(
        f"{base}/frequency/", {"check_frequency": "hourly"}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "check_frequency"
    many = admin.post(
        f"{base}/numbers/", {"phone_numbers": numbers(101)}, format="json"
    )
    assert many.status_code == 400
    assert not OwnedNumber.objects.filter(registered_at__isnull=False).exists()


def test_a_full_window_answers_429_with_retry_after(
    settings, approved, org, api_client_for
) -> None:
    settings.REPUTATION_REFRESH_LIMIT = 1
    admin = api_client_for(org)
    base = f"/api/v1/enterprises/{approved.public_id}/reputation"
    admin.post(f"{base}/", {"loa_document_id": "doc"}, format="json")
    admin.post(f"{base}/numbers/", {"phone_numbers": BATCH}, format="json")
    first = admin.post(f"{base}/refresh/", {"phone_numbers": BATCH[:1]}, format="json")
    assert first.status_code == 202
    second = admin.post(f"{base}/refresh/", {"phone_numbers": BATCH[:1]}, format="json")
    assert second.status_code == 429
    assert int(second["Retry-After"]) >= 1
    assert ReputationRefresh.objects.count() == 1


def test_other_organisations_get_404(approved, other_org, api_client_for) -> None:
    outsider = api_client_for(other_org)
    base = f"/api/v1/enterprises/{approved.public_id}/reputation"
    assert outsider.get(f"{base}/").status_code == 404
    assert (
        outsider.post(f"{base}/", {"loa_document_id": "d"}, format="json").status_code
        == 404
    )
    assert outsider.get(f"{base}/numbers/%2B{BATCH[0][1:]}/").status_code == 404
