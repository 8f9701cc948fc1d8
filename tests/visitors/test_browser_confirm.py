"""One confirmation policy: every Blacklist asks for a reason and a confirmation,
with the same words, on the profile, in the Inbox sidebar, a queue row and in bulk."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.visitors.factories import ConversationFactory, MessageFactory
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry
from visitors import services
from visitors.choices import VisitorStatus, WeightLevel
from visitors.models import Visitor

pytestmark = pytest.mark.browser

ERROR = "Give the reason; it is kept in the audit trail."


def _flagged(org, name: str) -> Visitor:
    actor = Actor.system_for(org, "test")
    visitor = services.visitor_upsert(
        actor=actor, name=name, emails=[f"{name}@x.example"]
    )
    services.risk_signal_add(
        actor=actor, visitor=visitor, signal_type="spam", level=WeightLevel.EXTREME
    )
    return visitor


def _words(confirm) -> tuple[str, str, str]:
    """What the step says, apart from who is named."""
    return (
        confirm.locator("p").nth(1).inner_text(),
        confirm.locator("label").inner_text(),
        confirm.get_by_role("button").inner_text(),
    )


def _refuse_then_confirm(page, confirm, reason: str, *, visitors: list[Visitor]):
    """Confirming without a reason changes nothing and says why next to the field;
    with a reason the Blacklist happens."""
    confirm.get_by_role("button", name="Confirm Blacklist").click()
    expect(confirm.locator(".has-error .error")).to_have_text(ERROR)
    for visitor in visitors:
        visitor.refresh_from_db()
        assert visitor.status != VisitorStatus.BLACKLISTED
    confirm.get_by_label("Reason").fill(reason)
    confirm.get_by_role("button", name="Confirm Blacklist").click()
    expect(
        page.get_by_text("Blacklisted.").or_(page.get_by_text("Blacklist: "))
    ).to_be_visible()
    for visitor in visitors:
        visitor.refresh_from_db()
        assert visitor.status == VisitorStatus.BLACKLISTED
        entry = AuditEntry.objects.get(
            action="visitor.blacklist", target_label=visitor.name
        )
        assert entry.reason == reason


def test_every_blacklist_asks_the_same_reason_and_confirmation(
    login, oscar, org
) -> None:
    """GIVEN flagged visitors WHEN oscar blacklists from the profile, the Inbox
    sidebar, a queue row and in bulk THEN each asks the same words, refuses an empty
    reason next to the field, and acts only once confirmed with a reason."""
    profile_v, inbox_v, row_v, bulk_a, bulk_b = (
        _flagged(org, n) for n in ("Pat", "Ivy", "Rex", "Ann", "Bo")
    )
    conversation = ConversationFactory(visitor=inbox_v, organisation=org)
    MessageFactory(conversation=conversation, organisation=org, body="hello")
    page = login(oscar)
    seen = []

    # Profile.
    page.goto(f"/security/visitors/{profile_v.public_id}/")
    page.get_by_role("link", name="Blacklist", exact=True).click()
    confirm = page.get_by_test_id("blacklist-confirm")
    expect(confirm).to_contain_text("Blacklist Pat?")
    seen.append(_words(confirm))
    _refuse_then_confirm(page, confirm, "profile reason", visitors=[profile_v])

    # Inbox sidebar.
    page.goto(f"/inbox/{conversation.public_id}/")
    page.locator("#visitor-sidebar summary").click()
    page.get_by_role("link", name="Blacklist visitor").click()
    confirm = page.get_by_test_id("blacklist-confirm")
    expect(confirm).to_contain_text("Blacklist Ivy?")
    seen.append(_words(confirm))
    _refuse_then_confirm(page, confirm, "inbox reason", visitors=[inbox_v])

    # A queue row.
    page.goto("/review/")
    row = page.get_by_test_id("queue-row").filter(has_text="Rex")
    row.get_by_role("link", name="Blacklist", exact=True).click()
    confirm = page.get_by_test_id("blacklist-confirm")
    expect(confirm).to_contain_text("Blacklist Rex?")
    seen.append(_words(confirm))
    _refuse_then_confirm(page, confirm, "row reason", visitors=[row_v])

    # Bulk.
    page.goto("/review/")
    expect(page.get_by_test_id("queue-row")).to_have_count(2)
    page.get_by_label("Select all on this page").check()
    page.get_by_role("button", name="Blacklist selected").click()
    confirm = page.get_by_test_id("blacklist-confirm")
    expect(confirm).to_contain_text("Blacklist 2 visitors?")
    expect(confirm.locator("ul.names")).to_contain_text("Ann")
    expect(confirm.locator("ul.names")).to_contain_text("Bo")
    seen.append(_words(confirm))
    _refuse_then_confirm(page, confirm, "bulk reason", visitors=[bulk_a, bulk_b])

    assert len(set(seen)) == 1, seen
    assert seen[0][2] == "Confirm Blacklist"


def test_cancel_leaves_the_visitor_as_they_were(login, oscar, org) -> None:
    visitor = _flagged(org, "Kim")
    page = login(oscar)
    page.goto("/review/")
    page.get_by_test_id("queue-row").get_by_role("link", name="Blacklist").click()
    confirm = page.get_by_test_id("blacklist-confirm")
    confirm.get_by_role("link", name="Cancel").click()
    expect(page.get_by_test_id("blacklist-confirm")).to_have_count(0)
    expect(page.get_by_test_id("queue-row")).to_have_count(1)
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.FLAGGED
