"""An operator tries a block in shadow and puts it live, from the keyboard, in a
real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready
from voicegate.models import BlockedNumber

pytestmark = pytest.mark.browser


def test_an_operator_adds_a_shadow_block_and_puts_it_live(login, oscar) -> None:
    """GIVEN oscar on Voice → Block list WHEN he adds a number with "Shadow (log
    only)" ticked THEN its row says Shadow; Put live makes it Live."""
    page = login(oscar)
    page.goto("/voice/block-list/")
    page_ready(page, "**/voice/block-list/")
    page.get_by_label("Number").fill("+14155550111")
    page.get_by_label("Reason").fill("trying a block")
    page.get_by_label("Shadow (log only)").check()
    page.get_by_role("button", name="Block number").press("Enter")
    page_ready(page, "**/voice/block-list/")
    row = page.locator("tr", has_text="+14155550111")
    expect(row).to_contain_text("Shadow")
    assert BlockedNumber.objects.get().shadow is True
    row.get_by_role("button", name="Put live").press("Enter")
    page_ready(page, "**/voice/block-list/")
    expect(page.locator("tr", has_text="+14155550111")).to_contain_text("Live")
    expect(
        page.get_by_text("+14155550111 is live: its calls are rejected")
    ).to_be_visible()
    assert BlockedNumber.objects.get().shadow is False
