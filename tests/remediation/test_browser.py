"""An operator picks flagged numbers and submits them in a real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

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


def test_a_rotated_webhook_secret_is_shown_once_then_only_its_end(
    login, alice, org, tmp_path
) -> None:
    """GIVEN an admin on Settings → Remediation WHEN they rotate the webhook secret
    THEN the new secret is shown once; on the next visit only '••••' and its last
    four characters are."""
    from remediation.selectors import settings_for

    page = login(alice)
    page.goto("/settings/remediation/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    shown = page.get_by_test_id("new-webhook-secret")
    expect(shown).to_be_visible()
    secret = settings_for(organisation=org).webhook_secret
    assert shown.inner_text() == secret
    page.screenshot(path=str(tmp_path / "rotated.png"), full_page=True)
    page.goto("/settings/remediation/")
    expect(page.get_by_test_id("webhook-secret")).to_have_text("••••" + secret[-4:])
    assert secret not in page.content()
