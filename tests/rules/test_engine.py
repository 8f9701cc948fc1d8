"""The engine: compiled once per version, live acts, shadow never, failures skipped."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail

from tests.rules.factories import make_rule
from trustconsole.core.models import AuditEntry
from trustconsole.policy import state as core_state
from trustconsole.rules import engine
from trustconsole.rules.facts import EventContext
from trustconsole.rules.models import Rule, RuleHitCount
from trustconsole.rules.services import rule_set_mode, rule_update

NIGERIA = {"caller": {"number": "+2348012345678", "e164": "+2348012345678"}}


def _evaluate(org, channel="inbound_call", event=None, **kw):
    rules = engine.rule_set(core_state.current(org.pk), channel)
    return engine.evaluate(rules, EventContext(org.pk, channel, event or NIGERIA), **kw)


def test_a_live_rule_decides_and_a_shadow_rule_is_only_listed(org) -> None:
    live = make_rule(
        org, 'caller.country == "NG"', {"reject": True}, mode="live", order=2
    )
    shadow = make_rule(org, "caller.valid", {"reject": True}, mode="shadow", order=1)
    outcome = _evaluate(org)
    assert outcome.decided_by is not None and outcome.decided_by.pk == live.pk
    assert [r.pk for r in outcome.shadow] == [shadow.pk]
    assert outcome.explanation()["rule"]["version"] == 1


def test_rules_are_compiled_once_per_version_and_follow_changes(
    org, django_assert_num_queries
) -> None:
    rule = make_rule(org, 'caller.country == "GB"', {"reject": True}, mode="live")
    assert _evaluate(org).decided_by is None
    with django_assert_num_queries(0):  # compiled and cached: no query per event
        _evaluate(org)
    rule_update(actor=_admin(org), rule=rule, condition='caller.country == "NG"')
    outcome = _evaluate(org)
    assert outcome.decided_by is not None and outcome.decided_by.version == 2


def test_off_rules_do_not_run(org) -> None:
    rule = make_rule(org, "caller.valid", {"reject": True}, mode="live")
    rule_set_mode(actor=_admin(org), rule=rule, mode="off")
    assert not _evaluate(org).matched


def test_a_rule_that_raises_is_counted_logged_and_skipped(org, caplog) -> None:
    bad = make_rule(
        org, "caller.calls_1h / 0 > 1", {"reject": True}, mode="live", order=1
    )
    good = make_rule(org, "caller.valid", {"reject": True}, mode="live", order=2)
    outcome = _evaluate(org)
    assert [r.pk for r, _ in outcome.errors] == [bad.pk]
    assert outcome.decided_by is not None and outcome.decided_by.pk == good.pk
    assert "raised" in caplog.text
    engine.hits_flush()
    row = RuleHitCount.objects.get(rule=bad)
    assert (row.errors, row.hits) == (1, 0)
    assert RuleHitCount.objects.get(rule=good).hits == 1


def test_a_rule_over_its_time_budget_is_turned_off_and_admins_are_told(
    org, alice, settings, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    settings.RULES_TIME_BUDGET_US = 10
    settings.RULES_BUDGET_STRIKES = 2
    numbers = "[" + ",".join(str(i) for i in range(80)) + "]"
    slow = make_rule(
        org,
        f"{numbers}.exists(a, {numbers}.exists(b, a * b == -1))",
        {"reject": True},
        mode="live",
    )
    from trustconsole.rules import tasks

    # The task runs here instead of on a worker (its body is the real one).
    monkeypatch.setattr(
        tasks.rule_disabled_notify,
        "apply_async",
        lambda args, **kw: tasks.rule_disabled_notify(*args),
    )
    with django_capture_on_commit_callbacks(execute=True):
        _evaluate(org)
        _evaluate(org)
    slow.refresh_from_db()
    assert slow.mode == "off"
    assert "time budget" in slow.disabled_reason
    assert AuditEntry.objects.filter(
        action="rule.disable", target_id=str(slow.public_id)
    ).exists()
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert slow.name in mail.outbox[0].subject
    assert not _evaluate(org).matched  # the others decide on without it


def test_test_mode_never_moves_counters_or_counts_hits(org) -> None:
    make_rule(org, "caller.calls_10m >= 1", {"reject": True}, mode="live")
    rules = engine.rule_set(core_state.current(org.pk), "inbound_call")
    number = f"+23480{uuid.uuid4().int % 10**8:08d}"  # counters outlive a test
    event = {"caller": {"number": number, "e164": number}}
    ctx = EventContext(org.pk, "inbound_call", event, count=False)
    outcome = engine.evaluate(rules, ctx, trace=True)
    assert not outcome.matched  # nothing counted: 0 calls in 10 minutes
    assert outcome.trace[0]["matched"] is False
    engine.hits_flush()
    assert not RuleHitCount.objects.exists()
    assert _evaluate(org, event=event).decided_by is not None  # live counts itself


def _admin(org):
    from trustconsole.core.actor import Actor

    return Actor.system_for(org, "tests")


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        (
            'contains_any(message.text, ["Gift Card"])',
            {"message": {"text": "buy a gift card now"}},
            True,
        ),
        (
            'matches_re(message.text, r"\\b\\d{16}\\b")',
            {"message": {"text": "card 4111111111111111"}},
            True,
        ),
        (
            'matches_re(message.text, r"\\b\\d{16}\\b")',
            {"message": {"text": "no numbers"}},
            False,
        ),
        (
            'visitor.email_domain == "mailinator.com"',
            {"visitor": {"email": "X@Mailinator.com"}},
            True,
        ),
        ("visitor.trust_score < 40", {"visitor": {"trust_score": 30}}, True),
        (
            "local.hour == 3 && local.weekday == 6",
            {"local": {"hour": 3, "weekday": 6}},
            True,
        ),
    ],
)
def test_chat_facts_and_helpers(org, condition, event, expected) -> None:
    make_rule(org, condition, {"block": True}, mode="live", channel="chat_message")
    outcome = _evaluate(org, "chat_message", event)
    assert (outcome.decided_by is not None) is expected


def test_rules_of_another_organisation_never_run(org, other_org) -> None:
    make_rule(other_org, "caller.valid", {"reject": True}, mode="live")
    assert not _evaluate(org).matched
    assert Rule.objects.count() == 1


def test_guarded_rules_run_only_when_their_fact_can_match(org) -> None:
    """GIVEN rules whose first conjunct pins a fact (caller.country == "GB") WHEN
    a Nigerian calls THEN they are not run at all (their failing rest would count
    an error), while an unguarded rule still is; a British caller runs them."""
    guarded = make_rule(
        org, 'caller.country == "GB" && caller.calls_1h / 0 > 1', {"reject": True},
        mode="live", order=1,
    )  # fmt: skip
    plain = make_rule(org, "caller.valid", {"reject": True}, mode="shadow", order=2)
    assert engine.rule_set(core_state.current(org.pk), "inbound_call").rules[0].guard
    outcome = _evaluate(org)
    assert not outcome.errors
    assert [r.pk for r in outcome.shadow] == [plain.pk]
    british = {"caller": {"number": "+442079460000", "e164": "+442079460000"}}
    outcome = _evaluate(org, event=british)
    assert [r.pk for r, _ in outcome.errors] == [guarded.pk]
    assert [r.pk for r in outcome.shadow] == [plain.pk]


@pytest.mark.parametrize(
    "event",
    [
        {"caller": {"number": "anonymous"}},
        {"caller": {"number": "+2348012345678", "e164": "+2348012345678"}},
        {"caller": {"number": "+442079460000", "e164": "+442079460000"}},
        {"call": {"attestation": "C"}, "caller": {"e164": "+2348012345678"}},
    ],
)
def test_the_fast_path_matches_exactly_what_each_rule_says_alone(org, event) -> None:
    conditions = [
        'caller.country == "NG" && call.attestation == "C"',
        "caller.anonymous && local.hour >= 0",
        'caller.country in ["GB", "NG"] && !caller.on_block_list',
        "!caller.valid",
        'caller.e164.startsWith("+44") || call.attestation == "C"',
        '(caller.country == "NG" || caller.anonymous) && call.provider == ""',
    ]
    for i, condition in enumerate(conditions):
        make_rule(org, condition, {"reject": True}, mode="live", order=i, name=str(i))
    fast = _evaluate(org, event=event)
    traced = _evaluate(org, event=event, trace=True)  # every rule, one by one
    assert [r.name for r in fast.live] == [r.name for r in traced.live]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Buy a GIFT CARD now", True),
        ("gift\ncard", False),
        ('say "hi"', True),
        ("", False),
    ],
)
def test_keyword_lists_run_natively_and_agree_with_the_helper(
    org, text, expected
) -> None:
    """contains_any over a fact is computed once per event by the engine (no call
    back into Python from the evaluator); the draft path (the helper as a host
    function) gives the same answer."""
    condition = 'contains_any(message.text, ["Gift Card", "SAY \\"HI\\""])'
    make_rule(org, condition, {"block": True}, mode="live", channel="chat_message")
    engine.rule_set(core_state.current(org.pk), "chat_message")
    assert all("contains_any" not in c.native for c in engine._PROGRAMS.values())
    event = {"message": {"text": text}}
    native = _evaluate(org, "chat_message", event)
    assert (native.decided_by is not None) is expected
    from trustconsole.rules.testing import _draft

    draft = engine.evaluate(
        [_draft("chat_message", condition, None)],
        EventContext(org.pk, "chat_message", event, count=False),
    )
    assert (draft.decided_by is not None) is expected
