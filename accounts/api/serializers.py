"""Output serializers shared by the accounts API views."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors
from accounts.choices import AccountStatus, EvidenceKind, RequestStatus, Service
from accounts.models import Account, Evidence, PortAwayGrant, ReassessmentRequest
from trustconsole.policy.api import ExplanationOutput


class SignalOutputSerializer(serializers.Serializer):
    """A risk signal: the explanation of part of the score (internal)."""

    id = serializers.UUIDField(source="public_id")
    signal_type = serializers.CharField()
    # Declared fields named like Field attributes (DRF takes them out of the class).
    label = serializers.CharField(source="get_signal_type_display")  # type: ignore[assignment]
    weight = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When it stops counting (null: never)."
    )
    expired = serializers.BooleanField(
        help_text="Its expiry has passed: it no longer counts in the risk score."
    )


class AccountOutputSerializer(serializers.Serializer):
    """A customer account as support sees it (internal: includes the reason)."""

    id = serializers.UUIDField(source="public_id")
    company_name = serializers.CharField()
    email = serializers.EmailField()
    website = serializers.CharField()
    country = serializers.CharField()
    signup_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=AccountStatus.choices)
    restricted_services = serializers.ListField(child=serializers.CharField())
    balance = serializers.DecimalField(max_digits=12, decimal_places=2)
    payment_flagged = serializers.BooleanField()
    risk_score = serializers.IntegerField()
    status_reason = serializers.CharField()
    decision_final = serializers.BooleanField()


class ServiceDecisionOutputSerializer(serializers.Serializer):
    """The decision core's verdict on the account using one service now."""

    service = serializers.ChoiceField(choices=Service.choices)
    allowed = serializers.BooleanField()
    explanation = ExplanationOutput()


class AccountDetailOutputSerializer(AccountOutputSerializer):
    """An account with the explanation of its risk score and of its status."""

    signals = serializers.SerializerMethodField(
        help_text="The live risk signals whose weights make up the risk score."
    )
    status_by = serializers.CharField(
        help_text="Who or which automatic rule set the current status (internal)."
    )
    status_explanation = serializers.SerializerMethodField(
        help_text="What decided the hold or restrictions (null: nothing refused)."
    )
    services = serializers.SerializerMethodField(
        help_text="Each service: allowed now or not, and what decided it."
    )

    @extend_schema_field(SignalOutputSerializer(many=True))
    def get_signals(self, obj: Account) -> list[dict[str, Any]]:
        rows: Any = SignalOutputSerializer(
            selectors.account_signals(account=obj), many=True
        ).data
        return list(rows)

    @extend_schema_field(ExplanationOutput(allow_null=True))
    def get_status_explanation(self, obj: Account) -> dict[str, Any] | None:
        return selectors.account_status_explanation(account=obj)

    @extend_schema_field(ServiceDecisionOutputSerializer(many=True))
    def get_services(self, obj: Account) -> list[dict[str, Any]]:
        verdicts = selectors.account_service_verdicts(account=obj)
        return [
            {
                "service": service,
                "allowed": verdict.allowed,
                "explanation": verdict.explanation(),
            }
            for service, verdict in verdicts.items()
        ]


class EvidenceOutputSerializer(serializers.Serializer):
    """An evidence item; files are fetched through the download endpoint."""

    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=EvidenceKind.choices)
    name = serializers.CharField(source="original_name")
    url = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    download = serializers.SerializerMethodField()

    def get_download(self, obj: Evidence) -> str | None:
        if not obj.file:
            return None
        return reverse("accounts_api:evidence_file", args=[obj.public_id])


class RequestOutputSerializer(serializers.Serializer):
    """A reassessment request with its SLA state and decision (internal)."""

    id = serializers.UUIDField(source="public_id")
    account = serializers.UUIDField(source="account.public_id")
    company_name = serializers.CharField()
    company_website = serializers.CharField()
    use_case = serializers.CharField()
    services_wanted = serializers.ListField(child=serializers.CharField())
    sample_message = serializers.CharField()
    destination_countries = serializers.ListField(child=serializers.CharField())
    estimated_units_per_month = serializers.IntegerField()
    estimated_spend_per_month = serializers.DecimalField(
        max_digits=12, decimal_places=2
    )
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    sla_state = serializers.SerializerMethodField()
    submitted_at = serializers.DateTimeField()
    submitted_by = serializers.CharField()
    warn_on = serializers.DateField()
    due_on = serializers.DateField()
    info_request_message = serializers.CharField()
    decision = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField()
    internal_reason = serializers.CharField()
    services_lifted = serializers.ListField(child=serializers.CharField())
    evidence = EvidenceOutputSerializer(many=True)

    def get_sla_state(self, obj: ReassessmentRequest) -> str:
        return obj.sla_state()


class PortAwayOutputSerializer(serializers.Serializer):
    """A port-away grant."""

    id = serializers.UUIDField(source="public_id")
    numbers = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField()
    port_out_fee_waived = serializers.BooleanField()
    granted_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    active = serializers.SerializerMethodField()

    def get_active(self, obj: PortAwayGrant) -> bool:
        return obj.is_active()


class RefundOutputSerializer(serializers.Serializer):
    """A refund request and its outcome."""

    id = serializers.UUIDField(source="public_id")
    account = serializers.UUIDField(source="account.public_id")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.CharField()
    outcome_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


class FeedbackOutputSerializer(serializers.Serializer):
    """Feedback on the block process (not an appeal)."""

    id = serializers.UUIDField(source="public_id")
    account = serializers.UUIDField(source="account.public_id")
    subject = serializers.CharField()
    ticket_id = serializers.CharField()
    body = serializers.CharField()
    received_at = serializers.DateTimeField()
