"""Support's flows in a real Chromium: restore, feedback, numbers, port-away, refund."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.choices import AccountStatus, EmailKind
from accounts.models import CustomerEmail, Feedback
from tests.accounts.factories import AccountFactory
from trustconsole.core.actor import Actor
from voicegate.policy import services as policy_services
from voicegate.policy.models import DncEntry

pytestmark = pytest.mark.browser


def test_support_restores_a_blocked_account_after_case_review(login, sue, org) -> None:
    account = AccountFactory(
        organisation=org,
        company_name="Cold Call Co",
        status=AccountStatus.BLOCKED,
        restricted_services=["numbers", "sip_trunking", "sms", "voice"],
    )
    page = login(sue)
    page.goto(f"/accounts/{account.public_id}/")
    form = page.get_by_test_id("restore-form")
    form.get_by_role("button", name="Restore account").click()
    expect(page.get_by_test_id("restore-form").locator(".error")).to_have_text(
        "This field is required."
    )
    page.get_by_test_id("restore-form").get_by_label("Case review outcome").fill(
        "Robocalls stopped; traffic reviewed"
    )
    page.get_by_test_id("restore-form").get_by_role("button").click()
    expect(
        page.get_by_text("Account restored; the customer was emailed.")
    ).to_be_visible()
    expect(page.get_by_test_id("account-status").first).to_have_text("Active")
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert CustomerEmail.objects.filter(
        account=account, kind=EmailKind.RESTORED
    ).exists()
    expect(page.locator(".timeline")).to_contain_text("restored Cold Call Co")


def test_feedback_numbers_port_away_and_refund_on_a_closed_account(
    login, sue, org
) -> None:
    """GIVEN a permanently blocked account with no numbers WHEN support works it in
    the browser THEN port-away is offered only once numbers are added, a bad number
    and a refund over the balance are refused beside their fields, and feedback is
    recorded under the subject line without changing the account."""
    account = AccountFactory(
        organisation=org,
        company_name="Prize Winner SMS",
        email="win@prize.example",
        status=AccountStatus.CLOSED,
        balance=Decimal("84.50"),
    )
    page = login(sue)
    page.goto(f"/accounts/{account.public_id}/")
    expect(page.get_by_test_id("port-away-form")).to_have_count(0)
    expect(
        page.get_by_text("The account owns no numbers, so there is nothing")
    ).to_be_visible()

    numbers = page.get_by_test_id("account-numbers")
    numbers.get_by_label("Numbers to add").fill("+12025550143\n555-CALL-NOW")
    numbers.get_by_role("button", name="Add numbers").click()
    expect(page.get_by_test_id("account-numbers").locator(".error")).to_contain_text(
        "'555-CALL-NOW' is not a valid phone number"
    )
    page.get_by_test_id("account-numbers").get_by_label("Numbers to add").fill(
        "+12025550143, +12025550178"
    )
    page.get_by_test_id("account-numbers").get_by_role(
        "button", name="Add numbers"
    ).click()
    expect(page.get_by_text("Numbers added.")).to_be_visible()
    page.get_by_role("button", name="Remove +12025550178").click()
    # The confirmation asks why before the number goes (the one policy).
    confirm = page.get_by_test_id("confirm-page")
    expect(confirm).to_contain_text("Remove +12025550178 from")
    confirm.get_by_label("Reason (required, kept in the audit trail)").fill(
        "Ported to another carrier"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    confirm.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("+12025550178 removed.")).to_be_visible()
    expect(page.get_by_test_id("account-numbers").locator("li")).to_have_count(1)
    expect(page.get_by_test_id("port-away-form")).to_contain_text("For 1 number")

    refund = page.get_by_test_id("refund-form")
    refund.get_by_label("Amount").fill("100")
    refund.get_by_role("button", name="Record").click()
    expect(page.get_by_test_id("refund-form").locator(".error")).to_have_text(
        "The unused balance is 84.50; ask for no more."
    )

    feedback = page.get_by_test_id("feedback-form")
    expect(feedback).to_contain_text(
        "Feedback: win@prize.example <ticket id> Blocked Account"
    )
    feedback.get_by_label("Chat or ticket id").fill("T 1042")
    feedback.get_by_role("button", name="Record feedback").click()
    errors = page.get_by_test_id("feedback-form").locator(".error")
    expect(errors).to_have_count(2)  # both fields at once
    form = page.get_by_test_id("feedback-form")
    form.get_by_label("Chat or ticket id").fill("T-1042")
    form.get_by_label("Feedback").fill("Say which rule blocked us.")
    form.get_by_role("button", name="Record feedback").click()
    expect(page.get_by_text("Feedback recorded. It is not an appeal")).to_be_visible()
    expect(page.get_by_test_id("feedback-list")).to_contain_text(
        "Feedback: win@prize.example T-1042 Blocked Account"
    )
    assert Feedback.objects.get().account == account
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED


def test_a_bad_do_not_call_number_is_shown_beside_the_field(login, oscar, org) -> None:
    dnc_list = policy_services.dnc_list_create(
        actor=Actor.system_for(org, "test"), name="Own", kind="internal", country="US"
    )
    page = login(oscar)
    page.goto(f"/voice/policy/lists/{dnc_list.public_id}/")
    form = page.get_by_test_id("dnc-add")
    form.get_by_label("Number").fill("555-CALL-NOW")
    form.get_by_role("button", name="Add").click()
    expect(page.get_by_test_id("dnc-add").locator(".error")).to_contain_text(
        "555-CALL-NOW"
    )
    expect(page.get_by_test_id("dnc-add").get_by_label("Number")).to_have_value(
        "555-CALL-NOW"
    )
    assert not DncEntry.objects.exists()
