"""The seed's remediation API, served by the console under /v2/ (Bearer API tokens).

Paths, shapes, status codes, pagination and the JSON:API error shape are the
provider's, so a client written for the provider can point at the console.
Extension: `POST …/remediation/{id}/actions/cancel` cancels a pending request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from remediation import selectors, services, validation
from remediation.api.serializers import (
    RemediationRequestV2ListItem,
    RemediationRequestV2Output,
    detail_data,
)
from remediation.choices import RemediationStatus
from remediation.errors import (
    BadRequest,
    GateClosed,
    InvalidParameters,
    Problem,
    RemediationError,
    problem,
)
from remediation.jsonapi import parse_filters, parse_page
from remediation.models import Enterprise
from trustconsole.core.api.auth import ApiTokenAuthentication
from trustconsole.core.api.schema import ConsoleAutoSchema
from trustconsole.core.api.views import ActorAPIView
from trustconsole.lib import jsonbody
from trustconsole.lib.jsonbody import JSONBodyParser

logger = logging.getLogger(__name__)


def _text(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(_text(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_text(v)}" for k, v in detail.items())
    return str(detail)


def jsonapi_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error of the /v2 API in the provider's `{"errors": [...]}` shape."""
    headers: dict[str, str] = {}
    body_error = jsonbody.from_django_error(exc)
    if body_error is not None:
        exc = jsonbody.api_exception(body_error)
    if isinstance(exc, RemediationError):
        status, problems = exc.status, exc.problems
    elif isinstance(exc, Http404 | exceptions.NotFound):
        status = 404
        problems = [problem(404, "The requested resource or URL could not be found.")]
    elif isinstance(exc, DjangoPermissionDenied):
        status, problems = 403, [problem(403, str(exc) or "Not allowed.")]
    elif isinstance(exc, exceptions.APIException):
        status = exc.status_code
        if isinstance(exc, exceptions.ValidationError):
            status = 422
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
        problems = [problem(status, _text(exc.detail))]
    else:
        logger.exception("unexpected error in the /v2 remediation API")
        status, problems = 500, [problem(500, "An unexpected error occurred.")]
    return Response(
        {"errors": [p.as_json() for p in problems]}, status=status, headers=headers
    )


ERRORS = inline_serializer(
    "RemediationV2Errors",
    {
        "errors": serializers.ListField(
            child=inline_serializer(
                "RemediationV2Error",
                {
                    "code": serializers.CharField(),
                    "title": serializers.CharField(),
                    "detail": serializers.CharField(),
                    "source": serializers.DictField(required=False),
                },
            )
        )
    },
)


class JsonApiSchema(ConsoleAutoSchema):
    """Error answers documented with the provider's error objects."""

    error_serializer = ERRORS


class JsonApiView(ActorAPIView):
    """Bearer tokens only; JSON bodies only; provider-shaped errors."""

    authentication_classes = [ApiTokenAuthentication]
    parser_classes = [JSONBodyParser]
    pagination_class = None  # JSON:API pages, documented per operation
    schema = JsonApiSchema()
    write_roles = services.SUBMIT_ROLES

    def get_exception_handler(self) -> Any:
        return jsonapi_exception_handler

    def enterprise(self, enterprise_id: str) -> Enterprise:
        return selectors.enterprise_get(actor=self.actor, public_id=enterprise_id)


def _body(request: Request) -> dict[str, Any]:
    try:
        data = request.data
    except exceptions.ParseError as exc:
        raise BadRequest([problem(400, str(exc.detail))]) from None
    if not isinstance(data, dict):
        raise BadRequest([problem(400, "The body must be a JSON object.")])
    return data


WRAPPED = inline_serializer(
    "RemediationRequestV2Wrapped", {"data": RemediationRequestV2Output()}
)


class RemediationCollectionV2Api(JsonApiView):
    """Submit numbers for remediation (202) or list requests (slim, paginated)."""

    @extend_schema(
        operation_id="remediation_v2_list",
        parameters=[
            OpenApiParameter("page[number]", int),
            OpenApiParameter("page[size]", int, description="default 20, at most 250"),
            OpenApiParameter("filter[status]", str, enum=RemediationStatus.values),
            OpenApiParameter("filter[created_at][gte]", OpenApiTypes.DATETIME),
            OpenApiParameter("filter[created_at][lte]", OpenApiTypes.DATETIME),
        ],
        responses={
            200: inline_serializer(
                "RemediationRequestV2List",
                {
                    "data": RemediationRequestV2ListItem(many=True),
                    "meta": inline_serializer(
                        "RemediationV2PageMeta",
                        {
                            "page_number": serializers.IntegerField(),
                            "page_size": serializers.IntegerField(),
                            "total_results": serializers.IntegerField(),
                            "total_pages": serializers.IntegerField(),
                        },
                    ),
                },
            ),
            400: ERRORS,
            401: ERRORS,
            404: ERRORS,
        },
    )
    def get(self, request: Request, enterprise_id: str) -> Response:
        enterprise = self.enterprise(enterprise_id)
        page = parse_page(request.query_params)
        filters = parse_filters(request.query_params)
        queryset = selectors.request_list(
            actor=self.actor,
            enterprise=enterprise,
            status=filters.status,
            created_gte=filters.created_gte,
            created_lte=filters.created_lte,
        )
        total = queryset.count()
        window = queryset[page.offset : page.offset + page.size]
        return Response(
            {
                "data": RemediationRequestV2ListItem(window, many=True).data,
                "meta": page.meta(total),
            }
        )

    @extend_schema(
        operation_id="remediation_v2_submit",
        request=inline_serializer(
            "RemediationRequestV2Create",
            {
                "phone_numbers": serializers.ListField(
                    child=serializers.CharField(), min_length=1, max_length=2000
                ),
                "call_purpose": serializers.CharField(max_length=2000),
                "contact_email": serializers.EmailField(required=False, max_length=255),
                "webhook_url": serializers.URLField(required=False, max_length=2048),
            },
        ),
        responses={
            202: WRAPPED,
            400: ERRORS,
            403: ERRORS,
            404: ERRORS,
            409: ERRORS,
            422: ERRORS,
        },
    )
    def post(self, request: Request, enterprise_id: str) -> Response:
        enterprise = self.enterprise(enterprise_id)
        if not enterprise.can_remediate:
            raise GateClosed(services.gate_problems(enterprise))
        data = _body(request)
        unknown: list[Problem] = validation.unknown_fields(data)
        if unknown:
            raise InvalidParameters(unknown)
        remediation = services.remediation_submit(
            actor=self.actor,
            enterprise=enterprise,
            phone_numbers=data.get("phone_numbers"),
            call_purpose=data.get("call_purpose"),
            contact_email=data.get("contact_email"),
            webhook_url=data.get("webhook_url"),
        )
        return Response({"data": detail_data(remediation)}, status=202)


class RemediationDetailV2Api(JsonApiView):
    """One request in full; 404 when it is not this enterprise's."""

    @extend_schema(
        operation_id="remediation_v2_retrieve",
        responses={200: WRAPPED, 401: ERRORS, 404: ERRORS},
    )
    def get(
        self, request: Request, enterprise_id: str, remediation_id: str
    ) -> Response:
        enterprise = self.enterprise(enterprise_id)
        remediation = selectors.request_get(
            actor=self.actor, public_id=remediation_id, enterprise=enterprise
        )
        return Response({"data": detail_data(remediation)})


class RemediationCancelV2Api(JsonApiView):
    """Extension: cancel a pending request (409 once it has moved on)."""

    @extend_schema(
        operation_id="remediation_v2_cancel",
        request=None,
        responses={200: WRAPPED, 403: ERRORS, 404: ERRORS, 409: ERRORS},
    )
    def post(
        self, request: Request, enterprise_id: str, remediation_id: str
    ) -> Response:
        enterprise = self.enterprise(enterprise_id)
        remediation = selectors.request_get(
            actor=self.actor, public_id=remediation_id, enterprise=enterprise
        )
        remediation = services.remediation_cancel(actor=self.actor, request=remediation)
        return Response({"data": detail_data(remediation)})
