"""An operator picks flagged numbers and submits them in a real Chromium."""

from __future__ import annotations

import pytest

from remediation.models import RemediationRequest
from tests.remediation.conftest import make_enterprise, own

pytestmark = pytest.mark.browser

FLAGGED = ["+12025550140", "+12025550141", "+12025550142"]


def test_an_operator_selects_flagged_numbers_and_submits_them(
    login, oscar, org
) -> None:
    """GIVEN three flagged numbers WHEN oscar ticks two, gives the purpose and
    presses "Submit for remediation" THEN the request page shows it pending with
    2 numbers, and the requests list finds it by status."""
    enterprise = make_enterprise(org)
    own(enterprise, FLAGGED)
    page = login(oscar)
    page.get_by_role("link", name="Remediation").first.click()
    page.get_by_label(FLAGGED[0]).check()
    page.get_by_label(FLAGGED[2]).check()
    page.get_by_label("Call purpose").fill("Appointment reminders for our clinics")
    page.get_by_role("button", name="Submit for remediation").click()
    page.wait_for_url("**/remediation/requests/*/")
    assert page.get_by_test_id("request-status").first.inner_text() == "Pending"
    assert page.get_by_test_id("count").inner_text() == "2"
    assert (
        "may still block or label calls" in page.get_by_test_id("caveat").inner_text()
    )
    request = RemediationRequest.objects.get()
    assert list(request.numbers.values_list("e164", flat=True)) == [
        FLAGGED[0],
        FLAGGED[2],
    ]

    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Status").select_option("completed")
    page.wait_for_url("**status=completed**")
    assert page.get_by_text("No remediation requests with this status.").is_visible()
    page.get_by_label("Status").select_option("pending")
    page.wait_for_url("**status=pending**")
    assert page.locator("[data-row-link]").count() == 1


def test_select_all_ticks_every_free_number(login, oscar, org) -> None:
    enterprise = make_enterprise(org)
    own(enterprise, FLAGGED)
    page = login(oscar)
    page.goto("/remediation/")
    page.get_by_label("Select every number on this page").check()
    assert page.locator('input[name="phone_numbers"]:checked').count() == 3
