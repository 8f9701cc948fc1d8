"""Rules as data on the inbound call path, through the real entry points:
`POST /api/v1/voice/decide` and a Twilio webhook. Shadow rules never act."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.rules.factories import make_rule
from tests.voicegate.conftest import hook_path, logged
from trustconsole.core.actor import Actor
from trustconsole.policy import state as core_state
from trustconsole.rules import engine
from trustconsole.rules.facts import EventContext
from trustconsole.rules.models import RuleHitCount
from visitors.models import RiskSignal
from visitors.services import visitor_upsert, visitor_whitelist
from voicegate import signatures
from voicegate.choices import Provider

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]

NIGERIA = "+2348012345678"
REJECT_NG = 'caller.country == "NG"'


def _decide(api_client_for, org, caller=NIGERIA, **extra):
    client = api_client_for(org, "operator")
    body = {"from": caller, "to": "+14155550100", "call_id": uuid.uuid4().hex, **extra}
    response = client.post("/api/v1/voice/decide", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_shadow_rule_never_rejects_and_is_listed_next_to_the_decision(
    org, api_client_for
) -> None:
    rule = make_rule(org, REJECT_NG, {"reject": True}, name="Nigeria", mode="shadow")
    answer = _decide(api_client_for, org)
    assert answer["action"] == "allow"
    assert answer["explanation"]["rule"] is None
    assert [
        (r["name"], r["version"], r["mode"])
        for r in answer["explanation"]["shadow_rules"]
    ] == [("Nigeria", 1, "shadow")]
    assert "Shadow rules that matched" in answer["explanation"]["sentence"]
    row = logged().get()
    assert row.decision == "allow"
    assert row.explanation["shadow_rules"][0]["id"] == str(rule.public_id)
    engine.hits_flush()
    assert RuleHitCount.objects.get(rule=rule).mode == "shadow"


def test_a_live_rule_rejects_and_the_explanation_names_it_and_its_version(
    org, api_client_for
) -> None:
    make_rule(org, REJECT_NG, {"reject": True}, name="Nigeria", mode="live")
    answer = _decide(api_client_for, org)
    assert (answer["action"], answer["reason"]) == ("reject", "rule")
    assert answer["explanation"]["step"] == "rule"
    assert answer["explanation"]["rule"]["name"] == "Nigeria"
    assert answer["explanation"]["rule"]["version"] == 1
    assert "rule Nigeria (version 1)" in answer["explanation"]["sentence"]
    assert _decide(api_client_for, org, caller="+14155550111")["action"] == "allow"
    assert logged().filter(decision="reject", reason="rule").count() == 1


def test_a_whitelisted_caller_is_never_rejected_by_a_rule(org, api_client_for) -> None:
    actor = Actor.system_for(org, "test")
    friend = visitor_upsert(actor=actor, name="Friend", phones=[NIGERIA])
    visitor_whitelist(actor=actor, visitor=friend, reason="known")
    make_rule(org, REJECT_NG, {"reject": True}, mode="live")
    answer = _decide(api_client_for, org)
    assert (answer["action"], answer["reason"]) == ("allow", "whitelisted")


def test_stir_shaken_attestation_is_a_fact_of_the_decision_api(
    org, api_client_for
) -> None:
    make_rule(org, 'call.attestation == "C"', {"reject": True}, mode="live")
    assert (
        _decide(api_client_for, org, caller="+14155550111", attestation="C")["action"]
        == "reject"
    )
    assert (
        _decide(api_client_for, org, caller="+14155550111", attestation="A")["action"]
        == "allow"
    )


def test_a_changed_rule_applies_to_the_very_next_call(org, api_client_for) -> None:
    from trustconsole.rules.services import rule_update

    rule = make_rule(org, 'caller.country == "GB"', {"reject": True}, mode="live")
    assert _decide(api_client_for, org)["action"] == "allow"
    rule_update(actor=Actor.system_for(org, "test"), rule=rule, condition=REJECT_NG)
    answer = _decide(api_client_for, org)
    assert answer["action"] == "reject"
    assert answer["explanation"]["rule"]["version"] == 2


def test_a_live_signal_rule_adds_risk_to_the_caller_and_a_shadow_one_does_not(
    org, api_client_for, monkeypatch
) -> None:
    from trustconsole.rules import tasks

    monkeypatch.setattr(  # the worker's job, run here
        tasks.call_effects, "apply_async", lambda args, **kw: tasks.call_effects(*args)
    )
    make_rule(
        org,
        REJECT_NG,
        {"signal": {"type": "spam", "level": "high"}},
        mode="shadow",
        name="s",
    )
    _decide(api_client_for, org)
    assert not RiskSignal.objects.exists()
    make_rule(
        org,
        REJECT_NG,
        {"signal": {"type": "spam", "level": "high"}},
        mode="live",
        name="l",
    )
    answer = _decide(api_client_for, org)
    assert answer["action"] == "allow"  # a signal does not decide the call
    signal = RiskSignal.objects.get()
    assert (signal.signal_type, signal.level, signal.weight) == ("spam", "high", 40)
    assert signal.visitor.identifiers.get().value == NIGERIA


def test_a_twilio_webhook_passes_stir_verstat_and_a_shadow_rule_lets_the_call_through(
    org, make_connection, client
) -> None:
    connection = make_connection(org, Provider.TWILIO, secret="twilio-auth-token")
    make_rule(
        org,
        'call.verstat == "TN-Validation-Failed"',
        {"reject": True},
        mode="shadow",
        name="failed verification",
    )
    params = {
        "CallSid": "CA" + uuid.uuid4().hex,
        "From": "+14155550111",
        "To": "+14155550100",
        "StirVerstat": "TN-Validation-Failed",
    }
    url = "http://testserver" + hook_path(connection)
    signature = signatures.twilio_signature(
        auth_token="twilio-auth-token",
        url=url,
        params={k: [v] for k, v in params.items()},
    )
    response = client.post(
        hook_path(connection), params, HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert [c.tag for c in ET.fromstring(response.content)] != ["Reject"]
    row = logged().get()
    assert row.decision == "allow"
    assert row.explanation["shadow_rules"][0]["name"] == "failed verification"


def test_rules_that_cannot_be_read_never_stop_a_call(
    org, api_client_for, monkeypatch, caplog
) -> None:
    """GIVEN the database fails while the rules are read WHEN a call comes THEN it is
    decided without them (logged), and the rules apply once they can be read."""
    make_rule(org, REJECT_NG, {"reject": True}, mode="live")

    def down(*args, **kwargs):
        raise RuntimeError("database unreachable")

    real = engine._load
    monkeypatch.setattr(engine, "_load", down)
    monkeypatch.setattr(engine, "RETRY_SECONDS", 0.0)  # tried again at once
    assert _decide(api_client_for, org)["action"] == "allow"
    assert "could not be read" in caplog.text
    monkeypatch.setattr(engine, "_load", real)
    assert _decide(api_client_for, org)["action"] == "reject"


def test_a_redelivered_call_is_counted_once_in_windows_and_rule_hits(
    org, api_client_for
) -> None:
    """GIVEN a live rule rejecting a caller's second call within 10 minutes and a
    shadow rule on any call WHEN one call is delivered three times THEN the first
    answer is allow and the call is counted once (one call in the window, one
    shadow hit); the caller's next, new call is the second and is rejected."""
    caller = f"+23480{uuid.uuid4().int % 10**8:08d}"  # counters outlive a test
    make_rule(org, "caller.calls_10m >= 2", {"reject": True}, name="Twice", mode="live")
    shadow = make_rule(org, "caller.calls_10m >= 1", {"reject": True}, mode="shadow")
    call_id = uuid.uuid4().hex
    first = _decide(api_client_for, org, caller=caller, call_id=call_id)
    assert first["action"] == "allow"
    for _ in range(2):
        _decide(api_client_for, org, caller=caller, call_id=call_id)

    rules = engine.rule_set(core_state.current(org.pk), "inbound_call")
    event = {"caller": {"number": caller, "e164": caller}}
    looked = engine.evaluate(
        rules, EventContext(org.pk, "inbound_call", event, count=False), trace=True
    )
    assert looked.facts["caller"]["calls_10m"] == 1
    engine.hits_flush()
    assert RuleHitCount.objects.get(rule=shadow).hits == 1

    second = _decide(api_client_for, org, caller=caller)
    assert second["action"] == "reject"
    assert second["explanation"]["rule"]["name"] == "Twice"
