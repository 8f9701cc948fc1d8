"""Shared queues in a real Chromium: two people claim and escalate, notes, keys,
Next item, and Blacklist from a row's key asks for its reason."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from playwright.sync_api import expect

from tests.accounts.factories import RequestFactory
from tests.conftest import PASSWORD, _member
from tests.waiting import page_ready
from tests.workqueue.conftest import flagged_item
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry
from trustconsole.workqueue import selectors
from visitors.choices import ReviewStatus, VisitorStatus

CURRENT = re.compile(r"\bis-current\b")


def _oldest_first(*items) -> None:
    for n, item in enumerate(items):
        item.created_at = timezone.now() - dt.timedelta(hours=10 - n)
        item.save(update_fields=["created_at"])


def _second_login(chromium, live_server, user):
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page_ready(page, f"{live_server.url}/")
    return context, page


def _row(page, name: str):
    return page.get_by_test_id("queue-row").filter(has_text=name)


def test_two_operators_claim_and_escalate_an_item(
    login, oscar, alice, org, chromium, live_server
) -> None:
    """GIVEN two flagged visitors WHEN oscar claims Pat with the keyboard THEN olga
    sees who holds it and cannot take it; oscar escalates it to alice, who then
    holds it and reads why."""
    olga = _member(org, "olga@alpha.test", Role.OPERATOR)
    pat, rex = flagged_item(org, "Pat"), flagged_item(org, "Rex")
    _oldest_first(pat, rex)
    page = login(oscar)
    page.goto("/review/")
    page_ready(page)
    page.keyboard.press("j")
    expect(_row(page, "Pat")).to_have_class(CURRENT)
    page.keyboard.press("c")
    page_ready(page, f"**/review/#item-{pat.public_id}")
    expect(_row(page, "Pat").get_by_test_id("holder")).to_have_text(
        "Held by oscar@alpha.test (you)"
    )
    expect(_row(page, "Rex").get_by_test_id("holder")).to_have_text("Unclaimed")

    context, other = _second_login(chromium, live_server, olga)
    try:
        other.goto("/review/")
        page_ready(other)
        expect(_row(other, "Pat").get_by_test_id("holder")).to_have_text(
            "Held by oscar@alpha.test"
        )
        expect(_row(other, "Pat").get_by_role("button", name="Claim")).to_have_count(0)
        other.keyboard.press("j")
        other.keyboard.press("c")  # Pat's row has no Claim for olga: nothing happens
        expect(_row(other, "Rex").get_by_role("button", name="Claim")).to_be_visible()
    finally:
        context.close()
    assert selectors.assignment_of(pat).assignee == oscar

    # The highlighted row (from the address) escalates with "e".
    expect(_row(page, "Pat")).to_have_class(CURRENT)
    page.keyboard.press("e")
    row = _row(page, "Pat")
    expect(row.get_by_label("Colleague")).to_be_focused()
    row.get_by_label("Colleague").select_option("alice@alpha.test")
    row.get_by_label("Why").fill("Threatens legal action")
    row.get_by_role("button", name="Escalate", exact=True).click()
    page_ready(page, f"**/review/#item-{pat.public_id}")
    expect(_row(page, "Pat").get_by_test_id("holder")).to_have_text(
        "Held by alice@alpha.test"
    )

    context, admin = _second_login(chromium, live_server, alice)
    try:
        admin.goto("/review/")
        page_ready(admin)
        row = _row(admin, "Pat")
        expect(row.get_by_test_id("holder")).to_have_text(
            "Held by alice@alpha.test (you)"
        )
        expect(row.get_by_test_id("escalation")).to_have_text(
            "Escalated by oscar@alpha.test: Threatens legal action"
        )
    finally:
        context.close()
    actions = list(
        AuditEntry.objects.filter(action__startswith="queue.")
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert actions == [
        ("queue.claim", "oscar@alpha.test"),
        ("queue.escalate", "oscar@alpha.test"),
    ]


def test_notes_keys_and_next_item(login, oscar, org) -> None:
    """GIVEN three flagged visitors WHEN oscar works the queue from the keyboard
    THEN typing a note fires no key, w and d act on the highlighted row, ? lists
    the keys, Next item claims the oldest unclaimed one and b asks for a reason."""
    ann, bo, cy = (flagged_item(org, n) for n in ("Ann", "Bo", "Cy"))
    _oldest_first(ann, bo, cy)
    page = login(oscar)
    page.goto("/review/")
    page_ready(page)

    page.keyboard.press("?")
    help_box = page.get_by_test_id("keys-help")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("Blacklist (asks for a reason)")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()

    page.keyboard.press("j")
    page.keyboard.press("n")
    note = _row(page, "Ann").get_by_label("Internal note")
    expect(note).to_be_focused()
    # Every letter here is a key elsewhere (b, d, w, c, n, j, k, e): none fires.
    page.keyboard.type("Called back, will wire docs; check bank")
    page.keyboard.press("Enter")
    page_ready(page, f"**/review/#item-{ann.public_id}")
    expect(_row(page, "Ann").get_by_test_id("note")).to_contain_text(
        "Called back, will wire docs; check bank"
    )
    ann.refresh_from_db()
    assert ann.status == ReviewStatus.OPEN
    assert not AuditEntry.objects.filter(action="visitor.blacklist").exists()

    expect(_row(page, "Ann")).to_have_class(CURRENT)
    page.keyboard.press("w")
    expect(_row(page, "Ann").get_by_test_id("resolution")).to_have_text("Whitelisted")
    page.keyboard.press("j")
    expect(_row(page, "Bo")).to_have_class(CURRENT)
    page.keyboard.press("d")
    expect(_row(page, "Bo").get_by_test_id("resolution")).to_have_text("Dismissed")

    page.get_by_test_id("next-item").click()
    page_ready(page, re.compile(rf"/review/\?item={cy.public_id}#item-"))
    expect(_row(page, "Cy").get_by_test_id("holder")).to_have_text(
        "Held by oscar@alpha.test (you)"
    )
    expect(_row(page, "Cy")).to_have_class(CURRENT)
    page.keyboard.press("b")
    confirm = page.get_by_test_id("blacklist-confirm")
    expect(confirm).to_contain_text("Blacklist Cy?")
    confirm.get_by_role("button", name="Confirm Blacklist").click()
    expect(confirm.locator(".has-error .error")).to_have_text(
        "Give the reason; it is kept in the audit trail."
    )
    cy.visitor.refresh_from_db()
    assert cy.visitor.status != VisitorStatus.BLACKLISTED
    confirm.get_by_label("Reason").fill("Gift card scam")
    confirm.get_by_role("button", name="Confirm Blacklist").click()
    expect(page.get_by_text("Cy is Blacklisted.")).to_be_visible()
    assert AuditEntry.objects.get(action="visitor.blacklist").reason == "Gift card scam"


def test_support_claims_from_the_account_queue(login, sue, org) -> None:
    request = RequestFactory(account__organisation=org, company_name="Acme Ltd")
    page = login(sue)
    page.goto("/accounts/reviews/")
    page_ready(page)
    page.keyboard.press("j")
    page.keyboard.press("c")
    page_ready(page, f"**/accounts/reviews/#item-{request.public_id}")
    row = _row(page, "Acme Ltd")
    expect(row.get_by_test_id("holder")).to_have_text("Held by sue@alpha.test (you)")
    page.keyboard.press("n")
    page.keyboard.type("Waiting for the EIN letter")
    page.keyboard.press("Enter")
    expect(_row(page, "Acme Ltd").get_by_test_id("note")).to_contain_text(
        "Waiting for the EIN letter"
    )
    page.goto(f"/accounts/{request.account.public_id}/")
    expect(page.get_by_test_id("notes")).to_contain_text("Waiting for the EIN letter")
