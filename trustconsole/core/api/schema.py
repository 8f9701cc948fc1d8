"""The OpenAPI schema says what the API really answers.

`ConsoleAutoSchema` (the project's drf-spectacular schema class) adds to every
operation the error answers it can give, each with the shared error component:

- 400 when the operation reads query parameters or a body; 413 and 415 with a body;
- 401 and 403 when it needs a token (403: a role that may only read, or no member);
- 404 when the path names an object, or the list is paginated (a page past the end);
- whatever else the view lists in `error_codes` (409 for a conflict, ...).

List operations whose view paginates (`pagination_class`) are documented with the
`{count, next, previous, results}` envelope; only GET lists are paginated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorItemOutput(serializers.Serializer[Any]):
    """One problem: the field (or query parameter) it is about, and why."""

    field = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class ErrorOutput(serializers.Serializer[Any]):
    """The console's error answer: a sentence and every problem found."""

    detail = serializers.CharField()
    errors = ErrorItemOutput(many=True)  # type: ignore[assignment]

    class Meta:
        ref_name = "Error"


BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class ConsoleAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the console's error answers."""

    error_serializer: Any = ErrorOutput

    def _get_paginator(self) -> Any:
        if self.method != "GET":
            return None
        return super()._get_paginator()

    def error_codes(self, operation: dict[str, Any]) -> set[int]:
        """The error statuses this operation can answer with."""
        codes: set[int] = set(getattr(self.view, "error_codes", ()))
        if operation.get("security"):
            codes |= {401, 403}
        if operation.get("parameters") or operation.get("requestBody"):
            codes.add(400)
        if operation.get("requestBody") or self.method in BODY_METHODS:
            codes |= {400, 413, 415}
        if "{" in self.path or self._get_paginator() and self._is_list_view():
            codes.add(404)
        return codes

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in sorted(self.error_codes(operation)):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    self.error_serializer, str(code)
                )
        return operation
