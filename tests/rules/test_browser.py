"""An admin writes a rule in a real Chromium: inline check, save, test with an event."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready
from trustconsole.rules.models import Rule

pytestmark = pytest.mark.browser


def test_an_admin_writes_checks_saves_and_tests_a_rule_with_the_keyboard(
    login, alice, live_server
) -> None:
    """GIVEN alice on Settings → Rules WHEN she types a condition with a mistake
    THEN the line and column show beside it; fixed and saved in shadow, the rule
    runs on a pasted event and its trace says it matched."""
    page = login(alice)
    page.goto("/settings/rules/")
    page_ready(page, "**/settings/rules/")
    page.get_by_test_id("rule-new").click()
    page_ready(page, "**/settings/rules/new/")
    page.get_by_label("Name").fill("Withheld at night")
    condition = page.locator("#id_condition")
    condition.focus()
    page.keyboard.type('caller.anonymous && local.hour <= "5"')
    expect(page.get_by_test_id("condition-error")).to_contain_text(
        "Line 1, column 21: Cannot compare int with string"
    )
    condition.fill("")
    page.keyboard.type("caller.anonymous && local.hour <= 5")
    expect(page.get_by_test_id("condition-ok")).to_be_visible()
    page.get_by_label("Reject the call").check()
    page.get_by_test_id("rule-save").press("Enter")
    rule_url = f"{live_server.url}/settings/rules/"
    page.wait_for_url(f"{rule_url}*/")
    expect(page.get_by_role("heading", level=2)).to_contain_text("Withheld at night")
    rule = Rule.objects.filter(builtin="").get()
    assert (rule.mode, rule.current_version.effect) == ("shadow", {"reject": True})
    page.get_by_label("Event (JSON)").fill(
        '{"caller": {"number": "anonymous"}, "local": {"hour": 3, "weekday": 6}}'
    )
    page.get_by_test_id("test-run").press("Enter")
    expect(page.get_by_test_id("test-outcome")).to_contain_text("Decides: draft")
    expect(page.get_by_test_id("test-trace")).to_contain_text("yes")
    page.get_by_test_id("mode-live").press("Enter")
    expect(page.get_by_role("heading", level=2)).to_contain_text("Live")
    page.goto("/settings/rules/")
    row = page.get_by_role("row").filter(has_text=rule.name)
    expect(row.get_by_test_id("rule-mode")).to_have_text("Live (acts)")
