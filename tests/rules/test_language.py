"""Conditions: CEL checked against each channel's facts, refused with the position."""

from __future__ import annotations

import pytest

from trustconsole.rules.facts import REGISTRY, RuleChannel, channel_facts
from trustconsole.rules.language import ConditionError, check

CALL = channel_facts(RuleChannel.INBOUND_CALL).schema()
CHAT = channel_facts(RuleChannel.CHAT_MESSAGE).schema()


def test_it_accepts_a_readable_call_condition_and_names_what_it_reads() -> None:
    checked = check(
        'caller.country in ["NG", "GH"] && caller.calls_10m > 5\n'
        '  && call.attestation == "C"',
        CALL,
    )
    assert checked.variables == {"caller", "call"}
    assert {"caller.country", "caller.calls_10m", "call.attestation"} <= checked.fields


@pytest.mark.parametrize(
    ("source", "line", "column", "words"),
    [
        ("caller.calls_10m >", 1, 19, "ends too early"),
        ('caller.country == "NG" &&\n  caller.nope', 2, 10, "Unknown field nope"),
        ("visitor.status == 'x'", 1, 1, "Unknown fact 'visitor'"),
        ("caller.country == 5", 1, 1, "Cannot compare string with int"),
        ("caller.calls_1h", 1, 1, "must be true or false"),
        ('caller.number.matches("x")', 1, 15, "matches_re"),
        ("caller.e164 @ 1", 1, 13, "unexpected character"),
    ],
)
def test_it_refuses_errors_with_line_column_and_reason(
    source, line, column, words
) -> None:
    with pytest.raises(ConditionError) as caught:
        check(source, CALL)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert words in caught.value.reason


def test_it_refuses_a_bad_regular_expression_at_its_literal() -> None:
    with pytest.raises(ConditionError) as caught:
        check('matches_re(message.text, "(unclosed")', CHAT)
    assert caught.value.column == 26
    assert "Invalid regular expression" in caught.value.reason


def test_it_refuses_maps_and_deep_macro_nesting() -> None:
    with pytest.raises(ConditionError, match="Maps are not supported"):
        check('{"a": 1}["a"] == 1', CHAT)
    nested = "[1].exists(a, [1].exists(b, [1].exists(c, c == 1)))"
    with pytest.raises(ConditionError, match="nested"):
        check(nested, CHAT)


def test_it_refuses_overlong_and_empty_conditions() -> None:
    with pytest.raises(ConditionError, match="at most"):
        check("true || " * 400 + "true", CHAT)
    with pytest.raises(ConditionError, match="Write a condition"):
        check("   ", CHAT)


def test_every_channel_has_facts_and_an_example_event() -> None:
    for channel in RuleChannel.values:
        entry = REGISTRY[channel]
        assert entry.groups, channel
        example = entry.example()
        assert "local" in example
