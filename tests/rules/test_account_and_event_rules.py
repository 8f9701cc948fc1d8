"""Rules as data on account signups, the continuous usage review and chat events
(a user report), through the real entry points: `POST /api/v1/accounts`, the
review run, and Report on a conversation. Shadow rules never act."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.choices import AccountStatus
from accounts.models import Account, AccountUsageDay
from accounts.services import account_review_run
from tests.accounts.factories import AccountFactory
from tests.rules.factories import make_rule
from tests.visitors.factories import ConversationFactory, VisitorFactory
from trustconsole.core.models import AuditEntry
from trustconsole.rules import engine
from trustconsole.rules.models import RuleHitCount
from visitors.choices import VisitorStatus
from visitors.models import RiskSignal

pytestmark = pytest.mark.django_db

FREE_MAIL = 'account.email_domain == "freemail.example"'


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _signup(api, email="ceo@freemail.example", **extra):
    body = {
        "company_name": "Acme Dialling",
        "email": email,
        "website": "",
        "country": "GB",
        **extra,
    }
    response = api.post("/api/v1/accounts", body, format="json")
    assert response.status_code == 201, response.json()
    return Account.objects.get(public_id=response.json()["id"])


@pytest.fixture
def support_api(org, api_client_for):
    return api_client_for(org, "support")


def test_a_live_signup_rule_holds_the_account_with_the_rule_as_reason(
    org, support_api
) -> None:
    make_rule(
        org,
        FREE_MAIL,
        {"account": {"action": "hold", "email_customer": False}},
        name="Free mail signups",
        channel="account_signup",
        mode="live",
    )
    account = _signup(support_api)
    assert account.status == AccountStatus.ON_HOLD
    assert "Free mail signups (version 1)" in account.status_by
    assert "Rule Free mail signups (version 1): signup of Acme" in (
        account.status_reason
    )
    assert not account.emails.exists()  # the effect said not to email
    # Another domain passes untouched.
    assert _signup(support_api, email="ceo@acme.example").status == "active"


def test_a_shadow_signup_rule_never_acts_but_counts_its_hits(org, support_api) -> None:
    rule = make_rule(
        org,
        FREE_MAIL,
        {"account": {"action": "restrict", "services": ["voice"]}},
        channel="account_signup",
        mode="shadow",
    )
    account = _signup(support_api)
    assert account.status == AccountStatus.ACTIVE
    assert not AuditEntry.objects.filter(action="account.restrict").exists()
    engine.hits_flush()
    assert RuleHitCount.objects.get(rule=rule).mode == "shadow"


def test_a_review_rule_restricts_an_account_over_its_usage(org) -> None:
    make_rule(
        org,
        "account.calls_30d > 500 && account.age_days < 30",
        {"account": {"action": "restrict", "services": ["voice"]}},
        name="Young and loud",
        channel="account_review",
        mode="live",
    )
    loud = AccountFactory(organisation=org)
    quiet = AccountFactory(organisation=org)
    today = timezone.localdate()
    AccountUsageDay.objects.create(account=loud, day=today, outbound_calls=600)
    AccountUsageDay.objects.create(account=quiet, day=today, outbound_calls=20)
    restricted = account_review_run(organisation=org)
    assert restricted == [str(loud.public_id)]
    loud.refresh_from_db()
    quiet.refresh_from_db()
    assert loud.restricted_services == ["voice"]
    assert "Young and loud (version 1)" in loud.status_by
    assert quiet.status == AccountStatus.ACTIVE
    entry = AuditEntry.objects.get(action="account.restrict")
    assert entry.actor_label == "system: usage review rules"


def test_a_shadow_review_rule_changes_nothing(org) -> None:
    make_rule(
        org,
        "account.numbers_owned >= 0",
        {"account": {"action": "hold"}},
        channel="account_review",
        mode="shadow",
    )
    account = AccountFactory(organisation=org)
    assert account_review_run(organisation=org) == []
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_a_chat_event_rule_flags_a_reported_visitor_and_a_shadow_one_does_not(
    org, oscar
) -> None:
    make_rule(
        org,
        'event.kind == "user_report" && event.note.contains("scam")',
        {"signal": {"type": "spam", "level": "high"}, "flag": True},
        name="Scam reports",
        channel="chat_event",
        mode="live",
    )
    make_rule(
        org,
        'event.kind == "user_report"',
        {"signal": {"type": "spam", "level": "extreme"}},
        name="Every report (trial)",
        channel="chat_event",
        mode="shadow",
    )
    visitor = VisitorFactory(organisation=org)
    conversation = ConversationFactory(visitor=visitor, organisation=org)
    client = logged_in(oscar)
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "rude"})
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE
    assert list(
        RiskSignal.objects.filter(visitor=visitor).values_list("signal_type", flat=True)
    ) == ["user_report"]
    client.post(f"/inbox/{conversation.public_id}/report/", {"reason": "a scam"})
    visitor.refresh_from_db()
    signals = RiskSignal.objects.filter(visitor=visitor, source="rule")
    assert [(s.signal_type, s.note) for s in signals] == [
        ("spam", "Rule Scam reports (version 1)")
    ]
    assert visitor.status == VisitorStatus.FLAGGED


def test_a_whitelisted_visitor_is_never_touched_by_chat_event_rules(org, oscar) -> None:
    make_rule(
        org,
        'event.kind == "user_report"',
        {"flag": True},
        channel="chat_event",
        mode="live",
    )
    visitor = VisitorFactory(organisation=org, status=VisitorStatus.WHITELISTED)
    conversation = ConversationFactory(visitor=visitor, organisation=org)
    logged_in(oscar).post(f"/inbox/{conversation.public_id}/report/", {"reason": "x"})
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.WHITELISTED
