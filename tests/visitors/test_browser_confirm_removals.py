"""Lifting an IP block and taking an identifier off a visitor in a real Chromium
ask for the reason and the confirmation, like every other confirmed action."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry
from visitors import services
from visitors.models import IPBlock

pytestmark = pytest.mark.browser
REASON = "Reason (required, kept in the audit trail)"


def answering(page: Any) -> list[str]:
    """Accept the next confirm() dialog, keeping the question it asked."""
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    return questions


def test_lifting_an_ip_block_asks_why_then_confirms(login, oscar, org) -> None:
    """GIVEN a blocked range WHEN oscar presses Remove without a reason THEN the
    confirmation page asks for one (the block stays); with the reason he is asked
    the question and, once he accepts, the block is lifted with the reason kept."""
    actor = Actor.system_for(org, "test")
    services.ip_block_create(actor=actor, network="198.51.100.0/24", reason="abuse")
    page = login(oscar)
    page.goto("/security/ip-blocks/")
    page_ready(page)
    page.get_by_role("button", name="Remove the block of 198.51.100.0/24").click()
    confirm = page.get_by_test_id("confirm-page")
    expect(confirm).to_contain_text("Remove the block of 198.51.100.0/24?")
    expect(confirm.locator(".error")).to_have_text(
        "Give the reason; it is kept in the audit trail."
    )
    assert IPBlock.objects.count() == 1

    confirm.get_by_label(REASON).fill("Abuse stopped")
    questions = answering(page)
    confirm.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("198.51.100.0/24 is no longer blocked.")).to_be_visible()
    assert questions == [
        "Remove the block of 198.51.100.0/24? Requests from it are no longer refused."
    ]
    assert not IPBlock.objects.exists()
    assert AuditEntry.objects.get(action="ip_block.remove").reason == "Abuse stopped"


def test_removing_an_identifier_asks_why_then_confirms(login, oscar, org) -> None:
    actor = Actor.system_for(org, "test")
    visitor = services.visitor_upsert(
        actor=actor, name="Eve", emails=["eve@example.com"]
    )
    page = login(oscar)
    page.goto(f"/security/visitors/{visitor.public_id}/")
    page_ready(page)
    page.get_by_role("button", name="Remove eve@example.com").click()
    confirm = page.get_by_test_id("confirm-page")
    expect(confirm).to_contain_text("Remove eve@example.com from Eve?")
    assert visitor.identifiers.filter(value="eve@example.com").exists()

    # Cancelling the question sends nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    confirm.get_by_label(REASON).fill("Not her address")
    confirm.get_by_role("button", name="Remove").click()
    expect(confirm).to_be_visible()
    assert visitor.identifiers.filter(value="eve@example.com").exists()

    questions = answering(page)
    confirm.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Identifier removed.")).to_be_visible()
    assert questions == [
        "Remove eve@example.com from Eve? The visitor is no longer recognised by it."
    ]
    assert not visitor.identifiers.filter(value="eve@example.com").exists()
    entry = AuditEntry.objects.get(action="visitor.identifier_remove")
    assert entry.reason == "Not her address"
