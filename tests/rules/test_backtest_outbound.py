"""Backtests of outbound-check drafts replay every logged check, allowed or
refused, with the facts the live rules saw: the history is made by real checks
through `POST /api/v1/voice/outbound-check`, kept by the check log
(`voicegate.policy.checklog`), replayed by `rules.backtest_run` and read back by
the API and the rule's page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AccountNumber
from tests.accounts.factories import AccountFactory
from trustconsole.core.actor import Actor
from trustconsole.rules.backtest import backtest_run
from trustconsole.rules.models import Backtest, Rule
from voicegate.policy import checklog, memory
from voicegate.policy.models import OutboundCheck, OutboundDenial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]

CHECK = "/api/v1/voice/outbound-check"
OWNED = "+14155550100"
NOT_OWNED = "+14155550111"
LONDON = "+442079460123"
LONDON_2 = "+442079460555"
TRUSTED = "+442079460777"
PARIS = "+33142685300"


@pytest.fixture(autouse=True)
def _fresh_policy_state() -> Iterator[None]:
    memory.states_clear()
    yield
    memory.states_clear()


@pytest.fixture
def history(org, other_org, api_client_for):
    """Eight real checks of one account: London four times (the default
    "Harassment limit" of 3 refuses the fourth), Paris once, a GB number from a
    caller ID the account does not own (refused), and a whitelisted GB number
    (allowed; rules never judge it); another organisation's check besides."""
    from visitors.services import visitor_upsert, visitor_whitelist

    account = AccountFactory(organisation=org, company_name="Dialer Ltd")
    AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
    actor = Actor.system_for(org, "tests")
    visitor_whitelist(
        actor=actor,
        visitor=visitor_upsert(actor=actor, name="Trusted", phones=[TRUSTED]),
        reason="a known customer",
    )
    api = api_client_for(org, "operator")
    answers = [
        _check(api, OWNED, to, account)
        for to in (LONDON, LONDON, LONDON, LONDON, PARIS)
    ]
    answers.append(_check(api, NOT_OWNED, LONDON_2, account))
    answers.append(_check(api, OWNED, TRUSTED, account))
    _check(api_client_for(other_org, "operator"), "+14155550999", LONDON, None)
    assert [a["allowed"] for a in answers] == [
        True,
        True,
        True,
        False,
        True,
        False,
        True,
    ]
    assert [v["code"] for v in answers[3]["violations"]] == ["harassment"]
    assert [v["code"] for v in answers[5]["violations"]] == ["caller_id_not_owned"]
    checklog.flush()
    return account


def _check(api, caller: str, to: str, account) -> dict:
    body = {"from": caller, "to": to}
    if account is not None:
        body["account"] = str(account.public_id)
    response = api.post(CHECK, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _backtest(client, condition: str, *, rule: Rule | None = None) -> dict:
    now = timezone.now()
    body = {
        "channel": "outbound_check",
        "condition": condition,
        "start": (now - dt.timedelta(days=1)).isoformat(),
        "end": (now + dt.timedelta(minutes=5)).isoformat(),
    }
    if rule is not None:
        body["rule"] = str(rule.public_id)
    response = client.post("/api/v1/rules/backtests/", body, format="json")
    assert response.status_code == 202, response.content
    public_id = response.json()["id"]
    assert backtest_run(Backtest.objects.get(public_id=public_id).pk) == "done"
    found = client.get(f"/api/v1/rules/backtests/{public_id}/").json()
    assert found["status"] == "done", found
    return found


def test_every_check_is_logged_with_the_facts_the_rules_saw(org, history) -> None:
    """GIVEN the checks of `history` WHEN the check log is flushed THEN each of
    the organisation's seven checks is a row, allowed ones too, with the
    harassment counter, the caller ID's ownership and the whitelisting."""
    rows = list(OutboundCheck.objects.filter(organisation=org).order_by("id"))
    assert [(r.to_e164, r.allowed, r.codes) for r in rows] == [
        (LONDON, True, ""),
        (LONDON, True, ""),
        (LONDON, True, ""),
        (LONDON, False, "harassment"),
        (PARIS, True, ""),
        (LONDON_2, False, "caller_id_not_owned"),
        (TRUSTED, True, ""),
    ]
    assert [r.calls_made for r in rows[:4]] == [0, 1, 2, 3]
    assert [r.caller_id_owned for r in rows] == [True] * 5 + [False, True]
    assert [r.whitelisted for r in rows] == [False] * 6 + [True]
    assert {r.account_id for r in rows} == {history.pk}
    assert {r.account_status for r in rows} == {"active"}
    assert rows[0].harassment_limit == 3
    assert OutboundCheck.objects.count() == 8  # the other organisation's too


def test_a_draft_replays_allowed_and_refused_checks(
    org, history, api_client_for
) -> None:
    """GIVEN the history WHEN a draft refusing every GB destination is backtested
    THEN it hits the four London checks and the refused GB one (three of them
    really allowed), one identity; the whitelisted number is counted as not
    judged; the Paris check and the other organisation's do not hit."""
    client = api_client_for(org, "operator")
    found = _backtest(client, 'destination.country == "GB"')
    result = found["result"]
    assert found["total"] == 7
    assert (result["events"], result["hits"], result["identities"]) == (7, 5, 1)
    assert result["real"] == {"allowed": 3, "refused": 2}
    assert (result["skipped"], result["capped_hours"], result["errors"]) == (1, 0, 0)
    assert [(s["to"], s["allowed"]) for s in result["sample"]] == [
        (LONDON, True),
        (LONDON, True),
        (LONDON, True),
        (LONDON, False),
        (LONDON_2, False),
    ]
    assert result["sample"][3]["codes"] == "harassment"
    assert result["sample"][0]["account"] == "Dialer Ltd"

    # The facts as the live check saw them: the caller ID's ownership, the
    # calls made to the number before each check and those of the last 24 h.
    owned = _backtest(client, '!caller_id.owned && destination.country == "GB"')
    assert (owned["result"]["hits"], owned["result"]["real"]) == (
        1,
        {"allowed": 0, "refused": 1},
    )
    counted = _backtest(client, "destination.calls_24h >= 3")
    assert counted["result"]["hits"] == 2  # the third and fourth London calls


def test_a_draft_is_compared_with_the_live_harassment_limit(
    org, oscar, history, api_client_for
) -> None:
    """GIVEN the default rule "Harassment limit" (live: calls made >= 3) WHEN a
    draft lowering it to 2 is backtested against it, by API and from the rule's
    page THEN the draft hits two London checks (one really allowed), the live
    version one (the refused check), one only with the draft."""
    rule = Rule.objects.get(organisation=org, builtin="harassment_limit")
    draft = "destination.calls_made >= 2"
    client = api_client_for(org, "operator")
    result = _backtest(client, draft, rule=rule)["result"]
    assert (result["hits"], result["real"]) == (2, {"allowed": 1, "refused": 1})
    assert result["live"] == {
        "version": 1,
        "hits": 1,
        "identities": 1,
        "only_draft": 1,
        "only_live": 0,
    }

    page = Client()
    page.force_login(oscar)
    html = page.post(
        f"/settings/rules/{rule.public_id}/backtest/",
        {"condition": draft, "days": "1"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert 'data-status="pending"' in html
    backtest_run(Backtest.objects.filter(rule=rule).latest("created_at").pk)
    html = page.get(
        f"/settings/rules/backtests/{Backtest.objects.latest('created_at').public_id}/"
    ).content.decode()
    assert "<strong>2</strong> of 7 events, 1 identity" in html
    assert "Current version 1: 1 event, 1 identity" in html
    assert "The draft's hits: 1 really allowed, 1 refused." in html
    assert "1 check to whitelisted destinations not judged" in html
    assert f"Dialer Ltd: {OWNED} → {LONDON} (refused: harassment)" in html
    assert f"Dialer Ltd: {OWNED} → {LONDON} (allowed)" in html


def test_before_the_check_log_started_the_denial_log_is_replayed(
    org, api_client_for
) -> None:
    """GIVEN refused checks kept only in the denial log (from before the check
    log) and one logged check after them WHEN a draft is backtested THEN the
    old refusals and the logged check are all replayed, each once."""
    old = timezone.now() - dt.timedelta(hours=3)
    for to in (LONDON, PARIS):
        denial = OutboundDenial.objects.create(
            organisation=org, from_number=OWNED, to_number=to, codes="dnc",
            violations=[],
        )  # fmt: skip
        OutboundDenial.objects.filter(pk=denial.pk).update(created_at=old)
    _check(api_client_for(org, "operator"), OWNED, LONDON, None)
    checklog.flush()
    # The new check is refused too (the organisation owns no number) and so also
    # in the denial log: it is replayed from the check log alone.
    assert OutboundDenial.objects.filter(organisation=org).count() == 3
    found = _backtest(api_client_for(org, "operator"), 'destination.country == "GB"')
    assert found["total"] == 3
    assert (found["result"]["events"], found["result"]["hits"]) == (3, 2)
    kinds = [s["kind"] for s in found["result"]["sample"]]
    assert kinds == ["outbound_denial", "outbound_check"]


def test_the_log_keeps_refusals_past_the_hourly_cap_and_prunes_old_rows(
    org, settings, api_client_for
) -> None:
    """GIVEN a cap of two allowed checks per hour WHEN four allowed checks and a
    refused one are made THEN two allowed and the refused one are logged, the
    backtest says the hour was capped; rows older than POLICY_CHECK_LOG_DAYS are
    pruned by the beat task."""
    from voicegate.policy.tasks import checks_prune_task

    settings.POLICY_CHECK_LOG_PER_HOUR = 2
    account = AccountFactory(organisation=org)
    AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
    api = api_client_for(org, "operator")
    for to in (PARIS, "+33142685301", "+33142685302", "+33142685303"):
        assert _check(api, OWNED, to, account)["allowed"]
    assert not _check(api, NOT_OWNED, PARIS, account)["allowed"]
    checklog.flush()
    rows = OutboundCheck.objects.filter(organisation=org)
    assert sorted(rows.values_list("allowed", flat=True)) == [False, True, True]
    assert _backtest(api, "true")["result"]["capped_hours"] == 1

    OutboundCheck.objects.filter(pk=rows.first().pk).update(
        occurred_at=timezone.now() - dt.timedelta(days=31)
    )
    assert checks_prune_task() == 1
    assert rows.count() == 2


def test_a_check_whose_account_is_gone_by_the_flush_is_kept_without_it(
    org, api_client_for
) -> None:
    """GIVEN a check of an account WHEN the account is deleted before the log is
    written THEN the check is still logged, with its window key and no account."""
    account = AccountFactory(organisation=org)
    AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
    assert _check(api_client_for(org, "operator"), OWNED, PARIS, account)["allowed"]
    key = f"account:{account.public_id}"
    account.delete()
    assert checklog.flush() == 1
    row = OutboundCheck.objects.get(organisation=org)
    assert (row.account_id, row.account_key, row.allowed) == (None, key, True)
