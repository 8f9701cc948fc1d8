"""Settings → Rules pages: admins edit, others read, errors show their position."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.rules.factories import make_rule
from trustconsole.rules import engine
from trustconsole.rules.facts import EventContext
from trustconsole.rules.models import Rule, RuleVersion

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Robocalls",
    "channel": "inbound_call",
    "condition": 'caller.country == "NG"',
    "reject": "on",
    "signal_level": "",
    "signal_type": "rule_match",
    "mode": "shadow",
    "order": "10",
}


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_an_admin_saves_a_rule_from_the_form(alice) -> None:
    response = _client(alice).post("/settings/rules/new/", FORM)
    assert response.status_code == 302
    rule = Rule.objects.filter(builtin="").get()
    assert (rule.mode, rule.current_version.effect) == ("shadow", {"reject": True})
    page = _client(alice).get("/settings/rules/").content.decode()
    assert "Robocalls" in page and "Shadow" in page and "reject the call" in page


def test_a_bad_condition_is_shown_in_the_form_with_its_position(alice) -> None:
    response = _client(alice).post(
        "/settings/rules/new/", dict(FORM, condition="caller.country ==")
    )
    assert response.status_code == 400
    assert "Line 1, column 18" in response.content.decode()
    assert not Rule.objects.filter(builtin="").exists()


def test_a_wrong_effect_for_the_channel_is_a_form_error(alice) -> None:
    response = _client(alice).post("/settings/rules/new/", dict(FORM, block="on"))
    assert response.status_code == 400
    assert "does not apply to inbound call rules" in response.content.decode()
    assert not Rule.objects.filter(builtin="").exists()


def test_inline_check_points_at_the_error(alice) -> None:
    html = (
        _client(alice)
        .post(
            "/settings/rules/check/",
            {
                "channel": "inbound_call",
                "condition": 'caller.country == "NG" &&\n  caller.x',
            },
        )
        .content.decode()
    )
    assert "Line 2, column 10" in html and "Unknown field x" in html
    ok = (
        _client(alice)
        .post(
            "/settings/rules/check/",
            {"channel": "inbound_call", "condition": "caller.valid"},
        )
        .content.decode()
    )
    assert "The condition checks" in ok


def test_saving_a_change_makes_a_new_version_and_viewers_cannot(
    org, alice, bob
) -> None:
    rule = make_rule(org, 'caller.country == "GB"', {"reject": True})
    data = dict(FORM, condition='caller.country == "NG"')
    assert (
        _client(bob).post(f"/settings/rules/{rule.public_id}/", data).status_code == 403
    )
    assert RuleVersion.objects.filter(rule__builtin="").count() == 1
    assert (
        _client(alice).post(f"/settings/rules/{rule.public_id}/", data).status_code
        == 302
    )
    assert list(rule.versions.values_list("number", flat=True)) == [2, 1]
    page = _client(bob).get(f"/settings/rules/{rule.public_id}/").content.decode()
    assert "Only admins change rules" in page


def test_mode_buttons_need_an_admin(org, alice, oscar) -> None:
    rule = make_rule(org, "caller.valid", {"reject": True})
    url = f"/settings/rules/{rule.public_id}/mode/"
    assert _client(oscar).post(url, {"mode": "live"}).status_code == 403
    rule.refresh_from_db()
    assert rule.mode == "shadow"
    _client(alice).post(url, {"mode": "live"})
    rule.refresh_from_db()
    assert rule.mode == "live"


def test_the_list_shows_hit_counts(org, alice) -> None:
    from trustconsole.policy import state as core_state

    rule = make_rule(org, "caller.valid", {"reject": True}, name="Valid")
    rules = engine.rule_set(core_state.current(org.pk), "inbound_call")
    for _ in range(3):
        engine.evaluate(
            rules,
            EventContext(
                org.pk, "inbound_call", {"caller": {"e164": "+2348012345678"}}
            ),
        )
    engine.hits_flush()
    page = _client(alice).get("/settings/rules/").content.decode()
    assert "3 (would have)" in page
    assert rule.name in page


def test_the_list_groups_the_rules_by_channel_each_in_its_own_order(org, alice) -> None:
    """GIVEN the default rule set, where the voice and account rules of several
    channels each start at order 10 WHEN the list is shown THEN every channel is
    one heading with its own rules under it, so "10" is never shared by two
    rules of one list."""
    import re

    page = _client(alice).get("/settings/rules/").content.decode()
    rows = re.findall(
        r'data-testid="rule-channel"><th scope="rowgroup" colspan="8">([^<]+)</th>'
        r'|<tr data-testid="rule-row">\s*<td>(\d+)</td>\s*<td><a [^>]*>([^<]+)</a>',
        page,
    )
    lists: dict[str, list[tuple[int, str]]] = {}
    heading = ""
    for channel, order, name in rows:
        if channel:
            assert channel not in lists, f"{channel} is shown twice"
            heading = channel
            lists[heading] = []
        else:
            lists[heading].append((int(order), name))
    assert lists["Inbound call"] == [(10, "Repeated calls")]
    assert lists["Outbound call check"] == [(10, "Harassment limit")]
    assert lists["Outbound call refused"] == [(10, "Repeated outbound denials")]
    for channel, found in lists.items():
        orders = [order for order, _ in found]
        assert len(set(orders)) == len(orders), f"two rules share an order: {channel}"
    assert "The order counts within a channel" in page


def test_another_organisations_rule_page_is_404(other_org, alice) -> None:
    theirs = make_rule(other_org, "caller.valid", {"reject": True})
    assert _client(alice).get(f"/settings/rules/{theirs.public_id}/").status_code == 404


def test_the_facts_reference_lists_every_channel(bob) -> None:
    page = _client(bob).get("/settings/rules/facts/").content.decode()
    for name in (
        "caller.country",
        "call.attestation",
        "message.text",
        "account.complaints",
    ):
        assert name in page


def test_a_backtest_from_the_rule_page_shows_its_progress_and_result(
    org, alice, django_capture_on_commit_callbacks
) -> None:
    from trustconsole.rules.backtest import backtest_run
    from trustconsole.rules.models import Backtest
    from voicegate.models import CallDecision

    CallDecision.objects.create(
        organisation=org, provider="generic", event_id="e1", caller="+2348012345678",
        caller_e164="+2348012345678", callee="+1", decision="allow",
        reason="not_listed",
    )  # fmt: skip
    rule = make_rule(org, 'caller.country == "GB"', {"reject": True})
    client = _client(alice)
    with django_capture_on_commit_callbacks(execute=False):
        html = client.post(
            f"/settings/rules/{rule.public_id}/backtest/",
            {"condition": 'caller.country == "NG"', "days": "7"},
            headers={"HX-Request": "true"},
        ).content.decode()
    assert 'data-status="pending"' in html and "every 1s" in html
    found = Backtest.objects.get()
    backtest_run(found.pk)
    html = client.get(f"/settings/rules/backtests/{found.public_id}/").content.decode()
    assert 'data-status="done"' in html and "every 1s" not in html
    assert "<strong>1</strong> of 1 event, 1 identity" in html
    assert "Current version 1: 0 events" in html
    bad = client.post(
        f"/settings/rules/{rule.public_id}/backtest/",
        {"condition": "caller.", "days": "7"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "Line 1, column" in bad
