"""Taking one number off a Do-Not-Call list in a real Chromium asks for the reason
and the confirmation, like every other confirmed action."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry
from voicegate.policy import services
from voicegate.policy.models import DncEntry

pytestmark = pytest.mark.browser
REASON = "Reason (required, kept in the audit trail)"


def test_removing_a_number_asks_why_then_confirms(login, oscar, org) -> None:
    """GIVEN a list with a number WHEN oscar removes it without a reason THEN the
    confirmation page asks for one (nothing removed); with the reason he is asked
    the question and, once he accepts, the number is off the list and the reason
    is in the audit entry."""
    actor = Actor.system_for(org, "test")
    dnc_list = services.dnc_list_create(actor=actor, name="Own list")
    services.dnc_number_add(actor=actor, dnc_list=dnc_list, number="+14155550123")
    page = login(oscar)
    page.goto(f"/voice/policy/lists/{dnc_list.public_id}/")
    page_ready(page)
    form = page.get_by_test_id("dnc-remove")
    form.get_by_label("Number").fill("+1 415 555 0123")
    form.get_by_role("button", name="Remove").click()
    confirm = page.get_by_test_id("confirm-page")
    expect(confirm).to_contain_text("Remove +1 415 555 0123 from Own list?")
    expect(confirm.locator(".error")).to_have_text(
        "Give the reason; it is kept in the audit trail."
    )
    assert DncEntry.objects.count() == 1

    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    confirm.get_by_label(REASON).fill("Customer opted in again")
    page.once("dialog", accept)
    confirm.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("+14155550123 was taken off the list.")).to_be_visible()
    assert questions == [
        "Remove +1 415 555 0123 from Own list? Calls to it are no longer refused by "
        "this list."
    ]
    assert not DncEntry.objects.exists()
    entry = AuditEntry.objects.get(action="policy.dnc_number_remove")
    assert entry.reason == "Customer opted in again"
