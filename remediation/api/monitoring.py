"""The console's monitoring API (/api/v1/): admins enable, register, deregister and
change the frequency; operators refresh (billable); members read.

Refusals answer in the console's error shape with the provider's status: 400,
403 (gates), 404, 422 (one entry per bad field or number, `field` as a JSON
pointer such as `phone_numbers.1`), 429 with Retry-After, 503.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from remediation import monitoring, selectors
from remediation.choices import CheckFrequency, RefreshKind, RefreshStatus, SpamRisk
from remediation.errors import RateLimited, RemediationError
from remediation.models import Enterprise, ReputationObservation, ReputationRefresh
from trustconsole.core.api.views import ActorAPIView, ReasonSerializer
from trustconsole.lib.confirm import ConfirmReasonInput


def _field(pointer: str | None) -> str | None:
    return pointer.strip("/").replace("/", ".") or None if pointer else None


class MonitoringApiView(ActorAPIView):
    """Turns the services' refusals into the console's error shape."""

    # The provider's refusals pass through; 429 and 503 when it asks to wait or
    # cannot be reached.
    error_codes = (409, 422, 429, 503)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RemediationError):
            response = Response(
                {
                    "detail": exc.messages[0] if exc.messages else "Refused.",
                    "errors": [
                        {"field": _field(p.pointer), "reason": p.detail}
                        for p in exc.problems
                    ],
                },
                status=exc.status,
            )
            if isinstance(exc, RateLimited):
                response["Retry-After"] = str(exc.retry_after)
            return response
        return super().handle_exception(exc)

    def enterprise(self, public_id: str) -> Enterprise:
        return selectors.enterprise_get(actor=self.actor, public_id=public_id)


class ReputationOutput(serializers.Serializer):
    """An enterprise's monitoring record as the console keeps it."""

    enabled = serializers.BooleanField(source="monitoring_enabled")
    enabled_at = serializers.DateTimeField(
        source="reputation_enabled_at", allow_null=True
    )
    reputation_status = serializers.CharField()
    loa_status = serializers.CharField()
    loa_document_id = serializers.CharField()
    check_frequency = serializers.ChoiceField(choices=CheckFrequency.choices)
    rejection_reasons = serializers.ListField(
        child=serializers.CharField(), allow_null=True
    )
    last_check_at = serializers.DateTimeField(
        source="reputation_synced_at", allow_null=True
    )
    next_check_at = serializers.DateTimeField(source="next_sync_at", allow_null=True)
    refresh_blocked_until = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(source="sync_error")


class ReputationEnableInput(serializers.Serializer):
    """Enable monitoring: the LOA document id and how often to check."""

    loa_document_id = serializers.CharField(max_length=255)
    check_frequency = serializers.ChoiceField(
        choices=CheckFrequency.choices, default=CheckFrequency.BUSINESS_DAILY
    )


class ReputationFrequencyInput(serializers.Serializer):
    """A new check frequency (the provider wants status approved)."""

    check_frequency = serializers.ChoiceField(choices=CheckFrequency.choices)


class ReputationNumbersInput(serializers.Serializer):
    """1 to 100 E.164 numbers of the enterprise."""

    phone_numbers = serializers.ListField(
        child=serializers.CharField(max_length=40), min_length=1, max_length=100
    )


class ReputationNumberOutput(serializers.Serializer):
    """A number's latest reputation data and monitoring state."""

    phone_number = serializers.CharField(source="e164")
    registered = serializers.BooleanField(source="is_registered")
    registered_at = serializers.DateTimeField(allow_null=True)
    spam_risk = serializers.ChoiceField(choices=SpamRisk.choices, allow_null=True)
    spam_category = serializers.CharField()
    last_refreshed_at = serializers.DateTimeField(
        source="reputation_refreshed_at", allow_null=True
    )
    elevated_at = serializers.DateTimeField(allow_null=True)
    removed_at = serializers.DateTimeField(allow_null=True)
    removed_reason = serializers.CharField()
    verification_status = serializers.CharField()


class ReputationObservationOutput(serializers.ModelSerializer):
    """One observation of a number's reputation (every field may be null)."""

    class Meta:
        model = ReputationObservation
        fields = (
            "observed_at",
            "source",
            "spam_risk",
            "spam_category",
            "maturity_score",
            "connection_score",
            "engagement_score",
            "sentiment_score",
            "last_refreshed_at",
        )


class ReputationRefreshOutput(serializers.Serializer):
    """A billable refresh job."""

    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=RefreshKind.choices)
    status = serializers.ChoiceField(choices=RefreshStatus.choices)
    phone_numbers = serializers.ListField(child=serializers.CharField())
    total_successful = serializers.IntegerField()
    total_failed = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class EnterpriseReputationApi(MonitoringApiView):
    """Read the monitoring record; admins enable (billable) or disable it."""

    @extend_schema(responses=ReputationOutput)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(ReputationOutput(self.enterprise(public_id)).data)

    @extend_schema(request=ReputationEnableInput, responses={201: ReputationOutput})
    def post(self, request: Request, public_id: str) -> Response:
        enterprise = self.enterprise(public_id)
        data = ReputationEnableInput(data=request.data)
        data.is_valid(raise_exception=True)
        enterprise = monitoring.reputation_enable(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(
            ReputationOutput(enterprise).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=ConfirmReasonInput, responses={200: ReputationOutput})
    def delete(self, request: Request, public_id: str) -> Response:
        enterprise = self.enterprise(public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        enterprise = monitoring.reputation_disable(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(ReputationOutput(enterprise).data)


class EnterpriseReputationFrequencyApi(MonitoringApiView):
    """Admins change the check frequency once the status is approved."""

    @extend_schema(request=ReputationFrequencyInput, responses=ReputationOutput)
    def patch(self, request: Request, public_id: str) -> Response:
        enterprise = self.enterprise(public_id)
        data = ReputationFrequencyInput(data=request.data)
        data.is_valid(raise_exception=True)
        enterprise = monitoring.reputation_frequency_update(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(ReputationOutput(enterprise).data)


class EnterpriseReputationNumbersApi(MonitoringApiView):
    """List numbers with their reputation; admins register 1–100 (all or nothing)."""

    @extend_schema(responses=ReputationNumberOutput(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        enterprise = self.enterprise(public_id)
        queryset = selectors.number_list(actor=self.actor, enterprise=enterprise)
        return self.paginate(queryset, ReputationNumberOutput)

    @extend_schema(
        request=ReputationNumbersInput,
        responses={201: ReputationNumberOutput(many=True)},
    )
    def post(self, request: Request, public_id: str) -> Response:
        enterprise = self.enterprise(public_id)
        data = ReputationNumbersInput(data=request.data)
        data.is_valid(raise_exception=True)
        rows = monitoring.reputation_numbers_register(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(
            ReputationNumberOutput(rows, many=True).data,
            status=status.HTTP_201_CREATED,
        )


class EnterpriseReputationNumberApi(MonitoringApiView):
    """One number (`+` as %2B): its reputation history; admins deregister it."""

    class HistoryOutput(serializers.Serializer):
        number = ReputationNumberOutput()
        observations = ReputationObservationOutput(many=True)

    @extend_schema(responses=HistoryOutput)
    def get(self, request: Request, public_id: str, e164: str) -> Response:
        enterprise = self.enterprise(public_id)
        number = selectors.number_get(
            actor=self.actor, enterprise=enterprise, e164=e164
        )
        observations = selectors.observation_list(number=number)[:1000]
        return Response(
            self.HistoryOutput({"number": number, "observations": observations}).data
        )

    @extend_schema(request=ReasonSerializer, responses={200: ReputationNumberOutput})
    def delete(self, request: Request, public_id: str, e164: str) -> Response:
        enterprise = self.enterprise(public_id)
        number = selectors.number_get(
            actor=self.actor, enterprise=enterprise, e164=e164
        )
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        number = monitoring.reputation_number_deregister(
            actor=self.actor, number=number, **data.validated_data
        )
        return Response(ReputationNumberOutput(number).data)


class EnterpriseReputationRefreshApi(MonitoringApiView):
    """Recent refreshes; operators queue a billable refresh of 1–100 numbers."""

    write_roles = monitoring.REFRESH_ROLES

    @extend_schema(responses=ReputationRefreshOutput(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        enterprise = self.enterprise(public_id)
        queryset = selectors.refresh_list(actor=self.actor, enterprise=enterprise)
        return self.paginate(queryset, ReputationRefreshOutput)

    @extend_schema(
        request=ReputationNumbersInput,
        responses={202: ReputationRefreshOutput},
        description="Each number is a billable live lookup at the provider.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        enterprise = self.enterprise(public_id)
        data = ReputationNumbersInput(data=request.data)
        data.is_valid(raise_exception=True)
        job: ReputationRefresh = monitoring.reputation_refresh_request(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(
            ReputationRefreshOutput(job).data, status=status.HTTP_202_ACCEPTED
        )
