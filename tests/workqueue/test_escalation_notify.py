"""Escalating a queue item tells the people it goes to: a notification in their
console (the header's Notifications, with an unread count) and an email sent by
the worker through the notifications app's delivery."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from notifications.choices import Outcome, Trigger
from notifications.models import Notification
from tests.accounts.factories import RequestFactory
from tests.conftest import _member
from tests.notifications.conftest import smtp_server  # noqa: F401 - a fixture
from tests.waiting import page_ready, wait_until
from tests.workqueue.conftest import as_actor, flagged_item
from trustconsole.core.choices import Role
from trustconsole.workqueue import services

pytestmark = pytest.mark.django_db


def test_escalating_to_a_colleague_notifies_them_only(
    oscar_actor, alice, oscar, org, other_org
) -> None:
    item = flagged_item(org, "Pat")
    services.item_escalate(
        actor=oscar_actor, item=item, to_user=alice, reason="Threatens legal action"
    )
    [note] = Notification.objects.all()
    assert note.recipient == alice and note.trigger == Trigger.ESCALATED
    assert note.subject == (
        "[trustconsole] Alpha: oscar@alpha.test escalated the review of Pat to you"
    )
    assert "Why: Threatens legal action" in note.body
    assert note.link == f"/review/?item={item.public_id}#item-{item.public_id}"
    assert note.email_recipients == ["alice@alpha.test"]
    assert note.status == Outcome.PENDING and note.read_at is None

    client = Client()
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    assert "escalated the review of Pat to you" in page
    badge = client.get("/").content.decode()
    assert 'data-testid="nav-notifications"' in badge and ">1</span>" in badge
    opened = client.get(f"/notifications/{note.public_id}/open/")
    assert opened.status_code == 302 and opened["Location"] == note.link
    note.refresh_from_db()
    assert note.read_at is not None
    # Nobody else reads it, and the organisation's list does not show it.
    other = Client()
    other.force_login(oscar)
    assert other.get(f"/notifications/{note.public_id}/open/").status_code == 404
    assert "Pat" not in other.get("/notifications/").content.decode()
    assert "Pat" not in other.get("/settings/notifications/sent/").content.decode()


def test_escalating_to_a_role_notifies_each_of_its_members_but_the_sender(
    org, sue
) -> None:
    other_support = _member(org, "sam@alpha.test", Role.SUPPORT)
    request = RequestFactory(account__organisation=org)
    support = as_actor(sue, org, Role.SUPPORT)
    services.item_escalate(
        actor=support, item=request, to_role=Role.SUPPORT, reason="Need a second look"
    )
    [note] = Notification.objects.all()
    assert note.recipient == other_support
    assert note.subject.endswith("to support")
    assert note.link == f"/accounts/requests/{request.public_id}/"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_mails_the_colleague(
    smtp_server,  # noqa: F811
    monkeypatch,
    oscar_actor,
    alice,
    org,
    request,
) -> None:
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{smtp_server.port}")
    request.getfixturevalue("celery_worker_queue")
    item = flagged_item(org, "Pat")
    services.item_escalate(
        actor=oscar_actor, item=item, to_user=alice, reason="Threatens legal action"
    )
    wait_until(
        lambda: Notification.objects.filter(email_status=Outcome.SENT).exists(),
        timeout=60,
        what="the worker to mail the escalation",
    )
    [(sender, recipients, data)] = smtp_server.messages
    assert recipients == ["alice@alpha.test"]
    assert "oscar@alpha.test escalated the review of Pat in the visitor review " in data
    assert "Why: Threatens legal action" in data
    assert Notification.objects.get().status == Outcome.SENT


@pytest.mark.browser
def test_the_colleague_sees_it_in_the_console(login, oscar_actor, alice, org) -> None:
    """GIVEN oscar escalated Pat's review to alice WHEN alice opens the console
    THEN the header shows one unread notification; opening it lands on Pat's row
    and the count is gone."""
    item = flagged_item(org, "Pat")
    services.item_escalate(
        actor=oscar_actor, item=item, to_user=alice, reason="Threatens legal action"
    )
    page = login(alice)
    nav = page.get_by_test_id("nav-notifications")
    expect(nav.locator(".count")).to_have_text("1")
    nav.click()
    page_ready(page, "**/notifications/")
    mine = page.get_by_test_id("my-notification")
    expect(mine).to_have_attribute("data-read", "no")
    expect(mine).to_contain_text("Why: Threatens legal action")
    mine.get_by_role(
        "link",
        name="[trustconsole] Alpha: oscar@alpha.test escalated the review of "
        "Pat to you",
    ).click()
    page_ready(page, f"**/review/?item={item.public_id}#item-{item.public_id}")
    expect(page.get_by_test_id("nav-notifications").locator(".count")).to_have_count(0)
