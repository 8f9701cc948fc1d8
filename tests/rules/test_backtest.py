"""Backtests replay the logged history of a channel and count what a draft would do."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.rules.factories import make_rule
from trustconsole.rules.backtest import backtest_run
from trustconsole.rules.models import Backtest
from voicegate.models import CallDecision

pytestmark = pytest.mark.django_db

START = timezone.now() - dt.timedelta(days=2)


def _call(org, caller: str, minutes: int, *, reason: str = "not_listed") -> None:
    row = CallDecision.objects.create(
        organisation=org, provider="generic", event_id=f"{caller}-{minutes}",
        caller=caller, caller_e164=caller, callee="+14155550100",
        decision="allow", reason=reason,
    )  # fmt: skip
    CallDecision.objects.filter(pk=row.pk).update(
        created_at=START + dt.timedelta(minutes=minutes)
    )


@pytest.fixture
def history(org, other_org):
    # A Nigerian number calls 4 times in 6 minutes, another once; a British one
    # twice; a whitelisted Nigerian once. Another organisation's calls never count.
    for minute in (0, 2, 4, 6):
        _call(org, "+2348010000001", minute)
    _call(org, "+2348010000002", 30)
    _call(org, "+442079460000", 40)
    _call(org, "+442079460000", 41)
    _call(org, "+2348010000003", 50, reason="whitelisted")
    _call(other_org, "+2348010000009", 1)


def _start(client, condition, **extra):
    response = client.post(
        "/api/v1/rules/backtests/",
        {
            "channel": "inbound_call",
            "condition": condition,
            "start": (START - dt.timedelta(hours=1)).isoformat(),
            "end": (START + dt.timedelta(hours=2)).isoformat(),
            **extra,
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_backtest_counts_hits_identities_and_samples_from_the_call_log(
    org, history, api_client_for, django_capture_on_commit_callbacks
) -> None:
    client = api_client_for(org, "operator")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        public_id = _start(
            client, 'caller.country == "NG" && caller.status != "whitelisted"'
        )
    assert len(queued) == 1  # the Celery task is queued after commit
    assert (
        client.get(f"/api/v1/rules/backtests/{public_id}/").json()["status"]
        == "pending"
    )
    backtest_run(Backtest.objects.get().pk)
    body = client.get(f"/api/v1/rules/backtests/{public_id}/").json()
    assert (body["status"], body["progress"], body["total"]) == ("done", 100, 8)
    result = body["result"]
    assert (result["events"], result["hits"], result["identities"]) == (8, 5, 2)
    assert [s["caller"] for s in result["sample"]][:2] == ["+2348010000001"] * 2
    assert result["live"] is None


def test_sliding_window_counts_come_from_the_history_itself(
    org, history, api_client_for, django_capture_on_commit_callbacks
) -> None:
    client = api_client_for(org, "admin")
    with django_capture_on_commit_callbacks(execute=False):
        _start(client, "caller.calls_10m >= 3")
    backtest_run(Backtest.objects.get().pk)
    result = Backtest.objects.get().result
    assert (result["hits"], result["identities"]) == (2, 1)  # the 3rd and 4th call


def test_a_draft_is_compared_with_the_rules_current_version(
    org, history, api_client_for, django_capture_on_commit_callbacks
) -> None:
    rule = make_rule(org, 'caller.country == "GB"', {"reject": True}, mode="live")
    client = api_client_for(org, "admin")
    with django_capture_on_commit_callbacks(execute=False):
        _start(client, 'caller.country == "NG"', rule=str(rule.public_id))
    backtest_run(Backtest.objects.get().pk)
    result = Backtest.objects.get().result
    assert result["hits"] == 6
    assert result["live"] == {
        "version": 1,
        "hits": 2,
        "identities": 1,
        "only_draft": 6,
        "only_live": 2,
    }


def test_a_backtest_runs_once_and_refuses_bad_drafts(
    org, history, api_client_for
) -> None:
    client = api_client_for(org, "operator")
    bad = client.post(
        "/api/v1/rules/backtests/",
        {"channel": "inbound_call", "condition": "caller.", "start": START.isoformat(),
         "end": (START + dt.timedelta(hours=1)).isoformat()},
        format="json",
    )  # fmt: skip
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "condition"
    backwards = client.post(
        "/api/v1/rules/backtests/",
        {"channel": "inbound_call", "condition": "caller.valid",
         "start": START.isoformat(),
         "end": (START - dt.timedelta(hours=1)).isoformat()},
        format="json",
    )  # fmt: skip
    assert (
        backwards.status_code == 400 and backwards.json()["errors"][0]["field"] == "end"
    )
    assert not Backtest.objects.exists()
    viewer = api_client_for(org, "viewer").post(
        "/api/v1/rules/backtests/", {}, format="json"
    )
    assert viewer.status_code == 403


def test_comparing_with_another_organisations_rule_is_a_field_error(
    org, other_org, api_client_for
) -> None:
    theirs = make_rule(other_org, "caller.valid", {"reject": True})
    response = api_client_for(org, "admin").post(
        "/api/v1/rules/backtests/",
        {"channel": "inbound_call", "condition": "caller.valid",
         "start": START.isoformat(),
         "end": (START + dt.timedelta(hours=1)).isoformat(),
         "rule": str(theirs.public_id)},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "rule"
    assert not Backtest.objects.exists()
