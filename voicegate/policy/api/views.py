"""The outbound policy API under /api/v1/voice/: the check, lists and records.

Members read; operators and support (and admins) check calls and keep the lists;
admins change the settings.
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from trustconsole.core.api.views import ActorAPIView
from trustconsole.lib.confirm import ConfirmReasonInput
from trustconsole.lib.jsonbody import JSONBodyParser
from voicegate.policy import selectors, services
from voicegate.policy.api.hot import check_answer, with_short_path
from voicegate.policy.api.serializers import (
    AccountParams,
    CallerIdInput,
    CallerIdOutput,
    ConsentInput,
    ConsentOutput,
    DenialCountOutput,
    DenialOutput,
    DncEntryOutput,
    DncImportInput,
    DncImportOutput,
    DncListInput,
    DncListOutput,
    DncNumberInput,
    NumberParams,
    OutboundCheckInput,
    OutboundCheckOutput,
    PolicySettingsIO,
)
from voicegate.policy.choices import (
    Violation,
)
from voicegate.policy.export import csv_lines

ACT = ("operator", "support")


class PolicyAPIView(ActorAPIView):
    """Members read; operators and support act."""

    write_roles = ACT


class OutboundCheckApi(PolicyAPIView):
    """Check a proposed outbound call against the acceptable-use policy.

    Answers every violation found (dnc, caller_id_not_owned, emergency_number,
    account_restricted, blacklisted_destination, blocked_destination, harassment),
    each with its explanation (what decided it). Denials are logged.
    """

    @extend_schema(request=OutboundCheckInput, responses=OutboundCheckOutput)
    def post(self, request: Request) -> Response:
        data = OutboundCheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(check_answer(actor=self.actor, values=data.validated_data))


# What the URL pattern and the thin WSGI router serve: ordinary checks by the
# short path (api/hot.py), everything else by the DRF view above.
outbound_check_view = with_short_path(OutboundCheckApi.as_view())


class DncListsApi(PolicyAPIView):
    """Do-Not-Call lists; POST creates an empty one."""

    @extend_schema(responses=DncListOutput(many=True))
    def get(self, request: Request) -> Response:
        pagination_class: Any = api_settings.DEFAULT_PAGINATION_CLASS
        paginator = pagination_class()
        page = paginator.paginate_queryset(
            selectors.dnc_list_list(actor=self.actor), request, view=self
        )
        context = {"last_imports": selectors.dnc_last_imports(lists=page)}
        return paginator.get_paginated_response(
            DncListOutput(page, many=True, context=context).data
        )

    @extend_schema(request=DncListInput, responses={201: DncListOutput})
    def post(self, request: Request) -> Response:
        data = DncListInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.dnc_list_create(actor=self.actor, **data.validated_data)
        return Response(DncListOutput(row).data, status=status.HTTP_201_CREATED)


class DncListDetailApi(PolicyAPIView):
    """One list; DELETE removes it with all its numbers."""

    @extend_schema(responses=DncListOutput)
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        return Response(DncListOutput(row).data)

    @extend_schema(request=ConfirmReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.dnc_list_delete(actor=self.actor, dnc_list=row, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DncListEmptyApi(PolicyAPIView):
    """Remove every number of a list."""

    @extend_schema(request=ConfirmReasonInput, responses=DncListOutput)
    def post(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.dnc_list_empty(
            actor=self.actor, dnc_list=row, **data.validated_data
        )
        return Response(DncListOutput(row).data)


class DncEntriesApi(PolicyAPIView):
    """Numbers of a list (`?number=` finds one); POST adds one number."""

    @extend_schema(parameters=[NumberParams], responses=DncEntryOutput(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        entries = selectors.dnc_entry_list(
            dnc_list=row, number=self.query(NumberParams)["number"]
        )
        return self.paginate(entries, DncEntryOutput)

    @extend_schema(request=DncNumberInput, responses={201: DncEntryOutput})
    def post(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        data = DncNumberInput(data=request.data)
        data.is_valid(raise_exception=True)
        number = services.dnc_number_add(
            actor=self.actor, dnc_list=row, number=data.validated_data["number"]
        )
        return Response({"number": number}, status=status.HTTP_201_CREATED)


class DncEntryDeleteApi(PolicyAPIView):
    """Take one number off a list (the number in the path, e.g. %2B14155550123);
    the body's `reason` is required and kept in the audit trail."""

    @extend_schema(request=ConfirmReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str, number: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.dnc_number_remove(
            actor=self.actor, dnc_list=row, number=number, **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class DncImportsApi(PolicyAPIView):
    """Imports of a list; POST uploads a CSV and queues its import (202)."""

    parser_classes = [MultiPartParser, FormParser, JSONBodyParser]

    @extend_schema(responses=DncImportOutput(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        return self.paginate(
            selectors.dnc_import_list(actor=self.actor, dnc_list=row), DncImportOutput
        )

    @extend_schema(request=DncImportInput, responses={202: DncImportOutput})
    def post(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        data = DncImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = services.dnc_import_start(
            actor=self.actor,
            dnc_list=row,
            upload=upload,
            file_name=upload.name,
            region=data.validated_data["region"],
            mode=data.validated_data["mode"],
            as_of=data.validated_data["as_of"],
        )
        return Response(DncImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class DncImportDetailApi(PolicyAPIView):
    """One import: poll it for progress."""

    @extend_schema(responses=DncImportOutput)
    def get(self, request: Request, public_id: str) -> Response:
        job = selectors.dnc_import_get(actor=self.actor, public_id=public_id)
        return Response(DncImportOutput(job).data)


class DncExportApi(PolicyAPIView):
    """Every number of a list as CSV (`number` column, E.164), streamed."""

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR)}
    )
    def get(self, request: Request, public_id: str) -> StreamingHttpResponse:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        return csv_lines(row)


class CallerIdsApi(PolicyAPIView):
    """Verified caller IDs (`?account=`); POST records one."""

    error_codes = (404,)  # `account` names no account of the organisation

    @extend_schema(
        parameters=[OpenApiParameter("account", str)],
        responses=CallerIdOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        account = _account_param(self.actor, request)
        return self.paginate(
            selectors.caller_id_list(actor=self.actor, account=account), CallerIdOutput
        )

    @extend_schema(request=CallerIdInput, responses={201: CallerIdOutput})
    def post(self, request: Request) -> Response:
        data = CallerIdInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.caller_id_verify(actor=self.actor, **data.validated_data)
        return Response(CallerIdOutput(row).data, status=status.HTTP_201_CREATED)


class CallerIdDetailApi(PolicyAPIView):
    """One verified caller ID; DELETE withdraws it (the body's `reason` is
    required and kept in the audit trail)."""

    @extend_schema(responses=CallerIdOutput)
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.caller_id_get(actor=self.actor, public_id=public_id)
        return Response(CallerIdOutput(row).data)

    @extend_schema(request=ConfirmReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        row = selectors.caller_id_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.caller_id_remove(
            actor=self.actor, caller_id=row, **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConsentsApi(PolicyAPIView):
    """Consent records (`?account=`, `?number=`); POST records one."""

    error_codes = (404,)  # `account` names no account of the organisation

    @extend_schema(
        parameters=[AccountParams, NumberParams], responses=ConsentOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        number = self.query(NumberParams)["number"]
        account = _account_param(self.actor, request)
        rows = selectors.consent_list(actor=self.actor, account=account, number=number)
        return self.paginate(rows, ConsentOutput)

    @extend_schema(request=ConsentInput, responses={201: ConsentOutput})
    def post(self, request: Request) -> Response:
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.consent_record(actor=self.actor, **data.validated_data)
        return Response(ConsentOutput(row).data, status=status.HTTP_201_CREATED)


class ConsentDetailApi(PolicyAPIView):
    """One consent record; DELETE withdraws it (the body's `reason` is required
    and kept in the audit trail)."""

    @extend_schema(responses=ConsentOutput)
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.consent_get(actor=self.actor, public_id=public_id)
        return Response(ConsentOutput(row).data)

    @extend_schema(request=ConfirmReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        row = selectors.consent_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.consent_remove(actor=self.actor, consent=row, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DenialsApi(PolicyAPIView):
    """Refused outbound calls with their violations (`?account=`, `?code=`)."""

    class CodeParams(serializers.Serializer):
        class Meta:
            ref_name = "PolicyDenialCodeParams"

        code = serializers.ChoiceField(
            choices=Violation.choices, required=False, allow_blank=True, default=""
        )

    @extend_schema(
        parameters=[AccountParams, CodeParams], responses=DenialOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        code = self.query(self.CodeParams)["code"]
        account = _account_param(self.actor, request)
        rows = selectors.denial_list(actor=self.actor, account=account, code=code)
        return self.paginate(rows, DenialOutput)


class DenialDetailApi(PolicyAPIView):
    """One refused outbound call with its violations and their explanations."""

    @extend_schema(responses=DenialOutput)
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.denial_get(actor=self.actor, public_id=public_id)
        return Response(DenialOutput(row).data)


class DenialCountsApi(PolicyAPIView):
    """Denials per customer account over the last `days` (default 30)."""

    class DaysParams(serializers.Serializer):
        class Meta:
            ref_name = "PolicyDenialDaysParams"

        days = serializers.IntegerField(
            required=False, default=30, min_value=1, max_value=365
        )

    @extend_schema(parameters=[DaysParams], responses=DenialCountOutput(many=True))
    def get(self, request: Request) -> Response:
        days = self.query(self.DaysParams)["days"]
        rows = selectors.denial_counts_by_account(actor=self.actor, days=days)
        return self.paginate(rows, DenialCountOutput)


class PolicySettingsApi(ActorAPIView):
    """The organisation's outbound policy settings; PATCH changes them (admins)."""

    @extend_schema(responses=PolicySettingsIO)
    def get(self, request: Request) -> Response:
        row = selectors.policy_settings_get(actor=self.actor)
        return Response(PolicySettingsIO(row).data)

    @extend_schema(request=PolicySettingsIO, responses=PolicySettingsIO)
    def patch(self, request: Request) -> Response:
        data = PolicySettingsIO(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        row = services.policy_settings_update(actor=self.actor, **data.validated_data)
        return Response(PolicySettingsIO(row).data)


def _account_param(actor: Any, request: Request) -> Any:
    value = request.query_params.get("account", "").strip()
    if not value:
        return None
    from accounts.selectors import account_get

    return account_get(actor=actor, public_id=value)
