"""API of CSV imports and exports under /api/v1/.

POST /imports/ uploads a file (multipart) and queues its dry run or import (202);
GET /imports/{id}/ is the status to poll (progress, counts, every problem by
line in `problems`);
POST /imports/{id}/apply/ imports a finished dry run's file. GET /exports/…/
streams a list as CSV with the list page's filters.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from trustconsole.core.api.views import ActorAPIView
from trustconsole.core.choices import Role
from trustconsole.csvio import exports, selectors, services
from trustconsole.csvio.models import ImportKind, ImportStatus
from trustconsole.lib.jsonbody import JSONBodyParser
from visitors.choices import Band, VisitorStatus
from visitors.forms import SORT_CHOICES

CSV_RESPONSE = {(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR)}


class CsvImportInput(serializers.Serializer[Any]):
    """What the file holds, the file (UTF-8 CSV with a header row), and whether
    to only check it (`dry_run`, the default) or import it at once."""

    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=True)


class CsvImportProblemOutput(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    field = serializers.CharField()
    reason = serializers.CharField()


class CsvImportChangeOutput(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    action = serializers.ChoiceField(choices=["create", "update"])
    summary = serializers.CharField()


class CsvImportOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    dry_run = serializers.BooleanField()
    dry_run_of = serializers.UUIDField(
        source="dry_run_of.public_id", allow_null=True, default=None
    )
    status = serializers.ChoiceField(choices=ImportStatus.choices)
    percent = serializers.IntegerField()
    file_name = serializers.CharField()
    rows_total = serializers.IntegerField()
    rows_done = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    invalid = serializers.IntegerField()
    problems = CsvImportProblemOutput(many=True, source="errors")
    changes = CsvImportChangeOutput(many=True)
    error = serializers.CharField(allow_blank=True)
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class CsvImportListParams(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=ImportKind.choices, required=False, allow_blank=True
    )


class CsvImportSummaryOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    dry_run = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ImportStatus.choices)
    percent = serializers.IntegerField()
    file_name = serializers.CharField()
    rows_total = serializers.IntegerField()
    invalid = serializers.IntegerField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()


class CsvAPIView(ActorAPIView):
    """Members read and export; operators (and admins) import."""

    write_roles = (Role.OPERATOR,)


class CsvImportListApi(CsvAPIView):
    """The organisation's imports; POST uploads a file and queues it (202)."""

    parser_classes = [MultiPartParser, FormParser, JSONBodyParser]

    @extend_schema(
        parameters=[CsvImportListParams], responses=CsvImportSummaryOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        kind = self.query(CsvImportListParams).get("kind", "")
        return self.paginate(
            selectors.import_list(actor=self.actor, kind=kind), CsvImportSummaryOutput
        )

    @extend_schema(request=CsvImportInput, responses={202: CsvImportOutput})
    def post(self, request: Request) -> Response:
        data = CsvImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = services.import_start(
            actor=self.actor,
            kind=data.validated_data["kind"],
            upload=upload,
            file_name=upload.name,
            dry_run=data.validated_data["dry_run"],
        )
        return Response(CsvImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class CsvImportDetailApi(CsvAPIView):
    """One import: poll it for progress, counts and every problem by line."""

    @extend_schema(responses=CsvImportOutput)
    def get(self, request: Request, public_id: str) -> Response:
        job = selectors.import_get(actor=self.actor, public_id=public_id)
        return Response(CsvImportOutput(job).data)


class CsvImportApplyApi(CsvAPIView):
    """Import the file of a finished dry run (a new import, 202)."""

    @extend_schema(request=None, responses={202: CsvImportOutput})
    def post(self, request: Request, public_id: str) -> Response:
        job = selectors.import_get(actor=self.actor, public_id=public_id)
        real = services.import_apply(actor=self.actor, job=job)
        return Response(CsvImportOutput(real).data, status=status.HTTP_202_ACCEPTED)


class VisitorExportParams(serializers.Serializer[Any]):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    status = serializers.ChoiceField(
        choices=VisitorStatus.choices, required=False, allow_blank=True
    )
    band = serializers.ChoiceField(
        choices=Band.choices, required=False, allow_blank=True
    )
    score_min = serializers.IntegerField(required=False, min_value=0, max_value=100)
    score_max = serializers.IntegerField(required=False, min_value=0, max_value=100)
    sort = serializers.ChoiceField(
        choices=SORT_CHOICES, required=False, allow_blank=True
    )


class BlockListExportParams(serializers.Serializer[Any]):
    q = serializers.CharField(required=False, allow_blank=True, max_length=40)


class IPBlockExportParams(serializers.Serializer[Any]):
    expired = serializers.BooleanField(
        required=False, default=False, help_text="Include expired blocks."
    )


class _ExportApi(CsvAPIView):
    kind = ""
    params: type[serializers.Serializer[Any]] = serializers.Serializer

    def get(self, request: Request) -> StreamingHttpResponse:
        params = self.query(self.params)
        if "expired" in params:
            params["expired"] = "1" if params["expired"] else ""
        try:
            queryset = exports.filtered(actor=self.actor, kind=self.kind, params=params)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return exports.csv_response(self.kind, queryset)


class VisitorExportApi(_ExportApi):
    """Visitors as CSV (the Security → Visitors filters), streamed."""

    kind, params = "visitors", VisitorExportParams

    @extend_schema(parameters=[VisitorExportParams], responses=CSV_RESPONSE)
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class BlockListExportApi(_ExportApi):
    """The voice block list as CSV (`q`: part of the number), streamed."""

    kind, params = "block_list", BlockListExportParams

    @extend_schema(parameters=[BlockListExportParams], responses=CSV_RESPONSE)
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class IPBlockExportApi(_ExportApi):
    """IP blocks as CSV (active ones unless `expired`), streamed."""

    kind, params = "ip_blocks", IPBlockExportParams

    @extend_schema(parameters=[IPBlockExportParams], responses=CSV_RESPONSE)
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)
