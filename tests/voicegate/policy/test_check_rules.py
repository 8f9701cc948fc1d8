"""Rules as data on the outbound call check, through the service and
`POST /api/v1/voice/outbound-check`: a live rule refuses with its own code or
holds the account, a shadow rule never acts, counts move only for calls made."""

from __future__ import annotations

import pytest

from accounts.choices import AccountStatus
from tests.rules.factories import make_rule
from tests.voicegate.policy.conftest import DEST, OTHER_DEST, OWNED, codes
from trustconsole.core.models import AuditEntry
from trustconsole.rules import engine
from trustconsole.rules.models import RuleHitCount
from visitors.services import visitor_upsert, visitor_whitelist
from voicegate.policy.models import OutboundDenial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]

LONDON = "+442079460123"
TO_GB = 'destination.country == "GB"'


def _rule(org, condition, effect, mode="live", **kw):
    return make_rule(org, condition, effect, channel="outbound_check", mode=mode, **kw)


def test_a_live_rule_refuses_with_its_code_and_the_explanation_names_it(
    check, org, account
) -> None:
    _rule(org, TO_GB, {"refuse": {"code": "uk_not_licensed"}}, name="No UK")
    answer = check(OWNED, LONDON, account=account)
    assert answer["allowed"] is False
    assert codes(answer) == ["uk_not_licensed"]
    explanation = answer["explanation"]
    assert (explanation["rule"]["name"], explanation["rule"]["version"]) == (
        "No UK",
        1,
    )
    assert "rule No UK (version 1)" in explanation["sentence"]
    denial = OutboundDenial.objects.get()
    assert denial.codes == "uk_not_licensed"
    # A call elsewhere is not touched by the rule.
    assert check(OWNED, DEST, account=account)["allowed"] is True


def test_a_shadow_rule_never_refuses_and_is_listed_and_counted(
    check, org, account
) -> None:
    rule = _rule(org, TO_GB, {"refuse": {"code": "uk_not_licensed"}}, mode="shadow")
    answer = check(OWNED, LONDON, account=account)
    assert answer["allowed"] is True
    assert answer["violations"] == []
    shadow = answer["explanation"]["shadow_rules"]
    assert [(r["id"], r["mode"]) for r in shadow] == [(str(rule.public_id), "shadow")]
    assert "Shadow rules that matched" in answer["explanation"]["sentence"]
    assert not OutboundDenial.objects.exists()
    engine.hits_flush()
    hits = RuleHitCount.objects.get(rule=rule)
    assert (hits.mode, hits.hits) == ("shadow", 1)


def test_a_shadow_rule_is_listed_next_to_a_real_refusal(check, org, account) -> None:
    _rule(org, "!caller_id.owned", {"refuse": {"code": "spoofed"}}, mode="shadow")
    answer = check("+14155550177", DEST, account=account)
    assert codes(answer) == ["caller_id_not_owned"]
    assert [r["name"] for r in answer["explanation"]["shadow_rules"]] == ["rule 1"]


def test_a_live_rule_holds_a_new_account_calling_abroad_and_refuses_the_call(
    check, org, account
) -> None:
    _rule(
        org,
        "account.age_days < 7 && destination.country != account.country",
        {"account": {"action": "hold"}},
        name="New account calling abroad",
    )
    account.country = "US"
    account.save()
    answer = check(OWNED, LONDON, account=account)
    assert codes(answer) == ["account_restricted"]
    assert "New account calling abroad" in answer["violations"][0]["detail"]
    account.refresh_from_db()
    assert account.status == AccountStatus.ON_HOLD
    assert "New account calling abroad (version 1)" in account.status_by
    entry = AuditEntry.objects.filter(action="account.hold").get()
    assert "Rule New account calling abroad (version 1)" in entry.reason
    assert list(account.emails.values_list("kind", flat=True)) == ["hold"]
    # The hold now refuses every call through the account status step.
    again = check(OWNED, DEST, account=account)
    assert again["explanation"]["step"] == "account_status"


def test_calls_in_24h_count_only_calls_that_are_made(check, org, account) -> None:
    _rule(org, "destination.calls_24h > 2", {"refuse": {"code": "too_often"}})
    made = [check(OWNED, DEST, account=account)["allowed"] for _ in range(4)]
    assert made == [True, True, False, False]
    # Another destination has its own count.
    assert check(OWNED, OTHER_DEST, account=account)["allowed"] is True


def test_denials_in_24h_refuse_an_account_that_keeps_being_refused(
    check, org, account
) -> None:
    _rule(org, "destination.denials_24h >= 2", {"refuse": {"code": "cool_down"}})
    for _ in range(2):
        assert codes(check("+14155550177", DEST, account=account)) == [
            "caller_id_not_owned"
        ]
    assert codes(check(OWNED, DEST, account=account)) == ["cool_down"]


def test_a_whitelisted_destination_is_never_refused_by_a_rule(
    check, op, org, account
) -> None:
    _rule(org, TO_GB, {"refuse": {"code": "uk_not_licensed"}})
    visitor = visitor_upsert(actor=op, phones=[LONDON])
    visitor_whitelist(actor=op, visitor=visitor, reason="our UK office")
    assert check(OWNED, LONDON, account=account)["allowed"] is True


def test_the_http_check_applies_live_rules(org, api_client_for, account) -> None:
    _rule(org, TO_GB, {"refuse": {"code": "uk_not_licensed"}}, name="No UK")
    client = api_client_for(org, "operator")
    response = client.post(
        "/api/v1/voice/outbound-check",
        {"from": OWNED, "to": LONDON, "account": str(account.public_id)},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert [v["code"] for v in body["violations"]] == ["uk_not_licensed"]
    assert body["explanation"]["rule"]["name"] == "No UK"
