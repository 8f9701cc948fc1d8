"""Audit sentences and field labels of the visitors app."""

from __future__ import annotations

from trustconsole.core.audit_text import (
    register_actions,
    register_fields,
    register_target,
)
from visitors.choices import (
    Band,
    ConversationStatus,
    IdentifierKind,
    ReviewStatus,
    VisitorStatus,
    WeightLevel,
    signal_type_label,
)


def _identifier(value: object) -> str:
    kind, _, text = str(value).partition(":")
    label = dict(IdentifierKind.choices).get(kind)
    return f"{label} {text}" if label and text else str(value)


def _identifiers(value: object) -> str:
    items = value if isinstance(value, list) else [value]
    return ", ".join(_identifier(v) for v in items) or "none"


def _event_kind(value: object) -> str:
    from visitors.rules import rule_get

    rule = rule_get(str(value))
    return rule.label if rule else str(value).replace("_", " ").capitalize()


register_target("visitors.visitor", "visitor")
register_target("visitors.ipblock", "IP block")
register_target("visitors.conversation", "conversation")
register_target("visitors.chatwidget", "chat widget")
register_actions(
    {
        "visitor.create": "{actor} created the visitor {target}",
        "visitor.update": "{actor} updated the visitor {target}",
        "visitor.identifier_add": "{actor} added {identifier} to {target}",
        "visitor.identifier_remove": "{actor} removed {before_identifier} "
        "from {target}",
        "visitor.delete": "{actor} deleted the visitor {target}",
        "visitor.merge_into": "{actor} merged {target} into another visitor",
        "visitor.merge": "{actor} merged {merged_from} into {target}",
        "visitor.flag": "{actor} flagged {target} for review "
        "(trust score {trust_score})",
        "visitor.event_record": "{actor} recorded a {kind} event for {target}",
        "visitor.blacklist": "{actor} blacklisted {target}",
        "visitor.shadow_blacklist": "{actor} put {target} on a shadow blacklist "
        "(calls logged as would-be rejections, not rejected)",
        "visitor.shadow_clear": "{actor} ended the shadow blacklist of {target}",
        "conversation.resolve": "{actor} marked the conversation with {visitor} "
        "resolved",
        "conversation.reopen": "{actor} reopened the conversation with {visitor}",
        "visitor.whitelist": "{actor} whitelisted {target}",
        "visitor.clear_status": "{actor} cleared the status of {target}",
        "risk_signal.add": "{actor} added a {signal_type} risk signal "
        "({weight}) to {target}",
        "risk_signal.remove": "{actor} removed a {signal_type} risk signal "
        "from {target}",
        "risk_signal.expire": "{actor} ended {signals_expired} expired risk signal(s) "
        "of {target}",
        "signal_weight.set": "{actor} set the {level} weight to {weight}",
        "review_item.dismiss": "{actor} dismissed the review of {target}",
        "ip_block.create": "{actor} blocked the IP range {network}",
        "ip_block.remove": "{actor} removed the IP block {before_network}",
        "ip_block.expire": "{actor} ended the expired IP block {before_network}",
        "widget.create": "{actor} created the chat widget {target}",
    }
)
register_fields(
    target_type="visitors.visitor",
    labels={
        "trust_score": "Trust score",
        "band": "Band",
        "identifiers_added": "Identifiers added",
        "identifiers": "Identifiers",
        "identifier": "Identifier",
        "review_items_resolved": "Review items resolved",
        "signal_type": "Signal",
        "level": "Weight level",
        "weight": "Weight",
        "signals_expired": "Signals ended",
        "merged_from": "Merged from",
        "merged_into": "Merged into",
        "kind": "Event",
        "rule": "Rule matched",
    },
    choices={
        "status": VisitorStatus,
        "band": Band,
        "level": WeightLevel,
        "signal_type": signal_type_label,
        "identifiers_added": _identifiers,
        "identifiers": _identifiers,
        "identifier": _identifiers,
        "kind": _event_kind,
        "weight": lambda w: f"+{w}",
    },
)
register_fields(target_type="visitors.reviewitem", choices={"status": ReviewStatus})
register_fields(
    target_type="visitors.conversation",
    choices={"status": ConversationStatus},
    hidden=("visitor",),
)
register_fields(
    labels={"network": "Network", "level": "Weight level", "weight": "Weight"},
    choices={"level": WeightLevel},
)
