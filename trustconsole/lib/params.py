"""Query parameters are checked before any of them reaches a view or the database.

PostgreSQL refuses text containing a NUL character (psycopg raises `DataError`), so
one NUL in `?q=` used to be a 500 on every page and endpoint that searched with it.
`QueryGuardMiddleware` refuses such a request up front in the shape of its path:
the console's JSON errors under the API, the widget and the webhooks, the provider's
error objects under `/v2/` and `/sandbox/telnyx/`, and the 400 page elsewhere. Typed
validation (choices, numbers, dates) is each view's serializer or form.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render

JSON_PREFIXES = ("/api/", "/widget/", "/voice/hooks/")
PROVIDER_PREFIXES = ("/v2/", "/sandbox/telnyx/")
MAX_PARAMETER_LENGTH = 2000


def parameter_problem(query: QueryDict) -> tuple[str, str] | None:
    """(parameter, reason) for the first unusable query parameter, else None."""
    for name, values in query.lists():
        if "\x00" in name:
            return name.replace(
                "\x00", "\\x00"
            ), "A parameter name has a NUL character."
        for value in values:
            if "\x00" in value:
                return name, "Must not contain a NUL character."
            if len(value) > MAX_PARAMETER_LENGTH:
                return name, f"Must be at most {MAX_PARAMETER_LENGTH} characters."
    return None


class QueryGuardMiddleware:
    """Answer 400 for query parameters no view should ever see."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("QUERY_STRING"):
            found = parameter_problem(request.GET)
            if found is not None:
                return self.refuse(request, *found)
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, name: str, reason: str) -> HttpResponse:
        """The 400 in the shape the path documents."""
        if request.path.startswith(PROVIDER_PREFIXES):
            from remediation.errors import problem
            from remediation.jsonapi import error_response

            return error_response(
                400, [problem(400, f"{name}: {reason}", parameter=name)]
            )
        if request.path.startswith(JSON_PREFIXES):
            return JsonResponse(
                {
                    "detail": f"{name}: {reason}",
                    "errors": [{"field": name, "reason": reason}],
                },
                status=400,
            )
        return render(request, "400.html", {"reason": f"{name}: {reason}"}, status=400)
