"""Global search in a real Chromium, from the keyboard only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import AccountFactory
from tests.waiting import page_ready
from trustconsole.core.actor import Actor
from visitors import services as visitor_services

pytestmark = pytest.mark.browser


@pytest.fixture
def danas(org):
    actor = Actor.system_for(org, "test")
    for name, email in [
        ("Dana Scully", "dana@fbi.example"),
        ("Dana Katz", "dk@x.example"),
    ]:
        visitor_services.visitor_upsert(actor=actor, name=name, emails=[email])
    AccountFactory(
        organisation=org, company_name="Dana Logistics", email="ops@dl.example"
    )


def test_search_opens_moves_and_opens_a_result_with_the_keyboard(
    login, oscar, danas, live_server
) -> None:
    """GIVEN two visitors and an account named Dana WHEN oscar presses "/" on the
    dashboard and types "dana" THEN the results are grouped (Visitors, Accounts);
    ↓ j j k moves through them and Enter opens the one reached."""
    page = login(oscar)
    dialog = page.get_by_test_id("global-search")
    expect(dialog).to_be_hidden()
    page.keyboard.press("/")
    expect(dialog).to_be_visible()
    expect(page.locator("#gs-q")).to_be_focused()
    page.keyboard.type("dana")
    hits = dialog.locator("[data-search-hit]")
    expect(hits).to_have_count(3)
    expect(dialog.locator("h3")).to_have_text(["Visitors", "Accounts"])
    expect(dialog.locator("[data-group=accounts]")).to_contain_text("Dana Logistics")
    page.keyboard.press("ArrowDown")
    expect(hits.nth(0)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(hits.nth(2)).to_be_focused()
    page.keyboard.press("k")
    expect(hits.nth(1)).to_be_focused()
    target = hits.nth(1).get_attribute("href")
    assert target.startswith("/security/visitors/")
    page.keyboard.press("Enter")
    page_ready(page, f"{live_server.url}{target}")


def test_ctrl_k_opens_esc_closes_and_typing_a_slash_in_a_field_does_not_open(
    login, oscar, danas
) -> None:
    """GIVEN the Visitors page WHEN oscar types "a/b" into its search field THEN
    the global search stays closed; Ctrl-K opens it, Enter opens the first result,
    and Esc closes it again."""
    page = login(oscar)
    page.goto("/security/visitors/")
    page_ready(page)
    field = page.get_by_label("Search", exact=True)
    field.focus()
    page.keyboard.type("a/b")
    expect(field).to_have_value("a/b")
    dialog = page.get_by_test_id("global-search")
    expect(dialog).to_be_hidden()
    page.locator("h1").click()
    page.keyboard.press("Control+k")
    expect(dialog).to_be_visible()
    page.keyboard.type("nobody-here")
    expect(page.get_by_test_id("search-empty")).to_contain_text("Nothing in Alpha")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("Control+k")
    page.keyboard.press("Control+a")
    page.keyboard.type("dana@fbi")
    expect(dialog.locator("[data-search-hit]")).to_have_count(1)
    page.keyboard.press("Enter")
    page_ready(page, "**/security/visitors/*/")
    expect(page.get_by_role("heading", name="Dana Scully")).to_be_visible()
