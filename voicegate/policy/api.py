"""The outbound policy API under /api/v1/voice/: the check, lists and records.

Members read; operators and support (and admins) check calls and keep the lists;
admins change the settings.
"""

from __future__ import annotations

import time
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
from trustconsole.lib import metrics
from trustconsole.lib.confirm import ConfirmReasonInput
from trustconsole.lib.jsonbody import JSONBodyParser
from trustconsole.policy.api import ExplanationOutput
from voicegate.policy import selectors, services
from voicegate.policy.choices import (
    DncKind,
    DncProblemMode,
    DncStorage,
    ImportMode,
    ImportStatus,
    SignalWeight,
    VerificationMethod,
    Violation,
)
from voicegate.policy.export import csv_lines

# Counts and thresholds fit a database integer column.
MAX_INT = 2_147_483_647

ACT = ("operator", "support")


class PolicyAPIView(ActorAPIView):
    """Members read; operators and support act."""

    write_roles = ACT


# --- Serializers (names are unique across the project) -------------------------


class OutboundCheckInput(serializers.Serializer):
    """A proposed outbound call. `from` and `to`: E.164, or national numbers read in
    `region` (default: the caller ID's country)."""

    to = serializers.CharField(max_length=64, allow_blank=True)
    account = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, help_text="Account id"
    )
    region = serializers.CharField(
        required=False, allow_blank=True, max_length=2, help_text="ISO country"
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `from` is a Python keyword, so it cannot be declared as an attribute.
        fields["from"] = serializers.CharField(max_length=64, allow_blank=True)
        return fields


class OutboundViolationOutput(serializers.Serializer):
    """One violation of the acceptable-use policy."""

    code = serializers.ChoiceField(choices=Violation.choices)
    detail = serializers.CharField()
    explanation = ExplanationOutput(
        required=False, help_text="What decided (absent on denials logged before)."
    )


class OutboundWarningOutput(serializers.Serializer):
    """Something to know that does not refuse the call: a stale national list when
    the organisation warns instead of refusing, or `caller_id_high_spam_risk` when
    the caller ID is one of its enterprise numbers with a high spam risk."""

    code = serializers.CharField()
    message = serializers.CharField()


class OutboundCheckOutput(serializers.Serializer):
    """The answer: allowed, every violation found, and warnings (never denials)."""

    allowed = serializers.BooleanField()
    violations = OutboundViolationOutput(many=True)
    warnings = OutboundWarningOutput(many=True)
    explanation = ExplanationOutput(
        allow_null=True,
        help_text="What decided: the first violation's explanation, or why the "
        "call is allowed.",
    )


class DncImportOutput(serializers.Serializer):
    """A CSV import and its progress."""

    id = serializers.UUIDField(source="public_id")
    list = serializers.UUIDField(source="dnc_list.public_id")
    status = serializers.ChoiceField(choices=ImportStatus.choices)
    mode = serializers.ChoiceField(choices=ImportMode.choices)
    as_of = serializers.DateField(allow_null=True)
    version = serializers.IntegerField(source="version.number", allow_null=True)
    file_name = serializers.CharField()
    file_size = serializers.IntegerField()
    bytes_read = serializers.IntegerField()
    percent = serializers.IntegerField()
    rows_read = serializers.IntegerField()
    valid = serializers.IntegerField()
    invalid = serializers.IntegerField()
    added = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
    error = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class DncListOutput(serializers.Serializer):
    """A Do-Not-Call list with its count and last import."""

    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=DncKind.choices)
    country = serializers.CharField()
    description = serializers.CharField()
    entry_count = serializers.IntegerField()
    storage = serializers.ChoiceField(choices=DncStorage.choices)
    as_of = serializers.DateField(allow_null=True)
    version = serializers.IntegerField(source="current_version.number", allow_null=True)
    last_import = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_last_import(self, obj: Any) -> dict | None:
        latest = self.context.get("last_imports")
        if latest is None:
            latest = selectors.dnc_last_imports(lists=[obj])
        row = latest.get(obj.pk)
        return DncImportOutput(row).data if row else None


class DncListInput(serializers.Serializer):
    """A new Do-Not-Call list."""

    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=DncKind.choices, default=DncKind.INTERNAL)
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default=""
    )
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )


class DncNumberInput(serializers.Serializer):
    """One number to put on a list."""

    number = serializers.CharField(max_length=64)


class DncEntryOutput(serializers.Serializer):
    """One number on a list."""

    number = serializers.CharField(source="e164")


class DncImportInput(serializers.Serializer):
    """A file (one number per row, or `area code,number`; gzip or zip for national
    lists), the country of numbers without +, what the file is (`mode`) and the
    registry file's date (`as_of`; default: a date in the file name, else today)."""

    file = serializers.FileField()
    region = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default=""
    )
    mode = serializers.ChoiceField(
        choices=ImportMode.choices, required=False, default=ImportMode.FULL
    )
    as_of = serializers.DateField(required=False, allow_null=True, default=None)


class PolicyReasonInput(serializers.Serializer):
    """An optional reason, kept in the audit trail."""

    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CallerIdOutput(serializers.Serializer):
    """A verified caller ID."""

    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    account = serializers.UUIDField(source="account.public_id", allow_null=True)
    method = serializers.ChoiceField(choices=VerificationMethod.choices)
    note = serializers.CharField()
    verified_by = serializers.CharField()
    verified_at = serializers.DateTimeField()


class CallerIdInput(serializers.Serializer):
    """A caller ID to record as verified (no account: the organisation's own)."""

    number = serializers.CharField(max_length=64)
    account = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    method = serializers.ChoiceField(choices=VerificationMethod.choices)
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    verified_at = serializers.DateTimeField(required=False, allow_null=True)


class ConsentOutput(serializers.Serializer):
    """A destination's consent to be called."""

    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    account = serializers.UUIDField(source="account.public_id", allow_null=True)
    evidence = serializers.CharField()
    given_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    recorded_by = serializers.CharField()


class ConsentInput(serializers.Serializer):
    """Consent to record (no account: consent to every caller of the organisation)."""

    number = serializers.CharField(max_length=64)
    account = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    evidence = serializers.CharField(max_length=500)
    given_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class DenialOutput(serializers.Serializer):
    """A refused outbound call with its violations."""

    id = serializers.UUIDField(source="public_id")
    account = serializers.UUIDField(source="account.public_id", allow_null=True)
    to = serializers.CharField(source="to_number")
    violations = OutboundViolationOutput(many=True)
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    explanation = ExplanationOutput(
        many=True, help_text="What decided each violation, in precedence order."
    )

    def to_representation(self, instance: Any) -> dict:
        data = super().to_representation(instance)
        return {"id": data["id"], "from": instance.from_number, **data}


class DenialCountOutput(serializers.Serializer):
    """Denials of one customer account."""

    account = serializers.UUIDField(source="account__public_id")
    company_name = serializers.CharField(source="account__company_name")
    status = serializers.CharField(source="account__status")
    denials = serializers.IntegerField(source="total")


class PolicySettingsIO(serializers.Serializer):
    """The organisation's outbound policy settings."""

    harassment_limit = serializers.IntegerField(
        max_value=MAX_INT, min_value=1, required=False
    )
    harassment_window_seconds = serializers.IntegerField(
        min_value=60, max_value=90 * 86400, required=False
    )
    blacklisted_do_not_contact = serializers.BooleanField(required=False)
    denial_threshold = serializers.IntegerField(
        max_value=MAX_INT, min_value=1, required=False
    )
    denial_window_seconds = serializers.IntegerField(
        min_value=60, max_value=90 * 86400, required=False
    )
    denial_signal_weight = serializers.ChoiceField(
        choices=SignalWeight.choices, required=False
    )
    auto_restrict_voice = serializers.BooleanField(required=False)
    dnc_stale_mode = serializers.ChoiceField(
        choices=DncProblemMode.choices, required=False
    )
    dnc_unavailable_mode = serializers.ChoiceField(
        choices=DncProblemMode.choices, required=False
    )


# --- Views -----------------------------------------------------------------------


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
        values = data.validated_data
        started = time.perf_counter()
        outcome = services.outbound_check(
            actor=self.actor,
            from_number=values["from"],
            to_number=values["to"],
            account=values.get("account") or None,
            region=values.get("region") or None,
        )
        metrics.outbound_checked(outcome, seconds=time.perf_counter() - started)
        return Response(outcome.answer())


class DncListsApi(PolicyAPIView):
    """Do-Not-Call lists; POST creates an empty one."""

    @extend_schema(responses=DncListOutput(many=True))
    def get(self, request: Request) -> Response:
        paginator = api_settings.DEFAULT_PAGINATION_CLASS()
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

    @extend_schema(request=PolicyReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        data = PolicyReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.dnc_list_delete(actor=self.actor, dnc_list=row, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DncListEmptyApi(PolicyAPIView):
    """Remove every number of a list."""

    @extend_schema(request=PolicyReasonInput, responses=DncListOutput)
    def post(self, request: Request, public_id: str) -> Response:
        row = selectors.dnc_list_get(actor=self.actor, public_id=public_id)
        data = PolicyReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.dnc_list_empty(
            actor=self.actor, dnc_list=row, **data.validated_data
        )
        return Response(DncListOutput(row).data)


class NumberParams(serializers.Serializer):
    """`?number=`: one number to look for."""

    number = serializers.CharField(
        required=False, allow_blank=True, max_length=64, default=""
    )


class AccountParams(serializers.Serializer):
    """`?account=`: a customer account's id."""

    account = serializers.CharField(required=False, allow_blank=True, max_length=64)


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
    """One verified caller ID; DELETE withdraws it."""

    @extend_schema(responses=CallerIdOutput)
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.caller_id_get(actor=self.actor, public_id=public_id)
        return Response(CallerIdOutput(row).data)

    @extend_schema(request=PolicyReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        row = selectors.caller_id_get(actor=self.actor, public_id=public_id)
        data = PolicyReasonInput(data=request.data)
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
    """One consent record; DELETE withdraws it."""

    @extend_schema(responses=ConsentOutput)
    def get(self, request: Request, public_id: str) -> Response:
        row = selectors.consent_get(actor=self.actor, public_id=public_id)
        return Response(ConsentOutput(row).data)

    @extend_schema(request=PolicyReasonInput, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        row = selectors.consent_get(actor=self.actor, public_id=public_id)
        data = PolicyReasonInput(data=request.data)
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
