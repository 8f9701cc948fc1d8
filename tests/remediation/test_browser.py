"""An operator picks flagged numbers and submits them in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from remediation.models import RemediationRequest
from tests.remediation.conftest import make_enterprise, own
from tests.waiting import page_ready

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
    page_ready(page, "**/remediation/")
    page.get_by_label(FLAGGED[0]).check()
    page.get_by_label(FLAGGED[2]).check()
    page.get_by_label("Call purpose").fill("Appointment reminders for our clinics")
    page.get_by_role("button", name="Submit for remediation").click()
    page.wait_for_url("**/remediation/requests/*/")
    expect(page.get_by_test_id("request-status").first).to_have_text("Pending")
    expect(page.get_by_test_id("count")).to_have_text("2")
    expect(page.get_by_test_id("caveat")).to_contain_text(
        "may still block or label calls"
    )
    request = RemediationRequest.objects.get()
    assert list(request.numbers.values_list("e164", flat=True)) == [
        FLAGGED[0],
        FLAGGED[2],
    ]

    page.get_by_role("link", name="Requests").click()
    page_ready(page, "**/remediation/requests/")
    page.get_by_label("Status").select_option("completed")
    page.wait_for_url("**status=completed**")  # htmx swaps the list
    expect(
        page.get_by_text("No remediation requests with this status.")
    ).to_be_visible()
    page.get_by_label("Status").select_option("pending")
    page.wait_for_url("**status=pending**")  # htmx swaps the list
    expect(page.locator("[data-row-link]")).to_have_count(1)


def test_select_all_ticks_every_free_number(login, oscar, org) -> None:
    enterprise = make_enterprise(org)
    own(enterprise, FLAGGED)
    page = login(oscar)
    page.goto("/remediation/")
    page_ready(page)
    page.get_by_label("Select every number on this page").check()
    expect(page.locator('input[name="phone_numbers"]:checked')).to_have_count(3)


def test_a_rotated_webhook_secret_is_shown_once_then_only_its_end(
    login, alice, org, tmp_path
) -> None:
    """GIVEN an admin on Settings → Remediation WHEN they rotate the webhook secret
    THEN the new secret is shown once; on the next visit only '••••' and its last
    four characters are."""
    from remediation.selectors import settings_for

    page = login(alice)
    page.goto("/settings/remediation/")
    page_ready(page)
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.get_by_label("Reason (required, kept in the audit trail)").fill(
        "Receiver rebuilt"
    )
    page.once("dialog", accept)
    page.get_by_role("button", name="Rotate the webhook signing secret").click()
    shown = page.get_by_test_id("new-webhook-secret")
    expect(shown).to_be_visible()
    secret = settings_for(organisation=org).webhook_secret
    assert shown.inner_text() == secret
    assert questions == [
        "Rotate the webhook signing secret? Receivers must be updated: status "
        "webhooks are signed with the new secret from now on."
    ]
    page.screenshot(path=str(tmp_path / "rotated.png"), full_page=True)
    page.goto("/settings/remediation/")
    expect(page.get_by_test_id("webhook-secret")).to_have_text("••••" + secret[-4:])
    assert secret not in page.content()
