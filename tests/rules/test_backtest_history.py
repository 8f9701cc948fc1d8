"""A backtest whose window reaches further back than its channel's log keeps
(the call log VOICEGATE_CALL_LOG_DAYS, the outbound check log
POLICY_CHECK_LOG_DAYS) says so with its result: a hint, not an error."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.rules.factories import make_rule
from trustconsole.rules.models import Backtest

HINT = 'data-testid="backtest-history"'


def _backtest(client: Client, rule, days: int) -> str:
    """The fragment the form's answer swaps in (htmx), and the page afterwards."""
    response = client.post(
        f"/settings/rules/{rule.public_id}/backtest/",
        {"condition": rule.current_version.condition, "days": str(days)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_an_outbound_window_past_the_check_log_is_hinted(org, oscar) -> None:
    """GIVEN the check log kept 30 days (the default) WHEN an operator backtests an
    outbound-check rule over 60 days THEN the answer says the first 30 days hold
    nothing, and the rule page says so again; over 30 days it says nothing."""
    rule = make_rule(
        org,
        'destination.country == "GB"',
        {"refuse": {"code": "uk_not_licensed"}},
        channel="outbound_check",
    )
    client = Client()
    client.force_login(oscar)
    page = client.get(f"/settings/rules/{rule.public_id}/").content.decode()
    assert (
        "The outbound check log keeps 30 days (POLICY_CHECK_LOG_DAYS): a longer "
        "window finds nothing older."
    ) in page

    html = _backtest(client, rule, 60)
    assert (
        "The outbound check log keeps 30 days (POLICY_CHECK_LOG_DAYS): the first 30 "
        "days of this window hold nothing to replay."
    ) in html
    assert 'class="error"' not in html
    assert Backtest.objects.filter(rule=rule).count() == 1
    page = client.get(f"/settings/rules/{rule.public_id}/").content.decode()
    assert "the first 30 days of this window hold nothing" in page

    assert HINT not in _backtest(client, rule, 30)


@pytest.mark.django_db
def test_an_inbound_window_past_the_call_log_is_hinted(org, oscar, settings) -> None:
    """GIVEN the call log kept 400 days WHEN an operator backtests an inbound-call
    rule over 90 days THEN nothing is hinted (the form says nothing either); with
    the call log kept 7 days, a 10-day window is told its first 3 days are empty,
    and with 0 (forever) nothing again."""
    rule = make_rule(org, 'caller.country == "NG"', {"reject": True})
    client = Client()
    client.force_login(oscar)
    assert (
        'data-testid="backtest-kept"'
        not in client.get(f"/settings/rules/{rule.public_id}/").content.decode()
    )
    assert HINT not in _backtest(client, rule, 90)

    settings.VOICEGATE_CALL_LOG_DAYS = 7
    html = _backtest(client, rule, 10)
    assert (
        "The call log keeps 7 days (VOICEGATE_CALL_LOG_DAYS): the first 3 days of "
        "this window hold nothing to replay."
    ) in html
    assert (
        "The call log keeps 7 days"
        in client.get(f"/settings/rules/{rule.public_id}/").content.decode()
    )
    assert HINT not in _backtest(client, rule, 7)

    settings.VOICEGATE_CALL_LOG_DAYS = 0
    assert HINT not in _backtest(client, rule, 90)
