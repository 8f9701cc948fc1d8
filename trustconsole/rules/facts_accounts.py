"""The facts of the customer-account channels beyond the account itself.

- `review` (account usage review): the numbers the continuous review computes for
  one account (outbound volume and carrier complaints in the review window, the
  latest day's volume against the account's own daily average) and the
  organisation's review settings (Accounts → Settings) they are compared with.
- `signal` (account risk signal added): the signal just added and what the
  account's signals of its type now add up to.
- `denials` (outbound call refused): the account's refused checks in the Voice →
  Policy denial window and the settings the repeated-denials rule reads.

Imported by `trustconsole.rules.facts` (which registers the channels); import that
module, not this one.
"""

from __future__ import annotations

from typing import Any

from trustconsole.rules.facts import (
    ACCOUNT,
    LOCAL,
    ChannelFacts,
    EventContext,
    Fact,
    Group,
    RuleChannel,
    _int,
    _part,
    _str,
)


def _float(data: Any, key: str) -> float:
    try:
        return float(data.get(key, 0.0))
    except (TypeError, ValueError):
        return 0.0


REVIEW_INTS = (
    "window_days",
    "outbound",
    "complaints",
    "history_days",
    "calls_latest",
    "calls_average",
    "sms_latest",
    "sms_average",
    "numbers_min_for_usage_check",
    "min_outbound_per_number",
    "complaints_threshold",
    "spike_min_volume",
    "spike_history_days",
)
REVIEW_DOUBLES = ("calls_ratio", "sms_ratio", "spike_factor")


def _review(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "review")
    out: dict[str, Any] = {name: _int(given, name) for name in REVIEW_INTS}
    out.update({name: _float(given, name) for name in REVIEW_DOUBLES})
    out["latest_day"] = _str(given, "latest_day")
    return out


REVIEW = Group(
    "review",
    "What the continuous review computed for the account, and the organisation's "
    "review settings (Accounts → Settings) as they are today.",
    (
        Fact("window_days", "int", "The review window in days (a setting).", 7),
        Fact(
            "outbound",
            "int",
            "Outbound calls and SMS in the review window.",
            12,
        ),
        Fact("complaints", "int", "Carrier complaints in the review window.", 0),
        Fact(
            "latest_day",
            "string",
            'The latest day with usage (today or yesterday), "" when none.',
            "2026-03-02",
        ),
        Fact(
            "history_days",
            "int",
            "Days with usage before the latest day (a spike needs 3).",
            10,
        ),
        Fact("calls_latest", "int", "Outbound calls on the latest day.", 900),
        Fact(
            "calls_average",
            "int",
            "Daily average of outbound calls before it (over spike_history_days), "
            "rounded.",
            30,
        ),
        Fact(
            "calls_ratio",
            "double",
            "calls_latest over that average (an average under 1 counts as 1).",
            30.0,
        ),
        Fact("sms_latest", "int", "Outbound SMS on the latest day.", 0),
        Fact("sms_average", "int", "Daily average of outbound SMS, rounded.", 0),
        Fact("sms_ratio", "double", "sms_latest over that average.", 0.0),
        Fact(
            "numbers_min_for_usage_check",
            "int",
            "Setting: numbers an account must own before its usage is compared.",
            10,
        ),
        Fact(
            "min_outbound_per_number",
            "int",
            "Setting: outbound calls/SMS expected per number in the window.",
            1,
        ),
        Fact(
            "complaints_threshold",
            "int",
            "Setting: carrier complaints in the window that raise a signal.",
            1,
        ),
        Fact(
            "spike_factor",
            "double",
            "Setting: how many times its daily average a day's volume must be.",
            10.0,
        ),
        Fact(
            "spike_min_volume",
            "int",
            "Setting: the least volume of a day that can be a spike.",
            200,
        ),
        Fact(
            "spike_history_days",
            "int",
            "Setting: days the daily average is taken over.",
            14,
        ),
    ),
    _review,
)


def _signal(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "signal")
    return {
        "type": _str(given, "type"),
        "weight": _int(given, "weight"),
        "source": _str(given, "source"),
        "note": _str(given, "note"),
        "type_total": _int(given, "type_total"),
        "type_count": _int(given, "type_count"),
    }


SIGNAL = Group(
    "signal",
    "The risk signal just added to the account (by signup, the usage review, the "
    "outbound check, a rule or support).",
    (
        Fact(
            "type",
            "string",
            "Its type: carrier_complaints, volume_spike, outbound_denials, …",
            "carrier_complaints",
        ),
        Fact("weight", "int", "Its weight: 10, 20, 40 or 70.", 70),
        Fact(
            "source",
            "string",
            "signup, continuous_review, outbound_check, support, …",
            "continuous_review",
        ),
        Fact("note", "string", "What it says.", "2 carrier complaint(s) in 7 days."),
        Fact(
            "type_total",
            "int",
            "The weights of the account's signals of this type, this one included.",
            70,
        ),
        Fact(
            "type_count",
            "int",
            "How many signals of this type the account has, this one included.",
            1,
        ),
    ),
    _signal,
)


def _denials(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "denials")
    codes = given.get("codes") or []
    level = _str(given, "signal_level") or "low"
    return {
        "count": _int(given, "count"),
        "threshold": _int(given, "threshold"),
        "window_seconds": _int(given, "window_seconds"),
        "window": _str(given, "window"),
        "codes": [str(c) for c in codes][:50],
        "signal_level": level,
    }


DENIALS = Group(
    "denials",
    "The account's refused outbound checks (a restricted account's refusals are "
    "not counted), and the Voice → Policy settings of the repeated-denials rule.",
    (
        Fact(
            "count",
            "int",
            "Refused checks of this account in the denial window, this one "
            "included; starts again once a live rule adds a signal for them.",
            5,
        ),
        Fact("threshold", "int", "Setting: the denial threshold.", 5),
        Fact("window_seconds", "int", "Setting: the denial window in seconds.", 3600),
        Fact("window", "string", 'That window in words ("hour", "2 days").', "hour"),
        Fact(
            "codes",
            "list<string>",
            "The violation codes of those refusals.",
            ["dnc_listed"],
        ),
        Fact(
            "signal_level",
            "string",
            "Setting: the level of the signal the repeated denials add "
            "(low, medium, high or extreme).",
            "low",
        ),
    ),
    _denials,
)

CHANNELS: dict[str, ChannelFacts] = {
    RuleChannel.ACCOUNT_REVIEW: ChannelFacts(
        RuleChannel.ACCOUNT_REVIEW, (ACCOUNT, REVIEW, LOCAL)
    ),
    RuleChannel.ACCOUNT_SIGNAL: ChannelFacts(
        RuleChannel.ACCOUNT_SIGNAL, (ACCOUNT, SIGNAL, LOCAL)
    ),
    RuleChannel.OUTBOUND_DENIAL: ChannelFacts(
        RuleChannel.OUTBOUND_DENIAL, (ACCOUNT, DENIALS, LOCAL)
    ),
}
