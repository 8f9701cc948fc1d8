"""The dashboard in a real Chromium: seeded numbers, charts, links, layout."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.core.dashboard_seed import assert_matches, seed_dashboard

pytestmark = pytest.mark.browser


def test_the_dashboard_shows_the_seeded_numbers_and_its_json_agrees(
    login, bob, org, tmp_path
) -> None:
    """GIVEN calls, blocks, queue items, accounts, remediation outcomes and refusals
    WHEN a viewer opens the dashboard THEN the tiles and charts show those numbers,
    the JSON behind them equals what the rows imply, and a bar opens its list."""
    expected = seed_dashboard(org)
    page = login(bob)
    expect(page.get_by_test_id("tile-review-queue")).to_contain_text("2")
    expect(page.get_by_test_id("tile-review-queue")).to_contain_text(
        "oldest waiting 3 hours"
    )
    expect(page.get_by_test_id("tile-overdue")).to_contain_text("1")
    expect(page.get_by_test_id("tile-fail-mode")).to_contain_text("open 1, closed 0")
    calls = page.get_by_test_id("chart-calls")
    expect(calls.locator("svg")).to_be_visible()
    expect(calls).to_contain_text("Rejected: 6")
    expect(calls).to_contain_text("Allowed: 6")

    response = page.request.get("/api/v1/dashboard/")
    assert response.ok
    assert_matches(response.json(), expected)

    for width, height in ((1366, 768), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        expect(page.get_by_test_id("chart-outbound").locator("svg")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(tmp_path / f"dashboard-{width}.png"), full_page=True)

    page.get_by_test_id("chart-trust-bands").locator("svg a").first.click()
    page.wait_for_url("**/security/visitors/?band=danger")
    expect(page.get_by_test_id("visitor-row")).to_have_count(2)
