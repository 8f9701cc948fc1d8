"""Both review queues have a badge in the navigation: count, red when overdue."""

from __future__ import annotations

import datetime as dt
import re

from django.test import Client
from django.utils import timezone

from tests.accounts.factories import RequestFactory, days_ago
from tests.conftest import PASSWORD
from tests.visitors.factories import VisitorFactory
from visitors.models import ReviewItem


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _badge(html: str, testid: str) -> str | None:
    match = re.search(
        rf'data-testid="{testid}">[^<]*(<span class="[^"]*"[^>]*>\d+</span>)?', html
    )
    assert match, testid
    return match.group(1)


def _review_item(org, *, hours_ago: float) -> ReviewItem:
    return ReviewItem.objects.create(
        organisation=org,
        visitor=VisitorFactory(organisation=org),
        reason="Trust score fell to 20",
        score_at_flag=20,
        created_at=timezone.now() - dt.timedelta(hours=hours_ago),
    )


def test_no_badges_when_nothing_waits(org, bob) -> None:
    html = logged_in(bob).get("/").content.decode()
    assert _badge(html, "nav-visitor-reviews") is None
    assert _badge(html, "nav-accounts") is None
    # The two queues no longer share a name.
    assert ">Visitor reviews" in html and ">Review queue" not in html


def test_visitor_reviews_badge_counts_and_turns_red_when_overdue(
    org, other_org, bob, settings
) -> None:
    settings.VISITORS_REVIEW_OVERDUE_HOURS = 24
    _review_item(org, hours_ago=1)
    _review_item(other_org, hours_ago=90)  # another organisation's: not counted
    badge = _badge(logged_in(bob).get("/").content.decode(), "nav-visitor-reviews")
    assert badge is not None and 'class="count"' in badge and ">1<" in badge
    assert "1 waiting" in badge

    _review_item(org, hours_ago=30)
    badge = _badge(logged_in(bob).get("/").content.decode(), "nav-visitor-reviews")
    assert 'class="count overdue"' in badge and ">2<" in badge
    assert "2 waiting, 1 overdue" in badge


def test_accounts_badge_counts_requests_waiting_and_overdue(
    org, other_org, sue
) -> None:
    RequestFactory(account__organisation=org)  # fresh: due in 7 business days
    RequestFactory(account__organisation=other_org, submitted=days_ago(30))
    badge = _badge(logged_in(sue).get("/").content.decode(), "nav-accounts")
    assert badge is not None and 'class="count"' in badge and ">1<" in badge

    RequestFactory(account__organisation=org, submitted=days_ago(20))
    badge = _badge(logged_in(sue).get("/accounts/").content.decode(), "nav-accounts")
    assert 'class="count overdue"' in badge and "2 waiting, 1 overdue" in badge


def test_both_badges_cost_one_query(org, rf, django_assert_num_queries) -> None:
    from trustconsole.core.actor import Actor
    from trustconsole.core.context_processors import nav_badges

    _review_item(org, hours_ago=30)
    RequestFactory(account__organisation=org, submitted=days_ago(20))
    request = rf.get("/")
    request.actor = Actor.system_for(org, "test")
    with django_assert_num_queries(1):
        assert nav_badges(request) == {
            "review_queue_count": 1,
            "review_queue_overdue": 1,
            "account_review_count": 1,
            "account_review_overdue": 1,
            "notifications_unread": 0,  # a system actor has no notifications
        }


def test_a_members_unread_notifications_are_in_the_same_query(
    org, alice, rf, django_assert_num_queries
) -> None:
    from notifications.services import notify_members
    from trustconsole.core.actor import Actor
    from trustconsole.core.context_processors import nav_badges

    notify_members(
        organisation=org, users=[alice], trigger="escalated", subject="s", body="b",
        path="/review/",
    )  # fmt: skip
    request = rf.get("/")
    request.actor = Actor(organisation=org, role="admin", user=alice)
    with django_assert_num_queries(1):
        assert nav_badges(request)["notifications_unread"] == 1
