"""Audit sentences and field labels of rules."""

from __future__ import annotations

from trustconsole.core.audit_text import (
    register_actions,
    register_fields,
    register_target,
)
from trustconsole.rules.facts import RuleChannel
from trustconsole.rules.models import RuleMode

register_target("rules.rule", "rule")
register_actions(
    {
        "rule.create": "{actor} created the rule {target}",
        "rule.update": "{actor} changed the rule {target}",
        "rule.mode": "{actor} set the rule {target} to {mode}",
        "rule.delete": "{actor} deleted the rule {target}",
        "rule.disable": "{actor} turned off the rule {target} (over its time budget)",
        "rule.backtest": "{actor} backtested the rule {target}",
        "rule.defaults_add": "{actor} added the default rule set to {target}",
    }
)
register_fields(
    target_type="rules.rule",
    labels={
        "name": "Name",
        "description": "Description",
        "channel": "Listens to",
        "mode": "Mode",
        "order": "Order",
        "version": "Version",
        "condition": "Condition",
        "effect": "Effect",
    },
    choices={"mode": RuleMode, "channel": RuleChannel},
)
