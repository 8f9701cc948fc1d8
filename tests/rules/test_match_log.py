"""Shadow against real on the channels that keep no decision per event: chat
messages, chat events, signups and usage reviews write the match log (in bulk,
with the hit counts), which the rule's page and `GET /api/v1/rules/<id>/matches/`
read. Through the real entry points: the widget, Report, `POST /api/v1/accounts`."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.services import account_review_run
from tests.accounts.factories import AccountFactory
from tests.rules.factories import make_rule
from tests.visitors.factories import ConversationFactory, VisitorFactory, WidgetFactory
from trustconsole.core.actor import Actor
from trustconsole.rules import engine, matchlog
from trustconsole.rules.models import RuleMatch
from trustconsole.rules.selectors import rule_matches
from trustconsole.rules.tasks import matches_prune
from visitors.models import BlockedAttempt, Message, Visitor
from visitors.services import visitor_delete, visitor_merge, visitor_whitelist

pytestmark = pytest.mark.django_db

CASINO = 'contains_any(message.text, ["casino"])'


@pytest.fixture
def send(org):
    widget = WidgetFactory(organisation=org, name="Main website")
    client = APIClient()

    def post(body: str, visitor: str = "w-1", **fields):
        payload = {"visitor_id": visitor, "body": body, **fields}
        response = client.post(
            "/widget/v1/messages", payload, format="json", REMOTE_ADDR="192.0.2.10",
            headers={"X-Widget-Key": widget.key},
        )  # fmt: skip
        assert response.status_code == 202, response.content
        return response

    return post


def _page(user, rule) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/settings/rules/{rule.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


def _api(api_client_for, org, rule, role="viewer"):
    response = api_client_for(org, role).get(f"/api/v1/rules/{rule.public_id}/matches/")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_shadow_message_rule_logs_what_it_would_have_blocked_and_never_blocks(
    org, bob, send, api_client_for, settings
) -> None:
    """GIVEN a shadow rule that would block casino messages
    WHEN two visitors send one each (and one sends something else), one of them
    is whitelisted later, and the hit counts are flushed
    THEN both messages were really stored, and the page and the API say the rule
    would have blocked 2 messages, 1 of those 2 visitors whitelisted now."""
    settings.RULES_HITS_FLUSH_SECONDS = 3600
    engine.hits_flush()  # the last flush was just now
    rule = make_rule(
        org, CASINO, {"block": True}, channel="chat_message", mode="shadow"
    )
    send("Best CASINO bonus here", name="Mallory")
    send("casino night?", visitor="w-2")
    send("hello there")
    assert Message.objects.filter(body="Best CASINO bonus here").exists()
    assert Message.objects.filter(body="casino night?").exists()
    assert not BlockedAttempt.objects.exists()
    assert not RuleMatch.objects.exists()  # kept in process until the flush
    engine.hits_flush()
    mallory = Visitor.objects.get(name="Mallory")
    visitor_whitelist(
        actor=Actor.system_for(org, "tests"), visitor=mallory, reason="a regular"
    )
    html = _page(bob, rule)
    assert "Shadow against real (last 7 days)" in html
    assert (
        "Would have blocked <strong>2</strong> messages; 2 really stored, 0 blocked; "
        "1 of those 2 visitors is whitelisted now." in html
    )
    assert "Best CASINO bonus here" in html and "hello there" not in html
    body = _api(api_client_for, org, rule)
    assert body["summary"] == (
        "Would have blocked 2 messages; 2 really stored, 0 blocked; "
        "1 of those 2 visitors is whitelisted now."
    )
    assert (body["total"], body["allowed"], body["acted"], body["fine"]) == (
        2, 2, 0, 1,
    )  # fmt: skip
    newest, oldest = body["events"]
    assert (oldest["who"], oldest["excerpt"], oldest["real"]) == (
        "Mallory", "Best CASINO bonus here", "stored",
    )  # fmt: skip
    assert oldest["who_id"] == str(mallory.public_id)
    assert (newest["mode"], newest["version"], newest["kind"]) == (
        "shadow",
        1,
        "visitor",
    )


def test_a_live_block_names_the_rule_as_the_real_decision(
    org, send, api_client_for
) -> None:
    make_rule(
        org, CASINO, {"block": True}, channel="chat_message", mode="live",
        name="Casino spam",
    )  # fmt: skip
    shadow = make_rule(
        org, "message.length > 3", {"block": True}, channel="chat_message", name="long"
    )
    send("Best casino bonus here")
    send("hello there")
    engine.hits_flush()
    body = _api(api_client_for, org, shadow)
    assert [(e["excerpt"], e["real"], e["reason"]) for e in body["events"]] == [
        ("hello there", "stored", ""),
        ("Best casino bonus here", "blocked", "rule Casino spam (version 1)"),
    ]
    assert body["summary"].startswith(
        "Would have blocked 2 messages; 1 really stored, 1 blocked;"
    )


def test_a_shadow_event_rule_logs_a_user_report_and_the_visitor_is_not_flagged(
    org, oscar, api_client_for
) -> None:
    rule = make_rule(
        org,
        'event.kind == "user_report"',
        {"flag": True},
        name="Every report (trial)",
        channel="chat_event",
        mode="shadow",
    )
    visitor = VisitorFactory(organisation=org, name="Trudy")
    conversation = ConversationFactory(visitor=visitor, organisation=org)
    client = Client()
    client.force_login(oscar)
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "rude"})
    engine.hits_flush()
    visitor.refresh_from_db()
    assert visitor.status == "none"
    body = _api(api_client_for, org, rule, role="operator")
    # Really, the default rule set's report weight added its signal.
    assert body["summary"] == (
        "Would have flagged the visitors of 1 chat event; 0 really left untouched, "
        "1 acted on; that visitor is not whitelisted now."
    )
    (event,) = body["events"]
    assert (event["who"], event["excerpt"], event["real"]) == (
        "Trudy", "user_report: rude", "signal added",
    )  # fmt: skip
    assert event["reason"] == "rule Event weight: User report (version 1)"
    assert "Would have flagged the visitors of <strong>1</strong> chat event" in (
        _page(oscar, rule)
    )


def test_a_shadow_signup_rule_logs_the_signup_with_its_real_standing(
    org, bob, api_client_for
) -> None:
    rule = make_rule(
        org,
        'account.email_domain == "freemail.example"',
        {"account": {"action": "hold"}},
        channel="account_signup",
        mode="shadow",
    )
    support = api_client_for(org, "support")
    for email in ("ceo@freemail.example", "ops@freemail.example", "ceo@acme.example"):
        response = support.post(
            "/api/v1/accounts",
            {"company_name": "Acme Dialling", "email": email, "country": "GB"},
            format="json",
        )
        assert response.status_code == 201, response.content
    assert set(Account.objects.values_list("status", flat=True)) == {"active"}
    engine.hits_flush()
    Account.objects.filter(email="ops@freemail.example").update(
        status="on_hold", status_by="Sue"
    )
    body = _api(api_client_for, org, rule)
    assert body["summary"] == (
        "Would have held 2 signups; 2 really left untouched, 0 held or restricted; "
        "1 of those 2 accounts is active now."
    )
    assert {(e["excerpt"], e["real"], e["kind"]) for e in body["events"]} == {
        ("ceo@freemail.example", "untouched", "account"),
        ("ops@freemail.example", "untouched", "account"),
    }
    html = _page(bob, rule)
    assert "Would have held <strong>2</strong> signups" in html
    assert "ops@freemail.example" in html


def test_a_live_review_rule_logs_the_restriction_it_made(org, api_client_for) -> None:
    rule = make_rule(
        org,
        "account.numbers_owned >= 0",
        {"account": {"action": "restrict", "services": ["voice"]}},
        name="Everyone",
        channel="account_review",
        mode="live",
    )
    account = AccountFactory(organisation=org, company_name="Loud Ltd")
    assert account_review_run(organisation=org) == [str(account.public_id)]
    body = _api(api_client_for, org, rule)  # the review run flushed
    (event,) = body["events"]
    assert (event["who"], event["real"], event["mode"]) == (
        "Loud Ltd", "restricted", "live",
    )  # fmt: skip
    assert "Everyone (version 1)" in event["reason"]
    assert body["summary"].startswith(
        "Restricted 1 account review; 0 really left untouched, 1 held or restricted;"
    )


def test_the_log_keeps_at_most_the_cap_per_rule_and_hour(
    org, send, settings, api_client_for
) -> None:
    """GIVEN a cap of 3 rows per rule and hour
    WHEN 5 matching messages come in one hour (across two flushes) and 1 the next
    THEN 3 + 1 rows are logged, while the hit counts count all 6, and the summary
    says the log was capped."""
    settings.RULES_MATCH_LOG_PER_HOUR = 3
    rule = make_rule(org, CASINO, {"block": True}, channel="chat_message")
    start = timezone.now().replace(minute=10)
    with time_machine.travel(start, tick=False):
        send("casino 1")
        send("casino 2")
        engine.hits_flush()
        matchlog.reset()  # another process: only the table knows the count
        send("casino 3")
        send("casino 4")
        send("casino 5")
        engine.hits_flush()
        assert RuleMatch.objects.filter(rule=rule).count() == 3
    with time_machine.travel(start + dt.timedelta(hours=1), tick=False):
        send("casino 6")
        engine.hits_flush()
        assert list(
            RuleMatch.objects.filter(rule=rule).values_list("excerpt", flat=True)
        ) == ["casino 6", "casino 3", "casino 2", "casino 1"]
        body = _api(api_client_for, org, rule)
    assert (body["total"], body["counted"]) == (4, 6)
    assert body["summary"].endswith(
        "6 matches were counted; the log keeps at most 3 per rule and hour."
    )


def test_the_hourly_purge_removes_rows_older_than_30_days(org, send) -> None:
    rule = make_rule(org, CASINO, {"block": True}, channel="chat_message")
    send("casino old")
    send("casino new")
    engine.hits_flush()
    old = RuleMatch.objects.get(excerpt="casino old")
    RuleMatch.objects.filter(pk=old.pk).update(
        occurred_at=timezone.now() - dt.timedelta(days=31)
    )
    assert matches_prune() == 1
    assert list(
        RuleMatch.objects.filter(rule=rule).values_list("excerpt", flat=True)
    ) == ["casino new"]


def test_another_organisations_rule_is_a_404_and_its_matches_are_not_mixed_in(
    org, other_org, send, api_client_for
) -> None:
    rule = make_rule(org, CASINO, {"block": True}, channel="chat_message")
    theirs = make_rule(other_org, CASINO, {"block": True}, channel="chat_message")
    send("casino")
    engine.hits_flush()
    outsider = api_client_for(other_org, "admin")
    assert outsider.get(f"/api/v1/rules/{rule.public_id}/matches/").status_code == 404
    assert _api(api_client_for, other_org, theirs)["total"] == 0
    assert _api(api_client_for, org, rule)["total"] == 1


def test_deleting_a_visitor_deletes_what_was_logged_about_them(org, send) -> None:
    make_rule(org, CASINO, {"block": True}, channel="chat_message")
    send("casino")
    engine.hits_flush()
    visitor_delete(
        actor=Actor.system_for(org, "tests"),
        visitor=Visitor.objects.get(),
        reason="erasure request",
    )
    assert not RuleMatch.objects.exists()


def test_merging_visitors_moves_what_was_logged_onto_the_one_kept(org, send) -> None:
    make_rule(org, CASINO, {"block": True}, channel="chat_message")
    send("casino", visitor="w-1")
    send("casino too", visitor="w-2")
    engine.hits_flush()
    first, second = Visitor.objects.order_by("pk")
    visitor_merge(
        actor=Actor.system_for(org, "tests"), target=first, source=second,
        reason="the same person",
    )  # fmt: skip
    assert set(RuleMatch.objects.values_list("visitor", flat=True)) == {first.pk}
    assert RuleMatch.objects.count() == 2


def test_a_live_event_rule_logs_the_flag_it_raised(org, oscar, api_client_for) -> None:
    rule = make_rule(
        org,
        'event.kind == "user_report"',
        {"flag": True},
        name="Reports",
        channel="chat_event",
        mode="live",
    )
    conversation = ConversationFactory(
        visitor=VisitorFactory(organisation=org), organisation=org
    )
    client = Client()
    client.force_login(oscar)
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "a scam"})
    engine.hits_flush()
    (event,) = _api(api_client_for, org, rule)["events"]
    assert (event["real"], event["reason"]) == (
        "flagged",
        "rule Event weight: User report (version 1), rule Reports (version 1)",
    )


def test_the_rule_page_reads_the_log_in_a_fixed_number_of_queries(
    org, send, django_assert_num_queries
) -> None:
    rule = make_rule(org, CASINO, {"block": True}, channel="chat_message")
    for n in range(8):
        send(f"casino {n}", visitor=f"w-{n}")
    engine.hits_flush()
    with django_assert_num_queries(3):
        found = rule_matches(rule=rule)
    assert found is not None and len(found["events"]) == 8


def test_the_matches_endpoint_is_in_the_openapi_schema(api_client_for, org) -> None:
    response = api_client_for(org, "viewer").get("/api/schema/?format=json")
    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/rules/{public_id}/matches/"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/RuleMatchesOutput")


def test_rows_that_cannot_be_written_wait_bounded_the_oldest_dropping() -> None:
    """GIVEN a log buffer of at most 3 rows whose writes fail (database down)
    WHEN 2 rows fail to be written, then 2 more are kept and fail too
    THEN the next write gets the 3 newest, in order, and nothing twice."""
    from trustconsole.lib.rowbuffer import RowBuffer

    buffer: RowBuffer[str] = RowBuffer("a test log", limit=3)
    written: list[list[str]] = []

    def down(rows: list[str]) -> int:
        raise ConnectionError("database down")

    buffer.extend(["a", "b"])
    assert buffer.flush(down) == 0
    buffer.extend(["c", "d"])
    assert buffer.flush(down) == 0
    assert buffer.flush(lambda rows: written.append(rows) or len(rows)) == 3
    assert written == [["b", "c", "d"]]
    assert len(buffer) == 0
