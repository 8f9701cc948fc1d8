"""JSON errors that name the field and the reason, for every API endpoint.

Shape: {"detail": "...", "errors": [{"field": "email", "reason": "..."}]}
(`field` is null when the error is not about one field).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trustconsole.lib import jsonbody


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str | None]]:
    if isinstance(detail, dict):
        out: list[dict[str, str | None]] = []
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            out.extend(
                _flatten(
                    value, f"{prefix}.{name}" if prefix and name else prefix or name
                )
            )
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix or None, "reason": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            if item:
                out.extend(
                    _flatten(item, f"{prefix}.{index}" if prefix else str(index))
                )
        return out
    return [{"field": prefix or None, "reason": str(detail)}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Reshape DRF and service (Django) errors into the console's error shape."""
    body_error = jsonbody.from_django_error(exc)
    if body_error is not None:  # Django refused a form or multipart body
        exc = jsonbody.api_exception(body_error)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "errors": _flatten(exc.detail)}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        detail = (
            response.data.get("detail", "") if isinstance(response.data, dict) else ""
        )
        response.data = {
            "detail": str(detail),
            "errors": [{"field": None, "reason": str(detail)}],
        }
    return response
