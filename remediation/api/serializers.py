"""Serializers of the remediation API: the seed's shapes (/v2), the console's (v1)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from remediation import selectors
from remediation.choices import GateStatus, Provider, SpamRisk
from remediation.jsonapi import format_timestamp
from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationRequest,
    RemediationSettings,
)


@extend_schema_field(OpenApiTypes.DATETIME)
class SeedTimestampField(serializers.Field):
    """A timestamp exactly as the seed prints it: UTC, microseconds, Z."""

    def to_representation(self, value: Any) -> str | None:
        return format_timestamp(value)

    def to_internal_value(self, data: Any) -> Any:  # pragma: no cover - output only
        raise NotImplementedError


class RemediationResultsV2(serializers.Serializer):
    """The five result buckets (empty arrays, never omitted)."""

    remediated = serializers.ListField(child=serializers.CharField())
    not_flagged = serializers.ListField(child=serializers.CharField())
    requires_review = serializers.ListField(child=serializers.CharField())
    ineligible = serializers.ListField(child=serializers.CharField())
    refused = serializers.ListField(child=serializers.CharField())


class RemediationRequestV2Output(serializers.Serializer):
    """A remediation request in full, as submit and GET by id answer it."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField()
    phone_numbers_count = serializers.IntegerField()
    phone_numbers_submitted = serializers.IntegerField()
    phone_numbers_ineligible = serializers.IntegerField()
    call_purpose = serializers.CharField()
    contact_email = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()
    created_at = SeedTimestampField()
    updated_at = SeedTimestampField()
    tier1_completed_at = SeedTimestampField(allow_null=True)
    tier2_completed_at = SeedTimestampField(allow_null=True)
    results = serializers.SerializerMethodField()

    def get_contact_email(self, obj: RemediationRequest) -> str | None:
        return obj.contact_email or None

    def get_webhook_url(self, obj: RemediationRequest) -> str | None:
        return obj.webhook_url or None

    def get_results(self, obj: RemediationRequest) -> dict[str, list[str]] | None:
        return selectors.request_results(request=obj)


class RemediationRequestV2ListItem(serializers.Serializer):
    """The slim list shape: no results, webhook_url, email or count breakdown."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField()
    phone_numbers_count = serializers.IntegerField()
    call_purpose = serializers.CharField()
    created_at = SeedTimestampField()
    updated_at = SeedTimestampField()
    tier1_completed_at = SeedTimestampField(allow_null=True)
    tier2_completed_at = SeedTimestampField(allow_null=True)


def detail_data(request: RemediationRequest) -> dict[str, Any]:
    """The seed's detail object for one request (also the webhook payload)."""
    return dict(RemediationRequestV2Output(request).data)


# --- /api/v1: the console's own management API ------------------------------------


class RemediationEnterpriseOutput(serializers.ModelSerializer):
    """An enterprise with its gates."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    terms_accepted = serializers.SerializerMethodField()
    can_remediate = serializers.BooleanField(read_only=True)
    missing = serializers.ListField(
        source="missing_gates", child=serializers.CharField(), read_only=True
    )

    class Meta:
        model = Enterprise
        fields = (
            "id",
            "name",
            "upstream_enterprise_id",
            "reputation_status",
            "loa_status",
            "terms_accepted",
            "terms_accepted_at",
            "terms_accepted_by",
            "can_remediate",
            "missing",
            "created_at",
            "updated_at",
        )

    def get_terms_accepted(self, obj: Enterprise) -> bool:
        return obj.terms_accepted_at is not None


class RemediationEnterpriseInput(serializers.Serializer):
    """Create an enterprise."""

    name = serializers.CharField(max_length=200)
    upstream_enterprise_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    reputation_status = serializers.ChoiceField(
        choices=GateStatus.choices, required=False, default=GateStatus.PENDING
    )
    loa_status = serializers.ChoiceField(
        choices=GateStatus.choices, required=False, default=GateStatus.PENDING
    )
    terms_accepted = serializers.BooleanField(required=False, default=False)


class RemediationEnterpriseUpdateInput(serializers.Serializer):
    """Change an enterprise: name, upstream id, gates, terms acceptance."""

    name = serializers.CharField(max_length=200, required=False)
    upstream_enterprise_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True
    )
    reputation_status = serializers.ChoiceField(
        choices=GateStatus.choices, required=False
    )
    loa_status = serializers.ChoiceField(choices=GateStatus.choices, required=False)
    terms_accepted = serializers.BooleanField(required=False)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Why; kept in the audit trail. Required to withdraw accepted "
        "terms (`terms_accepted: false`).",
    )


class RemediationOwnedNumberOutput(serializers.ModelSerializer):
    """An owned number with its spam risk."""

    phone_number = serializers.CharField(source="e164")
    flagged = serializers.BooleanField(source="is_flagged", read_only=True)

    class Meta:
        model = OwnedNumber
        fields = (
            "phone_number",
            "monitored",
            "spam_risk",
            "spam_risk_checked_at",
            "flagged",
            "last_remediated_at",
            "created_at",
        )


class RemediationNumbersAddInput(serializers.Serializer):
    """Add owned numbers (1 to 2,000 at once), optionally with a spam risk."""

    phone_numbers = serializers.ListField(
        child=serializers.CharField(max_length=40), min_length=1, max_length=2000
    )
    spam_risk = serializers.ChoiceField(
        choices=SpamRisk.choices, required=False, allow_null=True, default=None
    )
    monitored = serializers.BooleanField(required=False, default=True)


class RemediationNumberUpdateInput(serializers.Serializer):
    """Change a number's spam risk (null: no data) or whether it is monitored."""

    spam_risk = serializers.ChoiceField(
        choices=SpamRisk.choices, required=False, allow_null=True
    )
    monitored = serializers.BooleanField(required=False)


class RemediationSettingsOutput(serializers.ModelSerializer):
    """The organisation's remediation settings; credentials show only their end."""

    api_key_hint = serializers.CharField(
        read_only=True,
        help_text="The API key's last four characters ('••••abcd'), '' when none is "
        "set; the key itself is never shown after it is saved.",
    )
    webhook_secret_hint = serializers.CharField(
        read_only=True,
        help_text="The webhook signing secret's last four characters; the secret is "
        "shown once, when rotated in Settings → Remediation, or is the one you set.",
    )
    updated_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the settings were last changed; null while the organisation "
        "still has the defaults.",
    )

    class Meta:
        model = RemediationSettings
        fields = (
            "provider",
            "api_base",
            "api_key_hint",
            "cooldown_days",
            "webhook_secret_hint",
            "updated_at",
        )


class RemediationSettingsInput(serializers.Serializer):
    """Change the provider, its API base and key, the cooldown window or the
    webhook signing secret (credentials are write-only)."""

    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    api_base = serializers.CharField(max_length=500, required=False, allow_blank=True)
    api_key = serializers.CharField(
        max_length=500, required=False, allow_blank=True, write_only=True
    )
    cooldown_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    webhook_secret = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Your own signing secret for status webhooks (24+ characters); "
        "replacing it requires `reason`.",
    )
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why; required when the webhook secret is replaced.",
    )
