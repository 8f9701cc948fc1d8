"""Serializers of the visitors API: they validate and shape, never decide."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from trustconsole.core.api.fields import StrictCharField
from visitors import selectors
from visitors.choices import (
    MANUAL_SIGNAL_TYPES,
    SIGNAL_TYPE_LABELS,
    Band,
    ReviewAction,
    VisitorStatus,
    WeightLevel,
)
from visitors.models import Event, IPBlock, ReviewItem, RiskSignal, Visitor

# One request names at most this many identifiers of each kind.
MAX_IDENTIFIERS_PER_KIND = 50


class VisitorOutput(serializers.Serializer):
    """A visitor as listed: score, band and status at a glance."""

    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=VisitorStatus.choices)
    trust_score = serializers.IntegerField()
    band = serializers.ChoiceField(choices=Band.choices)
    blocked_attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()


class VisitorIdentifiersOutput(serializers.Serializer):
    """A visitor's normalised identifiers by kind."""

    emails = serializers.ListField(child=serializers.CharField())
    phones = serializers.ListField(child=serializers.CharField())
    ips = serializers.ListField(child=serializers.CharField())
    widget_ids = serializers.ListField(child=serializers.CharField())


class RiskSignalOutput(serializers.Serializer):
    """A risk signal: what, how heavy, from where, until when, by whom."""

    # Fields named `label` and `source` here and below are declared fields, not the
    # Field attributes of that name (DRF takes them out of the class).

    id = serializers.UUIDField(source="public_id")
    signal_type = serializers.CharField()
    label = serializers.CharField(source="type_label")  # type: ignore[assignment]
    level = serializers.ChoiceField(choices=WeightLevel.choices)
    weight = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]
    note = serializers.CharField()
    added_by = serializers.CharField()
    event_id = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    ended_reason = serializers.CharField()
    active = serializers.SerializerMethodField()

    def get_event_id(self, signal: RiskSignal) -> str | None:
        event = signal.event if signal.event_id else None
        return str(event.public_id) if event is not None else None

    def get_active(self, signal: RiskSignal) -> bool:
        return signal.is_active()


class ScoreExplanationLine(serializers.Serializer):
    """One active signal's part of the score."""

    signal_id = serializers.UUIDField(source="public_id")
    label = serializers.CharField(source="type_label")  # type: ignore[assignment]
    level = serializers.CharField()
    weight = serializers.IntegerField()


class ScoreExplanationOutput(serializers.Serializer):
    """100 minus the active weights, never below 0."""

    start = serializers.IntegerField()
    signals = ScoreExplanationLine(many=True)
    total = serializers.IntegerField()
    score = serializers.IntegerField()
    text = serializers.SerializerMethodField()

    def get_text(self, explanation: selectors.ScoreExplanation) -> str:
        parts = " ".join(f"− {s.weight} ({s.type_label})" for s in explanation.signals)
        floored = " (never below 0)" if explanation.floored else ""
        return f"{explanation.start} {parts} = {explanation.score}{floored}".replace(
            "  ", " "
        )


class VisitorDetailOutput(VisitorOutput):
    """A visitor with identifiers, signals and the explanation of the score."""

    status_reason = serializers.CharField()
    shadow_blacklisted_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Set while the visitor is on a shadow blacklist (voice gate: calls "
        "logged as would-be rejections, not rejected).",
    )
    shadow_blacklist_reason = serializers.CharField()
    identifiers = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()
    signals = serializers.SerializerMethodField()

    @extend_schema_field(VisitorIdentifiersOutput)
    def get_identifiers(self, visitor: Visitor) -> dict[str, list[str]]:
        return selectors.visitor_identifiers(visitor=visitor)

    @extend_schema_field(ScoreExplanationOutput)
    def get_explanation(self, visitor: Visitor) -> dict[str, Any]:
        return ScoreExplanationOutput(selectors.score_explanation(visitor=visitor)).data

    @extend_schema_field(RiskSignalOutput(many=True))
    def get_signals(self, visitor: Visitor) -> list[dict[str, Any]]:
        rows = RiskSignalOutput(selectors.visitor_signals(visitor=visitor), many=True)
        return cast(list[dict[str, Any]], rows.data)


class VisitorUpsertInput(serializers.Serializer):
    """Identifiers to find the visitor by (or create one with); name optional."""

    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    emails = serializers.ListField(
        child=StrictCharField(max_length=254),
        required=False,
        default=list,
        max_length=MAX_IDENTIFIERS_PER_KIND,
    )
    phones = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        default=list,
        max_length=MAX_IDENTIFIERS_PER_KIND,
    )
    ips = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        default=list,
        max_length=MAX_IDENTIFIERS_PER_KIND,
    )
    widget_ids = serializers.ListField(
        child=StrictCharField(max_length=128),
        required=False,
        default=list,
        max_length=MAX_IDENTIFIERS_PER_KIND,
    )


class VisitorReasonInput(serializers.Serializer):
    """Why: recorded in the audit trail."""

    reason = serializers.CharField(required=False, allow_blank=True, default="")


class VisitorMergeInput(VisitorReasonInput):
    """The visitor to merge into this one (it is deleted afterwards)."""

    source = serializers.UUIDField()  # type: ignore[assignment]


class RiskSignalAddInput(serializers.Serializer):
    """A risk signal added by hand."""

    signal_type = serializers.ChoiceField(choices=MANUAL_SIGNAL_TYPES)
    level = serializers.ChoiceField(choices=WeightLevel.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class VisitorEventInput(serializers.Serializer):
    """An event to record; registered kinds turn into risk signals."""

    kind = serializers.CharField(max_length=64)
    detail = serializers.DictField(required=False, default=dict)
    source = serializers.CharField(required=False, default="api", max_length=32)  # type: ignore[assignment]


class VisitorEventOutput(serializers.Serializer):
    """A recorded event."""

    id = serializers.UUIDField(source="public_id")
    kind = serializers.CharField()
    label = serializers.CharField(source="kind_label")  # type: ignore[assignment]
    detail = serializers.DictField()
    source = serializers.CharField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    signals = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_signals(self, event: Event) -> list[str]:
        return [str(s.public_id) for s in event.signals.all()]


class ReviewItemOutput(serializers.Serializer):
    """A review-queue item with its visitor and cause."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField()
    visitor = VisitorOutput()
    reason = serializers.CharField()
    score_at_flag = serializers.IntegerField()
    event_id = serializers.SerializerMethodField()
    event_kind = serializers.SerializerMethodField()
    conversation_id = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolved_by = serializers.CharField()

    def get_event_id(self, item: ReviewItem) -> str | None:
        event = item.event if item.event_id else None
        return str(event.public_id) if event is not None else None

    def get_event_kind(self, item: ReviewItem) -> str | None:
        event = item.event if item.event_id else None
        return event.kind if event is not None else None

    def get_conversation_id(self, item: ReviewItem) -> str | None:
        conversation = item.conversation if item.conversation_id else None
        return str(conversation.public_id) if conversation is not None else None


class ReviewItemActionInput(serializers.Serializer):
    """Blacklist, Whitelist or Dismiss."""

    action = serializers.ChoiceField(choices=ReviewAction.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ReviewItemBulkInput(ReviewItemActionInput):
    """The same action on several items."""

    items = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=500
    )


class ReviewItemBulkOutput(serializers.Serializer):
    """How many items were acted on."""

    done = serializers.IntegerField()


class IPBlockOutput(serializers.Serializer):
    """A blocked address or range."""

    id = serializers.UUIDField(source="public_id")
    network = serializers.CharField()
    version = serializers.IntegerField()
    reason = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    active = serializers.SerializerMethodField()

    def get_active(self, block: IPBlock) -> bool:
        return block.is_active()


class IPBlockInput(serializers.Serializer):
    """An IPv4/IPv6 address or CIDR range to block."""

    network = serializers.CharField(max_length=64)
    reason = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class SignalWeightOutput(serializers.Serializer):
    """A level's weight in the organisation."""

    level = serializers.ChoiceField(choices=WeightLevel.choices)
    label = serializers.CharField()  # type: ignore[assignment]
    default = serializers.IntegerField()
    weight = serializers.IntegerField()
    overridden = serializers.BooleanField()


class SignalWeightInput(serializers.Serializer):
    """A new weight for one level (admin)."""

    level = serializers.ChoiceField(choices=WeightLevel.choices)
    weight = serializers.IntegerField(min_value=0, max_value=100)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class WidgetMessageInput(serializers.Serializer):
    """A chat message as the widget posts it."""

    visitor_id = StrictCharField(
        max_length=128, help_text="The widget's own id for this visitor."
    )
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    email = StrictCharField(required=False, allow_blank=True, max_length=254)
    phone = StrictCharField(required=False, allow_blank=True, max_length=64)
    conversation_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Omit to start a conversation (or to continue the one this "
        "visitor started from this widget in the last 30 seconds: two first "
        "messages sent at once make one conversation).",
    )
    body = StrictCharField(max_length=5000, trim_whitespace=True)


class WidgetMessageOutput(serializers.Serializer):
    """The same answer for every accepted message, blocked or not."""

    status = serializers.CharField()
    conversation_id = serializers.UUIDField()
    message_id = serializers.UUIDField()


def signal_type_choices() -> list[tuple[str, str]]:
    """Every known signal type with its label."""
    return sorted(SIGNAL_TYPE_LABELS.items())
