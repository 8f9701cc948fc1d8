"""The default rule "Repeated calls", through the real entry points (a Telnyx and a
Twilio webhook, `POST /api/v1/voice/decide`): the gate's own count as a fact, the
Voice settings as its numbers, an event once per window; edited, in shadow, off."""

from __future__ import annotations

import importlib
import json
import uuid

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError

from tests.voicegate.conftest import call_initiated, hook_path
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.rules import engine, selectors
from trustconsole.rules.models import Rule, RuleMatch, RuleVersion
from trustconsole.rules.services import rule_create, rule_set_mode, rule_update
from visitors.models import Event, RiskSignal
from visitors.selectors import visitor_by_phone
from visitors.services import visitor_upsert, visitor_whitelist
from voicegate import services, signatures
from voicegate.choices import Provider

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]

CALLER = "+14155550177"


@pytest.fixture(autouse=True)
def _worker_inline(monkeypatch):
    """The worker's job (the rule's effects on the caller), run here."""
    from trustconsole.rules import tasks

    monkeypatch.setattr(
        tasks.call_effects, "apply_async", lambda args, **kw: tasks.call_effects(*args)
    )


def _admin(org: Organisation) -> Actor:
    return Actor.system_for(org, "admin in a test")


def _threshold(org: Organisation, n: int, window: int = 600) -> None:
    services.voice_settings_update(
        actor=_admin(org),
        repeated_call_threshold=n,
        repeated_call_window_seconds=window,
    )


def _rule(org: Organisation) -> Rule:
    return Rule.objects.select_related("current_version").get(
        organisation=org, builtin="repeated_calls"
    )


def _telnyx(client, connection, signer, caller: str = CALLER, event_id: str = ""):
    body = json.dumps(call_initiated(caller, event_id=event_id or None)).encode()
    response = client.post(
        hook_path(connection), body, content_type="application/json",
        **signer.headers(body),
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()


def _events() -> list[Event]:
    return list(Event.objects.filter(kind="repeated_calls").order_by("id"))


def test_a_new_organisation_gets_the_repeated_calls_rule() -> None:
    organisation = Organisation.objects.create(name="Gamma", slug="gamma")
    rule = _rule(organisation)
    assert (rule.name, rule.channel, rule.mode) == (
        "Repeated calls",
        "inbound_call",
        "live",
    )
    assert rule.current_version.condition == (
        "caller.calls_recent == voice.repeated_call_threshold + 1"
    )
    assert rule.current_version.effect == {"event": {"kind": "repeated_calls"}}
    assert rule.current_version.created_by == "default rule set"


def test_the_call_that_crosses_the_threshold_records_one_event_and_its_signal(
    org, telnyx_signer, make_connection, client
) -> None:
    """GIVEN a threshold of 3 calls in 600 s WHEN one number calls six times
    through Telnyx THEN the fourth call records one repeated calls event (its rule
    named), whose default weight adds a High signal; the others add nothing and
    every call is let through."""
    _threshold(org, 3)
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    answers = [_telnyx(client, connection, telnyx_signer) for _ in range(3)]
    assert visitor_by_phone(organisation_id=org.pk, e164=CALLER) is None
    answers += [_telnyx(client, connection, telnyx_signer) for _ in range(3)]
    assert {a["decision"] for a in answers} == {"allow"}
    [event] = _events()
    assert event.detail == {"number": CALLER, "calls": 4, "window_seconds": 600}
    assert event.recorded_by == "system: rule Repeated calls (version 1)"
    signal = RiskSignal.objects.get()
    assert (signal.signal_type, signal.level, signal.event) == (
        "repeated_calls",
        "high",
        event,
    )
    assert signal.visitor.trust_score == 60
    engine.hits_flush()
    match = RuleMatch.objects.get(rule=_rule(org))
    assert (match.mode, match.acted, match.subject_label) == ("live", True, CALLER)
    assert match.real_by == "rule Repeated calls (version 1)"


def test_a_redelivered_webhook_does_not_count_again(
    org, telnyx_signer, make_connection, client
) -> None:
    _threshold(org, 1)
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    event_id = str(uuid.uuid4())
    _telnyx(client, connection, telnyx_signer, event_id=event_id)
    assert _telnyx(client, connection, telnyx_signer, event_id=event_id) == {
        "status": "duplicate"
    }
    assert _events() == []
    _telnyx(client, connection, telnyx_signer)
    assert len(_events()) == 1


def test_a_twilio_webhook_and_the_decision_api_count_the_same_caller(
    org, make_connection, client, api_client_for
) -> None:
    _threshold(org, 1)
    connection = make_connection(org, Provider.TWILIO, secret="twilio-auth-token")
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": CALLER, "To": "+14155550100"}
    url = "http://testserver" + hook_path(connection)
    signature = signatures.twilio_signature(
        auth_token="twilio-auth-token", url=url,
        params={k: [v] for k, v in params.items()},
    )  # fmt: skip
    response = client.post(
        hook_path(connection), params, HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert response.status_code == 200
    assert _events() == []
    answer = api_client_for(org, "operator").post(
        "/api/v1/voice/decide",
        {"from": CALLER, "to": "+14155550100", "call_id": uuid.uuid4().hex},
        format="json",
    )
    assert answer.json()["action"] == "allow"
    [event] = _events()
    assert event.detail["calls"] == 2


def test_a_higher_threshold_written_into_the_rule_changes_when_it_fires(
    org, telnyx_signer, make_connection, client
) -> None:
    """GIVEN the admin rewrites the rule to fire on the 6th call (the setting
    still says 3) THEN the 4th call records nothing and the 6th does, with the
    rule's new version named."""
    _threshold(org, 3)
    rule_update(
        actor=_admin(org), rule=_rule(org), condition="caller.calls_recent == 6"
    )
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    for _ in range(5):
        _telnyx(client, connection, telnyx_signer)
    assert _events() == []
    _telnyx(client, connection, telnyx_signer)
    [event] = _events()
    assert event.detail["calls"] == 6
    assert event.recorded_by == "system: rule Repeated calls (version 2)"


def _counted_runs(monkeypatch) -> list[int]:
    """The counts the counted rules were evaluated on (a spy: the engine runs)."""
    seen: list[int] = []
    real = engine.evaluate

    def spy(rules, ctx, **kw):
        if "calls_recent" in ctx.data.get("caller", {}):
            seen.append(ctx.data["caller"]["calls_recent"])
        return real(rules, ctx, **kw)

    monkeypatch.setattr(engine, "evaluate", spy)
    return seen


def test_calls_that_cannot_cross_the_threshold_skip_the_engine(
    org, telnyx_signer, make_connection, client, monkeypatch
) -> None:
    """GIVEN "Repeated calls" with a threshold of 2 WHEN one number calls four
    times THEN the counted rules are evaluated only on the third call (the only
    count `calls_recent == threshold + 1` can match), which records the event;
    the others are let through untouched, as before."""
    _threshold(org, 2)
    seen = _counted_runs(monkeypatch)
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    answers = [_telnyx(client, connection, telnyx_signer) for _ in range(4)]
    assert {a["decision"] for a in answers} == {"allow"}
    assert seen == [3]
    [event] = _events()
    assert event.detail["calls"] == 3


@pytest.mark.parametrize(
    ("condition", "evaluated"),
    [
        # the count and another fact in a conjunction: skipped below 2
        ('caller.country == "US" && caller.calls_recent >= 2', [2, 3]),
        # either the count or another fact: every call is evaluated
        ('caller.calls_recent >= 3 || caller.country == "US"', [1, 2, 3]),
    ],
)
def test_an_edited_counted_rule_is_evaluated_whenever_it_can_match(  # noqa: PLR0913
    org, telnyx_signer, make_connection, client, monkeypatch, condition, evaluated
) -> None:
    """GIVEN the admin rewrites "Repeated calls" to read the caller's country too
    WHEN a US number calls three times THEN the rule is evaluated on every call
    it could match on (all of them when the country alone can make it true), and
    each of those calls matches and records its event."""
    _threshold(org, 5)
    rule_update(actor=_admin(org), rule=_rule(org), condition=condition)
    seen = _counted_runs(monkeypatch)
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    for _ in range(3):
        _telnyx(client, connection, telnyx_signer)
    assert seen == evaluated
    assert [e.detail["calls"] for e in _events()] == evaluated


def test_in_shadow_it_records_nothing_and_logs_the_would_be_match(
    org, telnyx_signer, make_connection, client
) -> None:
    _threshold(org, 2)
    rule = rule_set_mode(actor=_admin(org), rule=_rule(org), mode="shadow")
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    for _ in range(4):
        assert _telnyx(client, connection, telnyx_signer)["decision"] == "allow"
    assert _events() == []
    assert not RiskSignal.objects.exists()
    assert visitor_by_phone(organisation_id=org.pk, e164=CALLER) is None
    engine.hits_flush()
    match = RuleMatch.objects.get(rule=rule)
    assert (match.mode, match.acted, match.real) == (
        "shadow",
        False,
        "allowed, untouched",
    )
    assert match.excerpt == "3 calls in 600 s"
    rule = _rule(org)
    found = selectors.rule_matches(rule=rule)
    assert found is not None
    assert (found["lead"], found["total"], found["subjects"]) == (
        "Would have recorded an event on the callers of",
        1,
        1,
    )


def test_turned_off_it_does_nothing(
    org, telnyx_signer, make_connection, client
) -> None:
    _threshold(org, 1)
    rule = rule_set_mode(actor=_admin(org), rule=_rule(org), mode="off")
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    for _ in range(3):
        _telnyx(client, connection, telnyx_signer)
    engine.hits_flush()
    assert _events() == []
    assert not RuleMatch.objects.filter(rule=rule).exists()


def test_a_whitelisted_caller_collects_no_repeated_calls_event(
    org, telnyx_signer, make_connection, client
) -> None:
    _threshold(org, 1)
    friend = visitor_upsert(actor=_admin(org), phones=[CALLER])
    visitor_whitelist(actor=_admin(org), visitor=friend, reason="our office")
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    for _ in range(3):
        _telnyx(client, connection, telnyx_signer)
    assert _events() == []


def test_a_rule_reading_the_call_count_cannot_reject(org) -> None:
    with pytest.raises(ValidationError) as exc:
        rule_create(
            actor=_admin(org), name="too many", channel="inbound_call",
            condition="caller.calls_recent > 20", effect={"reject": True},
        )  # fmt: skip
    assert "cannot reject" in exc.value.message_dict["effect.reject"][0]
    with pytest.raises(ValidationError):
        rule_update(actor=_admin(org), rule=_rule(org), effect={"reject": True})


def test_the_migration_adds_the_voice_defaults_to_existing_organisations(
    org, other_org
) -> None:
    """GIVEN an organisation from before the voice defaults (Alpha: none of them)
    WHEN the data migration runs THEN it gets both, once; Beta's own are kept."""
    migration = importlib.import_module(
        "trustconsole.rules.migrations.0005_voice_default_rules"
    )
    keys = ("repeated_calls", "harassment_limit")
    Rule.objects.filter(organisation=org, builtin__in=keys).delete()
    kept = set(
        Rule.objects.filter(organisation=other_org, builtin__in=keys).values_list(
            "pk", flat=True
        )
    )
    migration.forwards(django_apps, None)
    migration.forwards(django_apps, None)
    assert sorted(
        Rule.objects.filter(organisation=org, builtin__in=keys).values_list(
            "builtin", flat=True
        )
    ) == ["harassment_limit", "repeated_calls"]
    assert (
        set(
            Rule.objects.filter(organisation=other_org, builtin__in=keys).values_list(
                "pk", flat=True
            )
        )
        == kept
    )
    assert RuleVersion.objects.filter(rule__organisation=org, rule__builtin__in=keys)
    assert _rule(org).current_version.created_by == "default rule set"


def test_a_counted_rule_reading_the_window_sees_each_call_counted_once(
    org, telnyx_signer, make_connection, client
) -> None:
    """GIVEN a shadow rule reading the caller's 10-minute window and a counted
    rule that compares that window with the gate's own count WHEN one number
    calls three times THEN the window holds three calls, not six (the counted
    rule takes the count the first rules' window gave, it does not count the
    call again), and the counted rule matches on every call, seeing both
    counts equal."""
    from tests.rules.factories import make_rule
    from trustconsole.rules import windows

    caller = f"+1202555{uuid.uuid4().int % 10**4:04d}"  # windows outlive a test
    make_rule(org, "caller.calls_10m >= 1", {"reject": True}, mode="shadow")
    make_rule(
        org,
        "caller.calls_recent >= 1 && caller.calls_10m == caller.calls_recent",
        {"event": {"kind": "repeated_calls"}},
        name="Window and count",
        mode="live",
    )
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    for _ in range(3):
        assert _telnyx(client, connection, telnyx_signer, caller)["decision"] == (
            "allow"
        )
    window = windows.counts(f"{org.pk}:caller:{caller}", {"n": 600}, hit=False)
    assert window == {"n": 3}
    assert [e.detail["calls"] for e in _events()] == [1, 2, 3]
