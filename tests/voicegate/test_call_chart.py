"""The call log's calls-per-day picture draws exactly the calls stored."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD
from trustconsole.core.actor import Actor
from voicegate import selectors
from voicegate.charts import calls_per_day
from voicegate.models import CallDecision


def _call(org, *, days_ago: int, decision: str) -> None:
    call = CallDecision.objects.create(
        organisation=org,
        provider="twilio",
        caller="+12025550143",
        caller_e164="+12025550143",
        decision=decision,
        reason="blacklisted" if decision == "reject" else "allowed",
    )
    when = timezone.now() - dt.timedelta(days=days_ago)
    CallDecision.objects.filter(pk=call.pk).update(created_at=when)


def test_calls_per_day_equal_the_stored_calls(org, other_org, bob) -> None:
    """GIVEN calls on known days (and another organisation's) WHEN the call log is
    drawn THEN each day's bars hold exactly those numbers."""
    seeded = {0: ("allow", "allow", "reject"), 3: ("reject",), 40: ("allow",)}
    for days_ago, decisions in seeded.items():
        for decision in decisions:
            _call(org, days_ago=days_ago, decision=decision)
    _call(other_org, days_ago=0, decision="reject")
    data = calls_per_day(selectors.call_list(actor=Actor.system_for(org, "t")))
    by_date = {d["date"]: (d["allowed"], d["rejected"]) for d in data["days"]}
    today = timezone.localdate()
    assert len(data["days"]) == 30
    assert by_date[today.isoformat()] == (2, 1)
    assert by_date[(today - dt.timedelta(days=3)).isoformat()] == (0, 1)
    assert sum(a + r for a, r in by_date.values()) == 4  # 40 days ago is outside
    client = Client()
    assert client.login(username=bob.username, password=PASSWORD)
    html = client.get("/voice/calls/").content.decode()
    assert f"<title>{today.isoformat()}: 1 rejected, 2 allowed</title>" in html
    wide = client.get(
        f"/voice/calls/?date_from={(today - dt.timedelta(days=45)).isoformat()}"
    ).content.decode()
    assert "Allowed: 3" in wide and "Rejected: 2" in wide
