"""Pins: a rule runs only for events one of its pins holds for, and the matches
(and errors) are exactly those of every rule run on its own."""

from __future__ import annotations

import pytest

from tests.rules.factories import make_rule
from trustconsole.policy import state as core_state
from trustconsole.rules import engine, pins
from trustconsole.rules.facts import EventContext, channel_facts

CALL = channel_facts("inbound_call").schema()

# Every shape the index reads, and some it must leave to the evaluator.
CONDITIONS = [
    'caller.e164.startsWith("+44") || callee.country == "US"',
    'callee.country == "NG" || caller.anonymous',
    "caller.trust_score < 50",
    "50 > caller.trust_score && caller.valid",
    "caller.calls_1h >= 3",
    "caller.calls_1h > 3 || caller.calls_10m <= 1",
    '(caller.country == "NG" || caller.anonymous) && call.provider == ""',
    'caller.e164.startsWith("") && call.attestation == "C"',
    'caller.country != "GB"',
    '(caller.valid ? "a" : "b") == "a"',
    'caller.country == "GB" || local.hour >= 0',
    'caller.e164.startsWith("+234") && caller.calls_1h / 0 > 1',
    "caller.trust_score <= 40 && caller.calls_10m / 0 > 1",
    '!caller.valid || caller.e164.startsWith("+1")',
    'caller.country == "GB" && call.attestation == "C"',
    'caller.country == "GB" && caller.trust_score < 50 && call.attestation == "A"',
    '(caller.country == "NG" && caller.anonymous) && caller.calls_1h / 0 > 1',
]

EVENTS = [
    {"caller": {"number": "anonymous"}},
    {"caller": {"number": "+2348012345678", "e164": "+2348012345678"}},
    {
        "caller": {"number": "+442079460000", "e164": "+442079460000"},
        "callee": {"number": "+14155550100", "e164": "+14155550100"},
        "call": {"attestation": "C"},
    },
    {
        "caller": {
            "number": "+14155550123",
            "e164": "+14155550123",
            "trust_score": 40,
            "calls_10m": 1,
            "calls_1h": 3,
        },
    },  # fmt: skip
    {
        "caller": {
            "number": "+2348012345678",
            "e164": "+2348012345678",
            "trust_score": 90,
            "calls_10m": 5,
            "calls_1h": 9,
        },
        "callee": {"number": "+2348099999999", "e164": "+2348099999999"},
    },  # fmt: skip
]


def _outcomes(org, event):
    rules = engine.rule_set(core_state.current(org.pk), "inbound_call")
    fast = engine.evaluate(
        rules, EventContext(org.pk, "inbound_call", event, count=False)
    )
    traced = engine.evaluate(
        rules, EventContext(org.pk, "inbound_call", event, count=False), trace=True
    )  # every rule, one by one
    return rules, fast, traced


@pytest.mark.parametrize("event", EVENTS)
def test_pinned_rules_match_and_fail_exactly_as_each_rule_alone(org, event) -> None:
    """GIVEN rules of every pinned shape (values, prefixes, ranges, both sides of
    ||), unpinned ones, and pinned ones whose rest raises WHEN events of several
    callers come THEN the fast path matches, in order, and fails exactly the
    rules each rule run on its own matches and fails."""
    for i, condition in enumerate(CONDITIONS):
        mode = "live" if i % 2 else "shadow"
        make_rule(org, condition, {"reject": True}, mode=mode, order=i, name=str(i))
    rules, fast, traced = _outcomes(org, event)
    assert rules.guarded and rules.loose is not None and rules.unguarded is not None
    assert [r.name for r in fast.live] == [r.name for r in traced.live]
    assert [r.name for r in fast.shadow] == [r.name for r in traced.shadow]
    assert [r.name for r, _ in fast.errors] == [r.name for r, _ in traced.errors]
    decided = fast.decided_by.name if fast.decided_by else None
    assert decided == (traced.decided_by.name if traced.decided_by else None)


def test_a_rule_whose_pins_do_not_hold_is_not_run(org) -> None:
    """GIVEN a range rule and a prefix rule whose rest would raise WHEN a call
    holds neither pin THEN neither raises (they did not run); a call holding
    them runs them (and they raise, counted as errors)."""
    make_rule(
        org, "caller.trust_score < 30 && caller.calls_1h / 0 > 1", {"reject": True}
    )
    make_rule(
        org,
        'caller.e164.startsWith("+44") && caller.calls_1h / 0 > 1',
        {"reject": True},
    )
    quiet = {"caller": {"number": "+2348012345678", "e164": "+2348012345678"}}
    _, fast, _ = _outcomes(org, quiet)
    assert fast.errors == []
    both = {
        "caller": {
            "number": "+442079460000", "e164": "+442079460000", "trust_score": 10,
        }
    }  # fmt: skip
    _, fast, _ = _outcomes(org, both)
    assert len(fast.errors) == 2


def test_a_batch_whose_second_pins_do_not_hold_is_not_run(org, monkeypatch) -> None:
    """GIVEN rules pinned on the caller's country whose second conjunct is
    pinned too (one of them raising after it) WHEN a call from that country holds
    none of the second pins THEN their program is not run at all, and when one
    holds it is (and its rule raises, counted); a rule of the same country
    without a second pin keeps the batch running for every call from there.
    The matches and errors are always those of each rule run on its own."""
    runs: list[int] = []
    real_run = engine._run

    def counted(outcome, batch, *args, **kwargs):
        runs.append(len(batch.rules))
        return real_run(outcome, batch, *args, **kwargs)

    monkeypatch.setattr(engine, "_run", counted)
    for i, attestation in enumerate(("A", "B")):
        make_rule(
            org,
            f'caller.country == "GB" && call.attestation == "{attestation}" '
            "&& caller.calls_1h / 0 > 1",
            {"reject": True},
            name=f"gb {attestation}",
            order=i,
        )
    caller = {"number": "+442079460000", "e164": "+442079460000"}

    def check(attestation: str) -> engine.Outcome:
        _, fast, traced = _outcomes(
            org, {"caller": caller, "call": {"attestation": attestation}}
        )
        assert [r.name for r in [*fast.live, *fast.shadow]] == [
            r.name for r in [*traced.live, *traced.shadow]
        ]
        assert [r.name for r, _ in fast.errors] == [r.name for r, _ in traced.errors]
        return fast

    runs.clear()
    assert check("C").errors == []
    assert runs == []  # the GB batch was not run
    assert [r.name for r, _ in check("B").errors] == ["gb B"]
    assert runs == [2]

    make_rule(org, 'caller.country == "GB"', {"reject": True}, name="gb", order=5)
    runs.clear()
    fast = check("C")
    assert [r.name for r in [*fast.live, *fast.shadow]] == ["gb"]
    assert runs == [3]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('caller.country == "NG" && call.attestation == "C"',
         (("call", "attestation", "eq", frozenset({"C"})),)),
        ('(caller.country == "NG" && local.hour > 3) && caller.anonymous',
         (("local", "hour", ">", 3),)),
        ('caller.country == "NG" && caller.country != "GB" && caller.valid',
         (("caller", "valid", "eq", frozenset({True})),)),
        ('caller.country == "NG"', None),
        ('caller.country == "NG" || call.attestation == "C"', None),
        ('caller.country != "GB" && caller.valid', None),
    ],
)  # fmt: skip
def test_the_second_pins_read_from_a_condition(condition, expected) -> None:
    assert pins.also_pins(condition, CALL) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('caller.country == "NG"', (("caller", "country", "eq", frozenset({"NG"})),)),
        ('"NG" == caller.country', (("caller", "country", "eq", frozenset({"NG"})),)),
        ("!caller.valid", (("caller", "valid", "eq", frozenset({False})),)),
        ('caller.e164.startsWith("+44")', (("caller", "e164", "prefix", "+44"),)),
        ("caller.trust_score < 50", (("caller", "trust_score", "<", 50),)),
        ("50 <= caller.trust_score", (("caller", "trust_score", ">=", 50),)),
        (
            'caller.valid && caller.country in ["NG", "GH"]',
            (("caller", "valid", "eq", frozenset({True})),),
        ),
        (
            'caller.anonymous || (caller.country == "NG" && local.hour > 3)',
            (
                ("caller", "anonymous", "eq", frozenset({True})),
                ("caller", "country", "eq", frozenset({"NG"})),
            ),
        ),
        ('caller.country != "NG"', None),
        ('caller.anonymous || caller.country != "NG"', None),
        ('caller.country == "NG" ? caller.valid : false', None),
        ("caller.trust_score < 50.0 || caller.valid", None),
    ],
)
def test_the_pins_read_from_a_condition(condition, expected) -> None:
    assert pins.pins_of(condition, CALL) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            "caller.calls_recent == voice.repeated_call_threshold + 1",
            ("==", 1, "voice.repeated_call_threshold"),
        ),
        (
            'caller.country == "US" && 4 <= caller.calls_recent',
            (">=", 4, ""),
        ),
        (
            "caller.calls_recent > voice.repeated_call_threshold - 2",
            (">", -2, "voice.repeated_call_threshold"),
        ),
        ("caller.calls_recent > 2 || caller.valid", None),
        ("caller.calls_recent * 2 > 4", None),
        ("caller.calls_recent > caller.calls_10m", None),
    ],
)
def test_the_count_pin_read_from_a_condition(condition, expected) -> None:
    assert pins.count_pin(condition, CALL, "caller.calls_recent") == expected


def test_a_count_pin_says_what_cel_would_say() -> None:
    crossing = [("==", 1, "voice.repeated_call_threshold")]
    settings = {"repeated_call_threshold": 5}
    assert [n for n in range(1, 9) if pins.count_can_match(crossing, n, settings)] == [
        6
    ]
    # A bound CEL cannot compute (int64 overflow: the rule raises) is left to it.
    assert pins.count_can_match(crossing, 3, {"repeated_call_threshold": 2**63 - 1})
    assert pins.count_can_match(crossing, 3, {})  # no such setting: let it run


def test_counted_rules_reading_a_window_are_never_skipped(org) -> None:
    """GIVEN a counted rule that also reads a sliding window (reading it moves the
    window on live calls) THEN the hook may not skip the counted rules; with only
    count comparisons it may."""
    effect = {"event": {"kind": "repeated_calls"}}
    state = core_state.current(org.pk)
    make_rule(org, "caller.calls_recent > 3", effect, name="count only")
    counted = engine.rule_set(state, "inbound_call", counted=True)
    assert counted.count_gate is not None
    assert not engine.count_can_match(counted, 2, {"repeated_call_threshold": 5})
    make_rule(org, "caller.calls_recent > 3 && caller.calls_10m >= 0", effect)
    state.rules_generation += 1  # read again (as a change's delta does)
    counted = engine.rule_set(state, "inbound_call", counted=True)
    assert counted.count_gate is None
    assert engine.count_can_match(counted, 2, {"repeated_call_threshold": 5})
