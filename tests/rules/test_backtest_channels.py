"""Backtests of the other channels' history (chat events, outbound denials,
signups, usage days), and one run end to end by a real Celery worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AccountUsageDay
from tests.accounts.factories import AccountFactory
from tests.visitors.factories import VisitorFactory
from tests.waiting import wait_until
from trustconsole.rules.backtest import backtest_run
from trustconsole.rules.models import Backtest
from visitors.models import Event
from voicegate.models import CallDecision
from voicegate.policy.models import OutboundDenial


def _backtest(client, channel, condition, *, days=3):
    now = timezone.now()  # not the import's time: a long run may start later
    response = client.post(
        "/api/v1/rules/backtests/",
        {
            "channel": channel,
            "condition": condition,
            "start": (now - dt.timedelta(days=days)).isoformat(),
            "end": (now + dt.timedelta(minutes=5)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _run(client, public_id):
    backtest_run(Backtest.objects.get(public_id=public_id).pk)
    body = client.get(f"/api/v1/rules/backtests/{public_id}/").json()
    assert body["status"] == "done", body
    return body


@pytest.mark.django_db
def test_chat_events_replay_the_events_recorded_on_visitors(
    org, other_org, api_client_for
) -> None:
    mallory, bob = VisitorFactory(organisation=org), VisitorFactory(organisation=org)
    for visitor, note in ((mallory, "a scam"), (mallory, "scam again"), (bob, "rude")):
        Event.objects.create(
            organisation=org,
            visitor=visitor,
            kind="user_report",
            detail={"reason": note},
            source="console",
        )
    Event.objects.create(
        organisation=other_org,
        visitor=VisitorFactory(organisation=other_org),
        kind="user_report",
        detail={"reason": "scam"},
        source="console",
    )
    client = api_client_for(org, "operator")
    body = _run(
        client,
        _backtest(client, "chat_event", 'event.note.contains("scam")'),
    )
    assert body["total"] == 3
    result = body["result"]
    assert (result["events"], result["hits"], result["identities"]) == (3, 2, 1)
    assert {s["event"] for s in result["sample"]} == {"user_report"}


@pytest.mark.django_db
def test_outbound_checks_replay_the_denial_log(org, api_client_for) -> None:
    for to, codes in (
        ("+442079460001", "dnc"),
        ("+442079460002", "caller_id_not_owned"),
        ("+14155550199", "dnc"),
    ):
        OutboundDenial.objects.create(
            organisation=org,
            from_number="+14155550100",
            to_number=to,
            codes=codes,
            violations=[],
        )
    client = api_client_for(org, "operator")
    body = _run(
        client,
        _backtest(
            client,
            "outbound_check",
            'destination.country == "GB" && caller_id.owned',
        ),
    )
    assert (body["result"]["events"], body["result"]["hits"]) == (3, 1)
    assert body["result"]["sample"][0]["to"] == "+442079460001"


@pytest.mark.django_db
def test_signups_and_usage_days_replay_the_accounts_history(
    org, api_client_for
) -> None:
    AccountFactory(organisation=org, email="a@freemail.example")
    AccountFactory(organisation=org, email="b@freemail.example")
    AccountFactory(organisation=org, email="c@acme.example")
    AccountFactory(
        organisation=org,
        email="old@freemail.example",
        signup_at=timezone.now() - dt.timedelta(days=30),
    )
    client = api_client_for(org, "operator")
    body = _run(
        client,
        _backtest(
            client, "account_signup", 'account.email_domain == "freemail.example"'
        ),
    )
    assert (body["total"], body["result"]["hits"]) == (3, 2)

    loud = AccountFactory(organisation=org, email="loud@acme.example")
    today = timezone.localdate()
    for back, calls in ((2, 100), (1, 450), (0, 300)):
        AccountUsageDay.objects.create(
            account=loud, day=today - dt.timedelta(days=back), outbound_calls=calls
        )
    body = _run(client, _backtest(client, "account_review", "account.calls_30d > 500"))
    # Facts as of each day: 100, then 550, then 850 calls in 30 days.
    assert (body["result"]["events"], body["result"]["hits"]) == (3, 2)
    assert [s["day"] for s in body["result"]["sample"]] == [
        (today - dt.timedelta(days=1)).isoformat(),
        today.isoformat(),
    ]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_backtest_runs_end_to_end_on_a_real_worker(
    org, api_client_for, celery_worker_queue
) -> None:
    for n, caller in enumerate(("+2348010000001", "+2348010000001", "+4420794600")):
        CallDecision.objects.create(
            organisation=org, provider="generic", event_id=f"e{n}", caller=caller,
            caller_e164=caller, callee="+14155550100", decision="allow",
            reason="not_listed",
        )  # fmt: skip
    client = api_client_for(org, "operator")
    public_id = _backtest(client, "inbound_call", 'caller.country == "NG"')

    def finished() -> bool:
        status = client.get(f"/api/v1/rules/backtests/{public_id}/").json()["status"]
        return status in ("done", "failed")

    wait_until(finished, timeout=60, what="the worker to finish the backtest")
    body = client.get(f"/api/v1/rules/backtests/{public_id}/").json()
    assert (body["status"], body["progress"]) == ("done", 100)
    assert (body["result"]["events"], body["result"]["hits"]) == (3, 2)
