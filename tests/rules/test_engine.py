"""The engine: compiled once per version, live acts, shadow never, failures skipped."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail

from tests.rules.factories import make_rule
from trustconsole.core.models import AuditEntry
from trustconsole.policy import state as core_state
from trustconsole.rules import engine
from trustconsole.rules import twins as helper_twins
from trustconsole.rules.facts import EventContext
from trustconsole.rules.models import Rule, RuleHitCount, RuleVersion
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


def test_a_version_id_that_comes_back_with_other_text_is_compiled_again(org) -> None:
    """A version never changes, but its id can come back (a database restored
    from a dump, a rolled-back transaction): the process must not keep deciding
    with the program of the text it cached under that id."""
    rule = make_rule(org, 'caller.country == "NG"', {"reject": True}, mode="live")
    assert _evaluate(org).decided_by is not None
    RuleVersion.objects.filter(rule=rule).update(condition='caller.country == "GB"')
    core_state.current(org.pk).rules_generation += 1  # the rules are read again
    assert _evaluate(org).decided_by is None


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
    assert Rule.objects.filter(builtin="").count() == 1


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


def _draft_outcome(org, condition, event):
    """The draft path: the condition as written, helpers as host functions."""
    from trustconsole.rules.testing import _draft

    return engine.evaluate(
        [_draft("chat_message", condition, None)],
        EventContext(org.pk, "chat_message", event, count=False),
    )


@pytest.mark.parametrize(
    ("condition", "text", "expected"),
    [
        ('matches_re(message.text, r"\\b\\d{16}\\b")', "card 4111111111111111", True),
        ('matches_re(message.text, r"\\b\\d{16}\\b")', "card 41111111111111112", False),
        ('matches_re(message.text, "(?i)gift\\\\s+card")', "a GIFT  Card", True),
        ('!matches_re(message.text, "^$")', "", False),
        (
            'contains_any(message.text, ["Bitcoin"]) && '
            'matches_re(message.text, "\\\\d{4}")',
            "send 1000 bitcoin",
            True,
        ),
        (
            'contains_any(message.text, ["Bitcoin"]) && '
            'matches_re(message.text, "\\\\d{4}")',
            "send 100 bitcoin",
            False,
        ),
        (
            'matches_re(message.text, "x{3}") || '
            'contains_any(message.text, ["é"]) || message.length > 99',
            "café",
            True,
        ),
    ],
)
def test_patterns_are_computed_once_per_event_and_agree_with_the_helper(
    org, condition, text, expected
) -> None:
    """GIVEN a condition calling matches_re (and contains_any) over a fact WHEN it
    is compiled THEN the evaluator reads the engine's answers (`_h[…]`, no host
    call), and the fast path, the trace ("Test with this event") and the draft
    path (the helper as a host function) all give the same answer."""
    rule = make_rule(
        org, condition, {"block": True}, mode="live", channel="chat_message"
    )
    rules = engine.rule_set(core_state.current(org.pk), "chat_message")
    assert rules.twins and not rules.helpers
    assert all("matches_re" not in c.native for c in engine._PROGRAMS.values())
    event = {"message": {"text": text}}
    fast = _evaluate(org, "chat_message", event)
    traced = _evaluate(org, "chat_message", event, trace=True)
    draft = _draft_outcome(org, condition, event)
    assert not fast.errors and not traced.errors and not draft.errors
    assert (fast.decided_by is not None) is expected
    assert (traced.decided_by is not None) is expected
    assert (draft.decided_by is not None) is expected
    (step,) = [t for t in traced.trace if t["id"] == str(rule.public_id)]
    assert step["matched"] is expected  # (the default rule set runs beside it)


def test_a_rule_set_searches_all_its_patterns_over_a_field_in_one_pass(org) -> None:
    """GIVEN forty pattern rules and forty keyword rules over the message text
    WHEN messages arrive THEN exactly the rules whose pattern or words are in the
    text match, in order, as each rule alone says."""
    for i in range(40):
        make_rule(
            org, f'matches_re(message.text, "\\\\bcode\\\\s+{i}\\\\b")',
            {"block": True}, mode="live" if i % 2 else "shadow", order=i,
            name=f"re {i:02}", channel="chat_message",
        )  # fmt: skip
        make_rule(
            org, f'contains_any(message.text, ["Word{i}x", "word {i}y"])',
            {"block": True}, mode="shadow", order=100 + i, name=f"kw {i:02}",
            channel="chat_message",
        )  # fmt: skip
    rules = engine.rule_set(core_state.current(org.pk), "chat_message")
    assert rules.twins[0].regex_set is not None
    for text in ("code 7 and code 31 WORD3X", "code 100", "word 12y codes 1", ""):
        event = {"message": {"text": text}}
        fast = _evaluate(org, "chat_message", event)
        traced = _evaluate(org, "chat_message", event, trace=True)
        assert [r.name for r in fast.live] == [r.name for r in traced.live]
        assert [r.name for r in fast.shadow] == [r.name for r in traced.shadow]
    fast = _evaluate(org, "chat_message", {"message": {"text": "code 7 word3x"}})
    assert [r.name for r in fast.live] == ["re 07"]
    assert [r.name for r in fast.shadow] == ["kw 03"]


def test_a_pattern_that_cannot_run_on_the_text_fails_only_its_rules(
    org, caplog
) -> None:
    """GIVEN a pattern rule and a keyword rule WHEN the text holds a lone surrogate
    (RE2 cannot encode it) THEN the pattern rule raises, is counted, logged and
    skipped, as the helper did, and the keyword rule still decides."""
    bad = make_rule(
        org, 'matches_re(message.text, "a+")', {"block": True}, mode="live",
        order=1, channel="chat_message",
    )  # fmt: skip
    good = make_rule(
        org, 'contains_any(message.text, ["spam"])', {"block": True}, mode="live",
        order=2, channel="chat_message",
    )  # fmt: skip
    event = {"message": {"text": "spam \ud800 aaa"}}
    outcome = _evaluate(org, "chat_message", event)
    assert [r.pk for r, _ in outcome.errors] == [bad.pk]
    assert "matches_re" in outcome.errors[0][1]
    assert "UnicodeEncodeError" in outcome.errors[0][1]
    assert outcome.decided_by is not None and outcome.decided_by.pk == good.pk
    assert "raised" in caplog.text
    traced = _evaluate(org, "chat_message", event, trace=True)
    assert [r.pk for r, _ in traced.errors] == [bad.pk]
    assert traced.decided_by is not None and traced.decided_by.pk == good.pk
    engine.hits_flush()
    assert RuleHitCount.objects.get(rule=bad).errors == 1


def test_a_slow_pattern_pass_is_charged_to_the_rules_reading_it(
    org, settings, monkeypatch
) -> None:
    """GIVEN the patterns' pass over its budget WHEN an event is decided THEN the
    rules run one by one with each pattern's time added to the rules reading it,
    so a slow pattern's rule is noted (and the others are not)."""
    settings.RULES_TIME_BUDGET_US = 1
    make_rule(
        org, 'matches_re(message.text, "a+b")', {"block": True}, mode="live",
        order=1, channel="chat_message", name="slow",
    )  # fmt: skip
    make_rule(org, "message.length > 3", {"block": True}, mode="live", order=2,
              channel="chat_message", name="plain")  # fmt: skip
    noted: list[tuple[str, int]] = []
    monkeypatch.setattr(
        engine, "_time_note", lambda rule, took, *a: noted.append((rule.name, took))
    )
    monkeypatch.setattr(
        helper_twins, "patterns_timed", lambda values, plan: {
            n: 5_000_000 for ft in plan for n in ft.pattern_ids
        },
    )  # fmt: skip
    real = helper_twins.run

    def slow_run(values, plan):
        import time

        time.sleep(0.001)
        return real(values, plan)

    monkeypatch.setattr(helper_twins, "run", slow_run)
    outcome = _evaluate(org, "chat_message", {"message": {"text": "aaab"}})
    assert [r.name for r in outcome.live] == ["slow", "plain"]
    took = dict(noted)
    assert took["slow"] >= 5_000_000 > took["plain"]


def test_guarded_rules_run_as_one_program_per_value_in_order(org) -> None:
    """GIVEN rules guarded by caller.country (== and in) and unguarded ones WHEN
    calls come from several countries THEN the matches are those each rule alone
    gives, in the rule set's order."""
    conditions = [
        ('caller.country == "NG"', "live"),
        ('caller.country in ["NG", "GB"] && caller.valid', "live"),
        ("caller.valid", "shadow"),
        ('caller.country == "GB" && !caller.anonymous', "live"),
        ('caller.country == "NG" && caller.calls_1h / 0 > 1', "shadow"),
        ("!caller.anonymous", "live"),
    ]
    for i, (condition, mode) in enumerate(conditions):
        make_rule(org, condition, {"reject": True}, mode=mode, order=i, name=str(i))
    rules = engine.rule_set(core_state.current(org.pk), "inbound_call")
    assert {"NG", "GB"} <= {v for table in rules.guarded for v in table.batches}
    for number in ("+2348012345678", "+442079460000", "+14155550123", "anonymous"):
        e164 = "" if number == "anonymous" else number
        event = {"caller": {"number": number, "e164": e164}}
        fast = _evaluate(org, event=event)
        traced = _evaluate(org, event=event, trace=True)
        assert [r.name for r in fast.live] == [r.name for r in traced.live]
        assert [r.name for r in fast.shadow] == [r.name for r in traced.shadow]
        assert [r.name for r, _ in fast.errors] == [r.name for r, _ in traced.errors]
