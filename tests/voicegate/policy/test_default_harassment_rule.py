"""The default rule "Harassment limit", through `POST /api/v1/voice/outbound-check`:
the check's own counter as a fact, the policy settings as its numbers; edited, in
shadow, off, and a new organisation has it."""

from __future__ import annotations

import pytest

from tests.voicegate.policy.conftest import DEST, OTHER_DEST, OWNED
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.rules import engine
from trustconsole.rules.models import Rule, RuleHitCount
from trustconsole.rules.services import rule_set_mode, rule_update
from voicegate.policy import services
from voicegate.policy.models import OutboundDenial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]

CHECK = "/api/v1/voice/outbound-check"


@pytest.fixture
def call(org, account, api_client_for):
    """One check through the API: call(to=DEST) → the answer."""
    client = api_client_for(org, "operator")

    def run(to: str = DEST) -> dict:
        response = client.post(
            CHECK,
            {"from": OWNED, "to": to, "account": str(account.public_id)},
            format="json",
        )
        assert response.status_code == 200, response.content
        return response.json()

    return run


def _admin(org: Organisation) -> Actor:
    return Actor.system_for(org, "admin in a test")


def _rule(org: Organisation) -> Rule:
    return Rule.objects.select_related("current_version").get(
        organisation=org, builtin="harassment_limit"
    )


def _limit(org: Organisation, n: int) -> None:
    services.policy_settings_update(actor=_admin(org), harassment_limit=n)


def test_a_new_organisation_gets_the_harassment_rule() -> None:
    organisation = Organisation.objects.create(name="Gamma", slug="gamma")
    rule = _rule(organisation)
    assert (rule.name, rule.channel, rule.mode) == (
        "Harassment limit",
        "outbound_check",
        "live",
    )
    assert rule.current_version.condition == (
        "destination.calls_made >= policy.harassment_limit"
    )
    assert rule.current_version.effect == {"refuse": {"code": "harassment"}}


def test_the_default_refuses_at_the_limit_and_the_explanation_names_it(
    org, call
) -> None:
    """GIVEN a limit of 2 calls a day WHEN the account calls one number a third
    time THEN it is refused with `harassment`, a sentence with the count, window
    and limit, and an explanation naming the rule and its version."""
    _limit(org, 2)
    assert call()["allowed"] is True
    assert call()["allowed"] is True
    answer = call()
    [violation] = answer["violations"]
    assert violation["code"] == "harassment"
    assert violation["detail"] == (
        f"2 calls from this account to {DEST} in the last day; the limit is 2 "
        "(rule “Harassment limit”, version 1)."
    )
    explanation = answer["explanation"]
    assert (explanation["rule"]["name"], explanation["rule"]["version"]) == (
        "Harassment limit",
        1,
    )
    assert "rule Harassment limit (version 1)" in explanation["sentence"]
    assert OutboundDenial.objects.get().codes == "harassment"
    assert call(OTHER_DEST)["allowed"] is True


def test_a_lower_number_written_into_the_rule_refuses_sooner(org, call) -> None:
    _limit(org, 3)
    rule_update(
        actor=_admin(org), rule=_rule(org), condition="destination.calls_made >= 1"
    )
    assert call()["allowed"] is True
    [violation] = call()["violations"]
    assert violation["code"] == "harassment"
    assert violation["detail"].startswith(f"1 calls from this account to {DEST}")
    assert "too many (rule “Harassment limit”, version 2)" in violation["detail"]


def test_in_shadow_it_never_refuses_but_is_listed_and_counted(org, call) -> None:
    _limit(org, 1)
    rule = rule_set_mode(actor=_admin(org), rule=_rule(org), mode="shadow")
    assert call()["allowed"] is True
    answer = call()
    assert (answer["allowed"], answer["violations"]) == (True, [])
    assert [r["name"] for r in answer["explanation"]["shadow_rules"]] == [
        "Harassment limit"
    ]
    assert not OutboundDenial.objects.exists()
    engine.hits_flush()
    hits = RuleHitCount.objects.get(rule=rule)
    assert (hits.mode, hits.hits) == ("shadow", 1)


def test_turned_off_there_is_no_harassment_limit(org, call) -> None:
    _limit(org, 1)
    rule_set_mode(actor=_admin(org), rule=_rule(org), mode="off")
    for _ in range(3):
        answer = call()
        assert (answer["allowed"], answer["explanation"]["shadow_rules"]) == (
            True,
            [],
        )
    assert not OutboundDenial.objects.exists()
