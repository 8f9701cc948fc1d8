"""The explanation as the API documents it (shared by every decision endpoint)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from trustconsole.policy.decide import PRECEDENCE
from trustconsole.policy.vocabulary import Channel, Step

# The modes a rule that matched a decision can be in (off rules never match).
RULE_MATCH_MODES = (("live", "live"), ("shadow", "shadow"))


class ExplanationIdentityOutput(serializers.Serializer[Any]):
    """The identity that matched."""

    kind = serializers.CharField(help_text="phone, email, widget, ip or account")
    value = serializers.CharField()


class ExplanationEntryOutput(serializers.Serializer[Any]):
    """The rule or list entry that decided."""

    kind = serializers.CharField(
        help_text="visitor, ip_block, blocked_number or account"
    )
    id = serializers.CharField(help_text="Its public id.")
    label = serializers.CharField(  # type: ignore[assignment]  # the field is named label
        help_text="A name, network or number."
    )
    status = serializers.CharField(allow_blank=True)
    added_by = serializers.CharField(allow_blank=True)
    added_at = serializers.CharField(allow_null=True, help_text="ISO 8601.")
    reason = serializers.CharField(allow_blank=True)
    shadow = serializers.BooleanField(
        required=False, help_text="Present (true) on a shadow block-list entry."
    )


class ExplanationRuleOutput(serializers.Serializer[Any]):
    """A rule (rules as data) in an explanation."""

    id = serializers.CharField(help_text="The rule's public id.")
    name = serializers.CharField()
    version = serializers.IntegerField()
    mode = serializers.ChoiceField(choices=RULE_MATCH_MODES)
    effect = serializers.DictField(help_text="What it does (or would do, in shadow).")


class ExplanationOutput(serializers.Serializer[Any]):
    """What decided: the precedence step, the identity that matched, the entry."""

    channel = serializers.ChoiceField(choices=Channel.choices)
    decision = serializers.ChoiceField(choices=(("allow", "allow"), ("deny", "deny")))
    reason = serializers.CharField()
    step = serializers.ChoiceField(choices=Step.choices)
    step_number = serializers.IntegerField(
        allow_null=True,
        help_text="Its place in the channel's precedence: "
        + "; ".join(f"{c}: {', '.join(s)}" for c, s in PRECEDENCE.items()),
    )
    identity = ExplanationIdentityOutput(allow_null=True)
    entry = ExplanationEntryOutput(allow_null=True)
    rule = ExplanationRuleOutput(
        allow_null=True, required=False, help_text="The rule that decided, if one did."
    )
    shadow_rules = ExplanationRuleOutput(
        many=True, required=False, help_text="Shadow rules that matched (never act)."
    )
    shadow_entries = ExplanationEntryOutput(
        many=True,
        required=False,
        help_text="Shadow block-list entries that matched: the call would have been "
        "rejected, and was not.",
    )
    sentence = serializers.CharField()
