"""Serializers of the Voice API (names unique across the schema)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from trustconsole.lib.crypto import is_unreadable
from trustconsole.policy.api import ExplanationOutput
from voicegate.choices import (
    CallerPolicy,
    CommandStatus,
    Decision,
    FailMode,
    Provider,
    Reason,
)


class VoiceConnectionOutput(serializers.Serializer):
    """A connection as the API shows it: never its secrets."""

    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    provider = serializers.ChoiceField(choices=Provider.choices)
    downstream_url = serializers.CharField()
    fail_mode = serializers.ChoiceField(choices=FailMode.choices)
    is_active = serializers.BooleanField()
    webhook_url = serializers.SerializerMethodField()
    secret_hint = serializers.CharField(
        help_text="The verification secret's last four characters ('••••abcd'); the "
        "secret itself is never shown after it is saved."
    )
    has_api_key = serializers.SerializerMethodField()
    api_key_hint = serializers.CharField(
        help_text="The Telnyx API key's last four characters, or '' when none is set."
    )
    credential_error = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_webhook_url(self, obj: object) -> str:
        return self.context["webhook_url"](obj)

    def get_has_api_key(self, obj: object) -> bool:
        key = getattr(obj, "api_key", "")
        return bool(key) or is_unreadable(key)

    @extend_schema_field(
        serializers.CharField(
            allow_null=True,
            help_text="Why a stored credential cannot be used (a key missing from "
            "ENCRYPTION_KEYS); null when every credential can be read.",
        )
    )
    def get_credential_error(self, obj: object) -> str | None:
        """Why a stored credential cannot be used (null when all are readable)."""
        return getattr(obj, "credential_error", "") or None


class VoiceConnectionCreateInput(serializers.Serializer):
    """A new connection."""

    name = serializers.CharField(max_length=120)
    provider = serializers.ChoiceField(choices=Provider.choices)
    secret = serializers.CharField(write_only=True)
    api_key = serializers.CharField(
        required=False, allow_blank=True, default="", write_only=True
    )
    downstream_url = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2048
    )
    fail_mode = serializers.ChoiceField(choices=FailMode.choices, default=FailMode.OPEN)


class VoiceConnectionUpdateInput(serializers.Serializer):
    """Changes to a connection (all optional)."""

    name = serializers.CharField(max_length=120, required=False)
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True)
    api_key = serializers.CharField(required=False, allow_blank=True, write_only=True)
    downstream_url = serializers.CharField(
        required=False, allow_blank=True, max_length=2048
    )
    fail_mode = serializers.ChoiceField(choices=FailMode.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class BlockedNumberOutput(serializers.Serializer):
    """A block-list entry."""

    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    reason = serializers.CharField()
    added_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    shadow = serializers.BooleanField(
        help_text="In shadow the gate only logs that it would have rejected the call."
    )


class BlockedNumberInput(serializers.Serializer):
    """A number to block."""

    number = serializers.CharField(max_length=40)
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    shadow = serializers.BooleanField(required=False, default=False)


class BlockedNumberChange(serializers.Serializer):
    """Put an entry live or into shadow."""

    shadow = serializers.BooleanField()
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )


class CallDecisionOutput(serializers.Serializer):
    """One decision of the gate."""

    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    connection = serializers.UUIDField(
        source="connection.public_id", allow_null=True, default=None
    )
    provider = serializers.ChoiceField(choices=Provider.choices)
    event_id = serializers.CharField()
    call_id = serializers.CharField()
    caller = serializers.CharField()
    caller_e164 = serializers.CharField()
    callee = serializers.CharField()
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.ChoiceField(choices=Reason.choices)
    visitor = serializers.SerializerMethodField()
    latency_us = serializers.IntegerField()
    command_status = serializers.ChoiceField(choices=CommandStatus.choices)
    explanation = serializers.SerializerMethodField()

    @extend_schema_field(ExplanationOutput(allow_null=True))
    def get_explanation(self, obj: object) -> dict | None:
        """What decided (null for calls logged before explanations existed)."""
        return getattr(obj, "explanation", None) or None

    def get_visitor(self, obj: object) -> str | None:
        visitors = self.context.get("visitors", {})
        visitor = visitors.get(getattr(obj, "visitor_id", None))
        return str(visitor.public_id) if visitor else None


class CallFilterInput(serializers.Serializer):
    """Filters of the call log."""

    decision = serializers.ChoiceField(
        choices=Decision.choices, required=False, allow_blank=True
    )
    number = serializers.CharField(required=False, allow_blank=True)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)


class VoiceSettingsBody(serializers.Serializer):
    """The gate settings (all optional on change)."""

    anonymous_policy = serializers.ChoiceField(
        choices=CallerPolicy.choices, required=False
    )
    unparseable_policy = serializers.ChoiceField(
        choices=CallerPolicy.choices, required=False
    )
    repeated_call_threshold = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False
    )
    repeated_call_window_seconds = serializers.IntegerField(
        min_value=10, max_value=7 * 24 * 3600, required=False
    )


class VoiceDecideInput(serializers.Serializer):
    """A call to decide on (schema only: the body is validated by the gate)."""

    to = serializers.CharField()
    call_id = serializers.CharField(required=False, max_length=200)
    attestation = serializers.CharField(
        required=False, max_length=64, help_text="STIR/SHAKEN attestation: A, B or C."
    )
    verstat = serializers.CharField(
        required=False,
        max_length=64,
        help_text="STIR/SHAKEN verification, e.g. TN-Validation-Passed-A.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="Caller number or SIP URI")
        return fields


class VoiceDecideOutput(serializers.Serializer):
    """The gate's answer."""

    action = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.ChoiceField(choices=Reason.choices)
    reason_label = serializers.CharField()
    visitor = serializers.DictField(allow_null=True)
    explanation = ExplanationOutput(help_text="What decided, and why.")
