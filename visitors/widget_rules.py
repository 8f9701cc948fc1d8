"""The chat widget's rules: events that become risk signals."""

from __future__ import annotations

from visitors.choices import WeightLevel
from visitors.rules import rule_register

FLAGGED_KEYWORD = rule_register(
    "flagged_keyword",
    signal_type="flagged_keyword",
    level=WeightLevel.HIGH,
    label="Flagged keyword",
)
USER_REPORT = rule_register(
    "user_report",
    signal_type="user_report",
    level=WeightLevel.HIGH,
    label="User report",
)
MESSAGE_VELOCITY = rule_register(
    "message_velocity",
    signal_type="message_velocity",
    level=WeightLevel.MEDIUM,
    label="Message velocity",
)
