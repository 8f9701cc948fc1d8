"""The console's remediation management API (/api/v1/): admins change, members read."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from remediation import selectors, services
from remediation.api.serializers import (
    RemediationEnterpriseInput,
    RemediationEnterpriseOutput,
    RemediationEnterpriseUpdateInput,
    RemediationNumbersAddInput,
    RemediationNumberUpdateInput,
    RemediationOwnedNumberOutput,
    RemediationSettingsInput,
    RemediationSettingsOutput,
)
from remediation.choices import SpamRisk
from trustconsole.core.api.views import ActorAPIView
from trustconsole.lib.confirm import ConfirmReasonInput


class EnterpriseListApi(ActorAPIView):
    """List enterprises; admins register one."""

    @extend_schema(responses=RemediationEnterpriseOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(
            selectors.enterprise_list(actor=self.actor), RemediationEnterpriseOutput
        )

    @extend_schema(
        request=RemediationEnterpriseInput,
        responses={201: RemediationEnterpriseOutput},
    )
    def post(self, request: Request) -> Response:
        data = RemediationEnterpriseInput(data=request.data)
        data.is_valid(raise_exception=True)
        enterprise = services.enterprise_create(actor=self.actor, **data.validated_data)
        return Response(
            RemediationEnterpriseOutput(enterprise).data, status=status.HTTP_201_CREATED
        )


class EnterpriseDetailApi(ActorAPIView):
    """One enterprise: read; admins change gates and terms, or remove it."""

    @extend_schema(responses=RemediationEnterpriseOutput)
    def get(self, request: Request, public_id: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        return Response(RemediationEnterpriseOutput(enterprise).data)

    @extend_schema(
        request=RemediationEnterpriseUpdateInput, responses=RemediationEnterpriseOutput
    )
    def patch(self, request: Request, public_id: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        data = RemediationEnterpriseUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        enterprise = services.enterprise_update(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(RemediationEnterpriseOutput(enterprise).data)

    @extend_schema(request=ConfirmReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.enterprise_delete(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EnterpriseNumbersApi(ActorAPIView):
    """An enterprise's owned numbers (filter by risk); admins add up to 2,000."""

    class ListParams(serializers.Serializer):
        class Meta:
            ref_name = "RemediationNumberListParams"

        spam_risk = serializers.ChoiceField(
            choices=[*SpamRisk.values, "none"], required=False, allow_blank=True
        )
        flagged = serializers.BooleanField(required=False, default=False)
        q = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=40,
            help_text="digits the number contains",
        )

    @extend_schema(
        parameters=[ListParams], responses=RemediationOwnedNumberOutput(many=True)
    )
    def get(self, request: Request, public_id: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        params = self.query(self.ListParams)
        queryset = selectors.number_list(
            actor=self.actor,
            enterprise=enterprise,
            spam_risk=params.get("spam_risk", ""),
            flagged=params["flagged"],
            search=params.get("q", ""),
        )
        return self.paginate(queryset, RemediationOwnedNumberOutput)

    @extend_schema(
        request=RemediationNumbersAddInput,
        responses={201: RemediationOwnedNumberOutput(many=True)},
    )
    def post(self, request: Request, public_id: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        data = RemediationNumbersAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        rows = services.numbers_add(
            actor=self.actor, enterprise=enterprise, **data.validated_data
        )
        return Response(
            RemediationOwnedNumberOutput(rows, many=True).data,
            status=status.HTTP_201_CREATED,
        )


class EnterpriseNumberDetailApi(ActorAPIView):
    """One owned number (E.164, `+` as %2B): read; admins set risk or remove it
    (the body's `reason` is required to remove it and kept in the audit trail)."""

    @extend_schema(responses=RemediationOwnedNumberOutput)
    def get(self, request: Request, public_id: str, e164: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        number = selectors.number_get(
            actor=self.actor, enterprise=enterprise, e164=e164
        )
        return Response(RemediationOwnedNumberOutput(number).data)

    @extend_schema(
        request=RemediationNumberUpdateInput, responses=RemediationOwnedNumberOutput
    )
    def patch(self, request: Request, public_id: str, e164: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        number = selectors.number_get(
            actor=self.actor, enterprise=enterprise, e164=e164
        )
        data = RemediationNumberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        number = services.number_update(
            actor=self.actor, number=number, **data.validated_data
        )
        return Response(RemediationOwnedNumberOutput(number).data)

    @extend_schema(request=ConfirmReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str, e164: str) -> Response:
        enterprise = selectors.enterprise_get(actor=self.actor, public_id=public_id)
        number = selectors.number_get(
            actor=self.actor, enterprise=enterprise, e164=e164
        )
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.number_remove(actor=self.actor, number=number, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RemediationSettingsApi(ActorAPIView):
    """The organisation's remediation settings: admins read and change them."""

    @extend_schema(responses=RemediationSettingsOutput)
    def get(self, request: Request) -> Response:
        self.actor.require()  # settings are admin-only
        row = selectors.settings_for(organisation=self.actor.organisation)
        return Response(RemediationSettingsOutput(row).data)

    @extend_schema(
        request=RemediationSettingsInput, responses=RemediationSettingsOutput
    )
    def patch(self, request: Request) -> Response:
        data = RemediationSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.settings_update(actor=self.actor, **data.validated_data)
        return Response(RemediationSettingsOutput(row).data)


class WebhookSecretRotateApi(ActorAPIView):
    """Replace the status webhook signing secret with a new random one (admins).

    The new secret is in this answer only (it is stored encrypted); the required
    `reason` is kept in the audit trail.
    """

    class RotatedOutput(serializers.Serializer):
        webhook_secret = serializers.CharField()
        webhook_secret_hint = serializers.CharField()

    @extend_schema(request=ConfirmReasonInput, responses=RotatedOutput)
    def post(self, request: Request) -> Response:
        self.actor.require()  # before the body: settings are admin-only
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.webhook_secret_rotate(actor=self.actor, **data.validated_data)
        return Response(self.RotatedOutput(row).data)
