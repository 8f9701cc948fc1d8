"""Errors of the remediation services, in the provider's JSON:API vocabulary.

Each error carries one or more `Problem`s (code, title, detail, pointer) so the /v2
API can answer exactly as the provider does, and pages can show the same sentences.
Codes are the Telnyx API error catalogue entries whose meaning matches.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One JSON:API error object."""

    code: str
    title: str
    detail: str
    pointer: str | None = None
    parameter: str | None = None

    def as_json(self) -> dict[str, object]:
        """The object as it appears in `{"errors": [...]}`."""
        data: dict[str, object] = {
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        source = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        if source:
            data["source"] = source
        return data


# HTTP status → (code, title) used when nothing more specific applies.
GENERIC = {
    400: ("10015", "Bad Request"),
    401: ("10009", "Authentication failed"),
    403: ("10010", "Authorization failed"),
    404: ("10005", "Resource not found"),
    405: ("10015", "Method not allowed"),
    409: ("10021", "Resource in use"),
    413: ("10015", "Request body too large"),
    415: ("10014", "Unsupported Media Type"),
    422: ("10015", "Invalid parameters"),
    429: ("10011", "Too many requests"),
    500: ("10007", "Unexpected error"),
    502: ("10007", "Unexpected error"),
    503: ("10007", "Unexpected error"),
}


def problem(status: int, detail: str, **source: str) -> Problem:
    """A problem with the generic code and title of an HTTP status."""
    code, title = GENERIC.get(status, GENERIC[500] if status >= 500 else GENERIC[400])
    return Problem(code=code, title=title, detail=detail, **source)


class RemediationError(Exception):
    """A refused action; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.detail for p in problems[:5]))

    @property
    def messages(self) -> list[str]:
        """The details as sentences, for pages."""
        return [p.detail for p in self.problems]


class GateClosed(RemediationError):
    """The enterprise's approval gates or terms do not allow remediation (403)."""

    status = 403


class InvalidParameters(RemediationError):
    """Well-formed input with invalid values (422)."""

    status = 422


class BadRequest(RemediationError):
    """Input that cannot be read at all: not JSON, bad query parameters (400)."""

    status = 400


class InFlightConflict(RemediationError):
    """A number already has an in-flight request; or the request is busy (409)."""

    status = 409


class RateLimited(RemediationError):
    """Too many billable refreshes, or the provider asked us to wait (429)."""

    status = 429

    def __init__(self, problems: list[Problem], *, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(problems)


class ProviderUnavailable(RemediationError):
    """The provider could not be reached or failed; nothing was changed (503)."""

    status = 503
