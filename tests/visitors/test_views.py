"""Visitor pages: list, profile, status actions, review queue, Inbox, IP blocks."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.visitors.factories import (
    ConversationFactory,
    MessageFactory,
    VisitorFactory,
)
from trustconsole.core.actor import Actor
from visitors import services
from visitors.choices import ReviewStatus, VisitorStatus, WeightLevel
from visitors.models import IPBlock, ReviewItem, RiskSignal
from visitors.profile import panel_register, panel_unregister

HX = {"HX-Request": "true"}


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _flag(org, name: str):
    actor = Actor.system_for(org, "test")
    visitor = services.visitor_upsert(
        actor=actor, name=name, emails=[f"{name.lower()}@example.com"]
    )
    services.risk_signal_add(
        actor=actor, visitor=visitor, signal_type="spam", level=WeightLevel.EXTREME
    )
    visitor.refresh_from_db()
    return visitor, ReviewItem.objects.get(visitor=visitor)


def test_the_list_searches_filters_and_keeps_its_queries_bounded(
    org, bob, django_assert_max_num_queries
) -> None:
    actor = Actor.system_for(org, "test")
    for n in range(12):
        services.visitor_upsert(
            actor=actor, name=f"Guest {n}", emails=[f"guest{n}@example.com"]
        )
    dana = services.visitor_upsert(
        actor=actor, name="Dana Scully", emails=["dana@fbi.example"]
    )
    services.visitor_blacklist(actor=actor, visitor=dana, reason="x")
    client = logged_in(bob)
    with django_assert_max_num_queries(14):
        html = client.get("/security/visitors/").content.decode()
    assert "Security → Visitors" in html and "Guest 11" in html
    html = client.get("/security/visitors/?q=DANA@fbi.example").content.decode()
    assert "Dana Scully" in html and "Guest 1" not in html
    html = client.get("/security/visitors/?status=blacklisted").content.decode()
    assert "Dana Scully" in html and "Guest 1" not in html
    assert "Blacklisted" in html
    html = client.get("/security/visitors/?score_min=0&score_max=30").content.decode()
    assert "Dana Scully" in html and "Guest 1" not in html
    partial = client.get("/security/visitors/?q=guest", headers=HX).content.decode()
    assert "<html" not in partial and 'id="visitor-table"' in partial


def test_a_bad_score_range_is_a_form_error(org, bob) -> None:
    response = logged_in(bob).get("/security/visitors/?score_min=80&score_max=20")
    assert "Must be at least the lower bound" in response.content.decode()


def test_the_profile_explains_the_score_and_shows_everything(
    org, bob, django_assert_max_num_queries
) -> None:
    visitor, _ = _flag(org, "Mallory")
    conversation = ConversationFactory(visitor=visitor, organisation=org)
    MessageFactory(conversation=conversation, organisation=org)
    client = logged_in(bob)
    # + 2: internal notes and the trust score over time (one query each).
    with django_assert_max_num_queries(27):
        html = client.get(f"/security/visitors/{visitor.public_id}/").content.decode()
    assert "Trust score" in html and "Spam" in html and "−70" in html
    assert "mallory@example.com" in html
    assert "Audit history" in html and "risk_signal.add" in html
    assert "Blocked attempts" in html
    # bob is a viewer: he reads, and is offered no action.
    assert ">Blacklist<" not in html and "Clear status" not in html


def test_blacklist_asks_for_confirmation_then_acts(org, oscar) -> None:
    visitor = VisitorFactory(organisation=org, name="Eve")
    client = logged_in(oscar)
    url = f"/security/visitors/{visitor.public_id}/blacklist/"
    confirm = client.get(url).content.decode()
    assert "Confirm Blacklist" in confirm and "Extreme" in confirm
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE
    # A post that skipped the confirmation only shows it.
    response = client.post(url, {"reason": "threats"})
    assert "Confirm Blacklist" in response.content.decode()
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE
    response = client.post(url, {"reason": "threats", "confirmed": "yes"})
    assert response.status_code == 302
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.BLACKLISTED
    page = client.get(response["Location"]).content.decode()
    assert "Eve is Blacklisted." in page and "Blacklisted visitor" in page
    assert page.count("Eve is Blacklisted.") == 1  # the flash message, once
    assert "Extreme (+70)" in page


def test_htmx_actions_answer_with_the_profile_fragment(org, oscar) -> None:
    visitor = VisitorFactory(organisation=org, name="Eve")
    client = logged_in(oscar)
    base = f"/security/visitors/{visitor.public_id}"
    fragment = client.get(f"{base}/blacklist/", headers=HX).content.decode()
    assert "<html" not in fragment and "Confirm Blacklist" in fragment
    # Without a reason the same confirmation comes back, the error by the field.
    again = client.post(f"{base}/blacklist/", {"confirmed": "yes"}, headers=HX)
    assert again["HX-Retarget"] == "#status-actions"
    assert "Give the reason; it is kept in the audit trail." in again.content.decode()
    response = client.post(
        f"{base}/blacklist/", {"reason": "x", "confirmed": "yes"}, headers=HX
    )
    assert response["HX-Retarget"] == "#profile"
    html = response.content.decode()
    assert html.startswith('<div id="profile">') and "Clear status" in html
    html = client.post(f"{base}/clear-status/", {}, headers=HX).content.decode()
    assert html.count("Status of Eve cleared.") == 1
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE and visitor.trust_score == 100


def test_a_viewer_cannot_post_actions(org, bob) -> None:
    visitor = VisitorFactory(organisation=org)
    client = logged_in(bob)
    base = f"/security/visitors/{visitor.public_id}"
    assert client.post(f"{base}/blacklist/", {"reason": "x"}).status_code == 403
    assert client.post(f"{base}/whitelist/").status_code == 403
    assert client.get(f"{base}/blacklist/").status_code == 403
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE


def test_another_organisations_visitor_is_a_404(org, other_org, charlie) -> None:
    visitor = VisitorFactory(organisation=org)
    client = logged_in(charlie)
    assert client.get(f"/security/visitors/{visitor.public_id}/").status_code == 404
    post = client.post(f"/security/visitors/{visitor.public_id}/blacklist/")
    assert post.status_code == 404


def test_signals_are_added_and_removed_from_the_profile(org, oscar) -> None:
    visitor = VisitorFactory(organisation=org)
    client = logged_in(oscar)
    base = f"/security/visitors/{visitor.public_id}"
    client.post(
        f"{base}/signals/", {"signal_type": "spam", "level": "high", "note": "links"}
    )
    visitor.refresh_from_db()
    assert visitor.trust_score == 60
    signal = RiskSignal.objects.get()
    client.post(f"/security/signals/{signal.public_id}/remove/", {"reason": "ok"})
    visitor.refresh_from_db()
    assert visitor.trust_score == 100
    bad = client.post(f"{base}/signals/", {"signal_type": "spam", "level": "huge"})
    assert "Weight:" in client.get(bad["Location"]).content.decode()


def test_identifiers_are_added_with_normalisation_errors_shown(org, oscar) -> None:
    visitor = VisitorFactory(organisation=org)
    client = logged_in(oscar)
    base = f"/security/visitors/{visitor.public_id}"
    client.post(f"{base}/identifiers/", {"kind": "phone", "value": "202 555 0143"})
    assert visitor.identifiers.get().value == "+12025550143"
    response = client.post(
        f"{base}/identifiers/", {"kind": "phone", "value": "12ab"}, follow=True
    )
    assert "&#x27;12ab&#x27; is not" in response.content.decode()
    assert visitor.identifiers.count() == 1


def test_a_registered_panel_appears_on_the_profile(org, bob, settings) -> None:
    """GIVEN a panel registered the way the voice app registers "Calls" WHEN the
    profile is opened THEN the panel's template is rendered with its context."""

    def calls_panel(*, visitor, request):
        if visitor.name == "No panel":
            return None
        return "visitors/tests/_panel.html", {"calls": ["+12025550143 refused"]}

    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [
        *templates[0]["DIRS"],
        Path(__file__).parent / "panel_templates",
    ]
    settings.TEMPLATES = templates
    panel_register(calls_panel)
    try:
        shown = VisitorFactory(organisation=org, name="Caller")
        hidden = VisitorFactory(organisation=org, name="No panel")
        client = logged_in(bob)
        html = client.get(f"/security/visitors/{shown.public_id}/").content.decode()
        assert "<h2>Calls</h2>" in html and "+12025550143 refused" in html
        assert "Caller" in html
        html = client.get(f"/security/visitors/{hidden.public_id}/").content.decode()
        assert "<h2>Calls</h2>" not in html
    finally:
        panel_unregister(calls_panel)


def test_the_queue_is_oldest_first_with_a_count_in_the_navigation(
    org, bob, django_assert_max_num_queries
) -> None:
    _flag(org, "First")
    for n in range(5):
        _flag(org, f"Later{n}")
    client = logged_in(bob)
    with django_assert_max_num_queries(12):
        html = client.get("/review/").content.decode()
    assert html.index("First") < html.index("Later0")
    assert 'aria-label="6 waiting"' in html
    assert "Actions" not in html  # a viewer gets no Actions column


def test_queue_actions_work_per_row_in_bulk_and_in_place(org, oscar) -> None:
    a, item_a = _flag(org, "Alpha")
    b, item_b = _flag(org, "Bravo")
    c, item_c = _flag(org, "Charlie")
    client = logged_in(oscar)
    html = client.get("/review/").content.decode()
    assert "Actions" in html and "Blacklist selected" in html
    # A row's Blacklist without the confirmation only shows the confirmation.
    confirm = client.post(
        f"/review/{item_a.public_id}/act/", {"action": "blacklist"}, headers=HX
    )
    assert confirm["HX-Retarget"] == "#queue-confirm"
    assert "Confirm Blacklist" in confirm.content.decode()
    item_a.refresh_from_db()
    assert item_a.is_open
    done = client.post(
        f"/review/{item_a.public_id}/blacklist/",
        {"reason": "fraud", "confirmed": "yes"},
        headers=HX,
    )
    assert done["HX-Retarget"] == "#queue-table"
    assert "Alpha is Blacklisted." in done.content.decode()
    response = client.post(
        "/review/bulk/",
        {"items": [str(item_b.public_id), str(item_c.public_id)], "action": "dismiss"},
    )
    # A bulk action needs its reason: nothing changes, the error is beside the field.
    assert response.status_code == 400
    assert (
        "Give the reason; it is kept in the audit trail." in response.content.decode()
    )
    item_b.refresh_from_db()
    assert item_b.is_open
    response = client.post(
        "/review/bulk/",
        {
            "items": [str(item_b.public_id), str(item_c.public_id)],
            "action": "dismiss",
            "reason": "false alarms",
        },
    )
    assert response.status_code == 302
    statuses = set(ReviewItem.objects.values_list("status", flat=True))
    assert statuses == {ReviewStatus.BLACKLISTED, ReviewStatus.DISMISSED}
    b.refresh_from_db()
    assert b.status == VisitorStatus.NONE
    html = client.get("/review/").content.decode()
    assert "The review queue is empty." in html


def test_a_viewer_cannot_act_on_the_queue(org, bob) -> None:
    _, item = _flag(org, "Alpha")
    client = logged_in(bob)
    response = client.post(f"/review/{item.public_id}/act/", {"action": "blacklist"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.is_open


def test_the_inbox_lists_conversations_and_the_sidebar_blacklists(
    org, oscar, django_assert_max_num_queries
) -> None:
    visitor = VisitorFactory(organisation=org, name="Chatty")
    for _ in range(4):
        conversation = ConversationFactory(visitor=visitor, organisation=org)
        MessageFactory(conversation=conversation, organisation=org, body="Hi there")
    client = logged_in(oscar)
    with django_assert_max_num_queries(12):
        html = client.get("/inbox/").content.decode()
    assert html.count('data-testid="conversation-row"') == 4
    html = client.get(f"/inbox/{conversation.public_id}/").content.decode()
    assert "Hi there" in html and "Blacklist visitor" in html
    url = f"/inbox/{conversation.public_id}/blacklist/"
    confirm = client.get(url, headers=HX)
    assert confirm["HX-Retarget"] == "#sidebar-blacklist"
    assert "Confirm Blacklist" in confirm.content.decode()
    response = client.post(url, {"reason": "abuse", "confirmed": "yes"}, headers=HX)
    assert response["HX-Retarget"] == "#visitor-sidebar"
    fragment = response.content.decode()
    assert fragment.startswith('<aside id="visitor-sidebar"')
    assert "Blacklisted" in fragment and "Blacklist visitor" not in fragment
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.BLACKLISTED


def test_reporting_a_visitor_records_a_user_report_signal(org, oscar) -> None:
    conversation = ConversationFactory(
        visitor=VisitorFactory(organisation=org), organisation=org
    )
    client = logged_in(oscar)
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "rude"})
    signal = RiskSignal.objects.get()
    assert signal.signal_type == "user_report" and signal.event.conversation == (
        conversation
    )


def test_ip_blocks_are_added_listed_and_removed(org, oscar) -> None:
    client = logged_in(oscar)
    bad = client.post("/security/ip-blocks/", {"network": "nonsense", "reason": "x"})
    assert bad.status_code == 400 and "is not an IPv4/IPv6" in bad.content.decode()
    ok = client.post(
        "/security/ip-blocks/", {"network": "2001:db8::/48", "reason": "abuse"}
    )
    assert ok.status_code == 302
    block = IPBlock.objects.get()
    assert "2001:db8::/48" in client.get("/security/ip-blocks/").content.decode()
    client.post(f"/security/ip-blocks/{block.public_id}/remove/", {"reason": "ok"})
    assert not IPBlock.objects.exists()


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_weights_are_shown_and_only_admins_change_them(org, user, request) -> None:
    client = logged_in(request.getfixturevalue(user))
    html = client.get("/security/weights/").content.decode()
    assert "Extreme" in html and "+70" in html
    response = client.post("/security/weights/", {"level": "low", "weight": 15})
    if user == "alice":
        assert "+15" in client.get("/security/weights/").content.decode()
    else:
        assert response.status_code == 403


def test_merge_is_reviewed_then_confirmed(org, oscar) -> None:
    actor = Actor.system_for(org, "test")
    keep = services.visitor_upsert(actor=actor, name="Keep", emails=["k@example.com"])
    gone = services.visitor_upsert(actor=actor, name="Gone", phones=["+12025550143"])
    client = logged_in(oscar)
    base = f"/security/visitors/{keep.public_id}"
    page = client.get(f"{base}/merge/?other=(202) 555-0143").content.decode()
    assert "Merge Gone into Keep?" in page and "+12025550143" in page
    assert keep.identifiers.count() == 1  # nothing happens before confirming
    missing = client.get(f"{base}/merge/?other=nobody@example.com", follow=True)
    assert "No other visitor has that" in missing.content.decode()
    response = client.post(f"{base}/merge/", {"source": str(gone.public_id)})
    assert response.status_code == 302
    assert keep.identifiers.count() == 2
    assert "Gone merged into Keep." in client.get(response["Location"]).content.decode()
