"""An operator blocks visitors in a real Chromium: profile, queue, inbox."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.visitors.factories import ConversationFactory, MessageFactory
from tests.waiting import page_ready
from trustconsole.core.actor import Actor
from visitors import services
from visitors.choices import ReviewStatus, VisitorStatus, WeightLevel
from visitors.models import ReviewItem, Visitor

pytestmark = pytest.mark.browser


def _visitors(org) -> tuple[Visitor, Visitor]:
    actor = Actor.system_for(org, "test")
    dana = services.visitor_upsert(
        actor=actor,
        name="Dana Scully",
        emails=["dana.scully@fbi.example"],
        phones=["+12025550143"],
    )
    fox = services.visitor_upsert(
        actor=actor, name="Fox Mulder", emails=["fox@fbi.example"]
    )
    return dana, fox


def test_find_by_email_blacklist_with_confirmation_then_clear_status(
    login, oscar, org
) -> None:
    """GIVEN two visitors WHEN oscar searches Security → Visitors by email, opens the
    profile, clicks Blacklist and confirms THEN the status is Blacklisted with an
    Extreme (+70) signal; Clear status brings it back."""
    dana, _ = _visitors(org)
    page = login(oscar)
    page.get_by_role("link", name="Security → Visitors").click()
    page_ready(page, "**/security/visitors/")
    page.get_by_label("Search", exact=True).fill("dana.scully@fbi.example")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("visitor-row")).to_have_count(1)
    expect(page.locator("#visitor-table")).not_to_contain_text("Fox Mulder")
    page.get_by_role("link", name="Dana Scully").click()
    page_ready(page, f"**/security/visitors/{dana.public_id}/")
    expect(page.get_by_test_id("visitor-status").first).to_have_text("No status")

    page.get_by_role("link", name="Blacklist", exact=True).click()
    confirm = page.get_by_role("button", name="Confirm Blacklist")
    confirm.wait_for()
    dana.refresh_from_db()
    assert dana.status == VisitorStatus.NONE  # nothing happens before confirming
    page.get_by_label("Reason").fill("Threatened an agent")
    confirm.click()
    expect(page.get_by_text("Dana Scully is Blacklisted.")).to_be_visible()
    expect(page.get_by_test_id("visitor-status").first).to_have_text("Blacklisted")
    signals = page.get_by_test_id("signals")
    row = signals.locator("tr", has_text="Blacklisted visitor")
    expect(row).to_contain_text("Extreme (+70)")
    expect(page.get_by_test_id("trust-score").first).to_have_text("30")
    expect(page.get_by_test_id("audit-history")).to_contain_text("Threatened an agent")

    page.get_by_role("button", name="Clear status").click()
    expect(page.get_by_text("Status of Dana Scully cleared.")).to_be_visible()
    expect(page.get_by_test_id("visitor-status").first).to_have_text("No status")
    expect(page.get_by_test_id("trust-score").first).to_have_text("100")
    dana.refresh_from_db()
    assert dana.status == VisitorStatus.NONE


def test_blacklist_from_the_review_queue_actions_column(login, oscar, org) -> None:
    actor = Actor.system_for(org, "test")
    dana, fox = _visitors(org)
    for visitor in (dana, fox):
        services.risk_signal_add(
            actor=actor,
            visitor=visitor,
            signal_type="spam",
            level=WeightLevel.EXTREME,
        )
    page = login(oscar)
    nav = page.get_by_role("link", name=re.compile(r"^Visitor reviews"))
    expect(nav).to_contain_text("2")
    nav.click()
    page_ready(page, "**/review/")
    row = page.get_by_test_id("queue-row").filter(has_text="Dana Scully")
    expect(row).to_be_visible()
    expect(page.get_by_role("columnheader", name="Actions")).to_be_visible()
    row.get_by_role("link", name="Blacklist", exact=True).click()
    confirm = page.get_by_test_id("blacklist-confirm")
    expect(confirm).to_contain_text("Blacklist Dana Scully?")
    confirm.get_by_label("Reason").fill("Card testing")
    confirm.get_by_role("button", name="Confirm Blacklist").click()
    expect(page.get_by_text("Dana Scully is Blacklisted.")).to_be_visible()
    expect(
        page.get_by_test_id("queue-row").filter(has_text="Dana Scully")
    ).to_have_count(0)
    dana.refresh_from_db()
    assert dana.status == VisitorStatus.BLACKLISTED
    assert ReviewItem.objects.get(visitor=dana).status == ReviewStatus.BLACKLISTED
    fox_item = ReviewItem.objects.get(visitor=fox)
    assert fox_item.status == ReviewStatus.OPEN


def test_bulk_dismiss_in_the_queue(login, oscar, org) -> None:
    actor = Actor.system_for(org, "test")
    dana, fox = _visitors(org)
    for visitor in (dana, fox):
        services.risk_signal_add(
            actor=actor,
            visitor=visitor,
            signal_type="spam",
            level=WeightLevel.EXTREME,
        )
    page = login(oscar)
    page.goto("/review/")
    page_ready(page)  # "Select all" is wired by the queue's script
    page.get_by_label("Select all on this page").check()
    expect(page.locator("input[name=items]:checked")).to_have_count(2)
    # Bulk actions ask for a reason and a confirmation (the one policy).
    page.get_by_role("button", name="Dismiss selected").click()
    expect(page.locator("#queue-table .has-error .error")).to_have_text(
        "Give the reason; it is kept in the audit trail."
    )
    assert set(ReviewItem.objects.values_list("status", flat=True)) == {"open"}
    page.get_by_label("Select all on this page").check()
    page.locator("#queue-reason").fill("Both were test chats")
    questions: list[str] = []
    page.once("dialog", lambda d: (questions.append(d.message), d.accept()))
    page.get_by_role("button", name="Dismiss selected").click()
    expect(page.get_by_text("The review queue is empty.")).to_be_visible()
    assert set(ReviewItem.objects.values_list("status", flat=True)) == {"dismissed"}
    assert questions == [
        "Apply this to every selected item? Each selected review is closed at once."
    ]


def test_blacklist_visitor_from_the_inbox_profile_panel(login, oscar, org) -> None:
    dana, _ = _visitors(org)
    conversation = ConversationFactory(visitor=dana, organisation=org)
    MessageFactory(conversation=conversation, organisation=org, body="Let me in")
    page = login(oscar)
    page.get_by_role("link", name="Inbox").click()
    page_ready(page, "**/inbox/")
    page.get_by_role("link", name="Dana Scully").click()
    page_ready(page, f"**/inbox/{conversation.public_id}/")
    chat = page.get_by_test_id("chat")
    expect(chat).to_contain_text("Let me in")
    assert chat.inner_text().count("Let me in") == 1
    panel = page.get_by_test_id("profile-panel")
    expect(panel).to_be_hidden()
    page.locator("#visitor-sidebar summary").click()
    panel.get_by_role("link", name="Blacklist visitor").click()
    confirm = panel.get_by_test_id("blacklist-confirm")
    confirm.get_by_label("Reason").fill("Abuse in chat")
    confirm.get_by_role("button", name="Confirm Blacklist").click()
    expect(page.get_by_text("Dana Scully is Blacklisted.")).to_be_visible()
    sidebar = page.locator("#visitor-sidebar")
    expect(sidebar.get_by_test_id("visitor-status")).to_have_text("Blacklisted")
    dana.refresh_from_db()
    assert dana.status == VisitorStatus.BLACKLISTED


def test_the_profile_works_without_javascript(chromium, live_server, oscar, org):
    """Forms post and redirect back when scripts are off."""
    from tests.conftest import PASSWORD

    dana, _ = _visitors(org)
    context = chromium.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Email").fill(oscar.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")  # logged in before moving on
        page.goto(f"/security/visitors/{dana.public_id}/")
        page.get_by_role("link", name="Blacklist", exact=True).click()
        page.wait_for_url("**/blacklist/")
        page.get_by_role("button", name="Confirm Blacklist").click()
        # No reason: the same step again, the error beside the field.
        expect(
            page.get_by_text("Give the reason; it is kept in the audit")
        ).to_be_visible()
        page.get_by_label("Reason").fill("Threats")
        page.get_by_role("button", name="Confirm Blacklist").click()
        page.wait_for_url(f"**/security/visitors/{dana.public_id}/")
        expect(page.get_by_test_id("visitor-status").first).to_have_text("Blacklisted")
    finally:
        context.close()
