"""An admin sets up notifications in a real Chromium and reads what was sent."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from notifications.choices import Outcome, Trigger
from notifications.models import Notification, NotificationSettings
from tests.waiting import page_ready

pytestmark = pytest.mark.browser

LONG = "https://hooks.example.com/" + "unbroken-path-segment-" * 10


def test_an_admin_fixes_every_error_at_once_then_reads_the_sent_list(
    login, alice, org, settings, live_server
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    Notification.objects.create(
        organisation=org,
        trigger=Trigger.REMEDIATION_FAILED,
        subject="[trustconsole] Alpha: 1 remediation request(s) failed",
        body=f"Request x failed: upstream said {LONG}",
        status=Outcome.PARTIAL,
        email_status=Outcome.SENT,
        slack_status=Outcome.FAILED,
        slack_detail="HTTP 500: " + "x" * 150,
    )
    page = login(alice)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/settings/members/")
    page_ready(page, "**/settings/members/")
    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Notifications"
    ).click()
    page_ready(page, "**/settings/notifications/")
    page.get_by_label("Email recipients").fill("ops@alpha.test\nnot-an-address")
    page.get_by_label("Slack-compatible incoming webhook URL").fill(
        "https://10.0.0.5/hook"
    )
    page.get_by_label(
        "Notify when the visitor review queue holds this many items"
    ).fill("-3")
    page.get_by_role("button", name="Save").click()
    page_ready(page, "**/settings/notifications/")
    expect(page.locator("#id_email_recipients_error")).to_have_text(
        "Not an email address: not-an-address."
    )
    expect(page.locator("#id_slack_webhook_url_error")).to_contain_text("private")
    expect(page.locator("#id_queue_size_threshold_error")).to_be_visible()
    assert not NotificationSettings.objects.exists()

    page.get_by_label("Email recipients").fill("ops@alpha.test")
    page.get_by_label("Slack-compatible incoming webhook URL").fill("")
    page.get_by_label(
        "Notify when the visitor review queue holds this many items"
    ).fill("15")
    page.get_by_label("Notify when a remediation request completes or fails").check()
    page.get_by_role("button", name="Save").click()
    page_ready(page, "**/settings/notifications/")
    expect(page.get_by_role("status")).to_contain_text("Notification settings saved.")
    row = NotificationSettings.objects.get(organisation=org)
    assert row.email_recipients == ["ops@alpha.test"]
    assert row.queue_size_threshold == 15 and row.notify_remediation

    for path in ("/settings/notifications/", "/settings/notifications/sent/"):
        page.goto(path)
        page_ready(page, f"**{path}")
        expect(page.get_by_test_id("notifications")).to_contain_text("Partly sent")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, (path, width)
    page.get_by_text("1 remediation request(s) failed").click()  # opens the body
    expect(page.get_by_text("upstream said")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
