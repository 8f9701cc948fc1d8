"""The account-signal and refused-call channels: backtests over their history, the
edit form keeping an account signal effect, and a usage-review backtest that sees
the review's own numbers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from accounts.choices import SignalSource, SignalType
from accounts.models import AccountUsageDay
from accounts.services import account_create, account_signal_add
from tests.accounts.factories import AccountFactory
from trustconsole.core.actor import Actor
from trustconsole.rules.backtest import backtest_run
from trustconsole.rules.models import Backtest, Rule
from voicegate.policy.models import OutboundDenial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]


def _backtest(client, channel: str, condition: str) -> dict:
    now = timezone.now()
    response = client.post(
        "/api/v1/rules/backtests/",
        {
            "channel": channel,
            "condition": condition,
            "start": (now - dt.timedelta(days=3)).isoformat(),
            "end": (now + dt.timedelta(minutes=5)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    public_id = response.json()["id"]
    backtest_run(Backtest.objects.get(public_id=public_id).pk)
    body = client.get(f"/api/v1/rules/backtests/{public_id}/").json()
    assert body["status"] == "done", body
    return body["result"]


def test_a_backtest_replays_the_signals_with_their_types_running_total(
    org, api_client_for
) -> None:
    actor = Actor.system_for(org, "complaints feed")
    noisy, calm = AccountFactory(organisation=org), AccountFactory(organisation=org)
    for account, weight in ((noisy, 20), (noisy, 20), (calm, 20)):
        account_signal_add(
            actor=actor,
            account=account,
            signal_type=SignalType.VOLUME_SPIKE,
            weight=weight,
            source=SignalSource.USAGE_FEED,
            note="spike",
            apply_rules=False,
        )
    result = _backtest(
        api_client_for(org, "operator"),
        "account_signal",
        'signal.type == "volume_spike" && signal.type_total >= 40',
    )
    assert (result["events"], result["hits"], result["identities"]) == (3, 1, 1)
    assert result["sample"][0]["account"] == noisy.company_name


def test_a_backtest_replays_an_accounts_refused_calls_in_the_denial_window(
    org, api_client_for
) -> None:
    account = AccountFactory(organisation=org)
    for _ in range(3):
        OutboundDenial.objects.create(
            organisation=org,
            account=account,
            from_number="+14155550177",
            to_number="+14155550199",
            codes="caller_id_not_owned",
        )
    result = _backtest(
        api_client_for(org, "operator"),
        "outbound_denial",
        'denials.count >= 3 && "caller_id_not_owned" in denials.codes',
    )
    assert (result["events"], result["hits"]) == (3, 1)


def test_a_usage_review_backtest_sees_the_reviews_numbers(org, api_client_for) -> None:
    account = AccountFactory(organisation=org)
    today = timezone.localdate()
    AccountUsageDay.objects.create(account=account, day=today, carrier_complaints=2)
    result = _backtest(
        api_client_for(org, "operator"),
        "account_review",
        "review.complaints >= review.complaints_threshold",
    )
    assert result["hits"] == 1


def test_the_edit_form_saves_an_account_signal_and_signup_uses_it(org, alice) -> None:
    rule = Rule.objects.get(organisation=org, builtin="signup_disposable_email")
    client = Client()
    client.force_login(alice)
    page = client.get(f"/settings/rules/{rule.public_id}/").content.decode()
    assert 'name="account_signal_note"' in page
    response = client.post(
        f"/settings/rules/{rule.public_id}/",
        {
            "name": rule.name,
            "description": rule.description,
            "condition": "account.email_disposable",
            "account_signal_level": "low",
            "account_signal_type": "disposable_email",
            "account_signal_note": "Throwaway address at {account.email_domain}.",
            "order": rule.order,
            "reason": "too harsh",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.current_version.number == 2
    assert rule.current_version.effect == {
        "account_signal": {
            "type": "disposable_email",
            "level": "low",
            "note": "Throwaway address at {account.email_domain}.",
        }
    }
    account = account_create(
        actor=Actor.system_for(org, "signup form"),
        company_name="Temp Co",
        email="x@yopmail.com",
        country="GB",
        website="https://temp.example",
    )
    found = {s.signal_type: (s.weight, s.note) for s in account.signals.all()}
    assert found["disposable_email"] == (10, "Throwaway address at yopmail.com.")


def test_the_edit_form_refuses_an_unknown_fact_in_the_note(org, alice) -> None:
    rule = Rule.objects.get(organisation=org, builtin="signup_no_website")
    client = Client()
    client.force_login(alice)
    response = client.post(
        f"/settings/rules/{rule.public_id}/",
        {
            "name": rule.name,
            "condition": 'account.website_domain == ""',
            "account_signal_level": "low",
            "account_signal_type": "no_website",
            "account_signal_note": "No site for {account.shoe_size}.",
            "order": rule.order,
        },
    )
    assert response.status_code == 400
    assert "account.shoe_size" in response.content.decode()
