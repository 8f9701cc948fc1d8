"""Provider-shaped errors for every response under /v2/ and /sandbox/telnyx/.

The views there answer in JSON themselves; this catches what happens outside them
(Django's own 404/405/500 pages, CSRF or host refusals, a crash while DEBUG shows
its technical page) so a provider client never receives HTML.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from remediation.errors import problem
from remediation.jsonapi import error_response

PREFIXES = ("/v2/", "/sandbox/telnyx/")
SENTENCES = {
    400: "The request failed because it was not well-formed.",
    403: "You do not have permission to perform the requested action.",
    404: "The requested resource or URL could not be found.",
    405: "This method is not allowed on this resource.",
    500: "An unexpected error occurred.",
}


def v2_not_found(request: HttpRequest) -> JsonResponse:
    """Unknown paths under /v2/."""
    return error_response(404, [problem(404, SENTENCES[404])])


class ProviderJsonErrorsMiddleware:
    """Rewrites non-JSON error responses under the provider paths as JSON:API."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(PREFIXES) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        detail = SENTENCES.get(
            status, SENTENCES[500] if status >= 500 else SENTENCES[400]
        )
        rewritten = error_response(status, [problem(status, detail)])
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                rewritten[header] = response[header]
        return rewritten
