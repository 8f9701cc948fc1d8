"""The one way JSON request bodies are read: bounded in size and in nesting depth.

Every JSON endpoint (the REST API through `JSONBodyParser`, the chat widget, the
provider webhooks, the PBX decision endpoint and the `/v2/` remediation API) reads
its body here, so a hostile body is a clear 4xx in the endpoint's own error shape:

- more than `API_JSON_MAX_BYTES` bytes: 413, refused before it is read when the
  `Content-Length` says so;
- nested deeper than `API_JSON_MAX_DEPTH`, not UTF-8, not JSON, `NaN`/`Infinity`,
  or numbers out of range: 400.

Signatures are verified over the raw bytes by the caller; this module never
re-serialises anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, parsers, status


class JsonBodyError(ValueError):
    """A body that is refused; `status` is 400 or 413, `reason` a sentence."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def max_bytes() -> int:
    """The largest JSON body accepted, in bytes."""
    return settings.API_JSON_MAX_BYTES


def max_depth() -> int:
    """The deepest nesting of arrays and objects accepted."""
    return settings.API_JSON_MAX_DEPTH


def too_large(limit: int | None = None) -> JsonBodyError:
    """The 413 for a body over the limit."""
    limit = max_bytes() if limit is None else limit
    return JsonBodyError(
        f"The body is larger than the {limit:,} bytes accepted.",
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def _refuse_constant(name: str) -> Any:
    raise JsonBodyError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonBodyError(f"The number {text[:40]} is out of range.")
    return value


# Built once: json.loads with options would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def depth_of(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed value (a scalar is 0)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse(
    raw: bytes | str, *, depth: int | None = None, size: int | None = None
) -> Any:
    """Parse a JSON body, or raise `JsonBodyError` saying what is wrong with it."""
    limit = max_bytes() if size is None else size
    if len(raw) > limit:
        raise too_large(limit)
    deepest_allowed = max_depth() if depth is None else depth
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonBodyError(
                f"The body is not UTF-8 (byte {exc.start} is invalid)."
            ) from None
    else:
        text = raw
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        # Python's parser gives up near its recursion limit: far beyond ours.
        raise JsonBodyError(
            f"The body nests arrays or objects deeper than {deepest_allowed} levels."
        ) from None
    except JsonBodyError:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise JsonBodyError(f"The body is not valid JSON: {exc}.") from None
    # Counting brackets is C-fast; only a body that could be too deep is walked.
    could_be_deep = text.count("[") + text.count("{") > deepest_allowed
    if could_be_deep and depth_of(value) > deepest_allowed:
        raise JsonBodyError(
            f"The body nests arrays or objects deeper than {deepest_allowed} levels."
        )
    return value


def declared_length(meta: dict[str, Any]) -> int | None:
    """The request's Content-Length, when it gives a usable one."""
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return None


def body_problem(
    request: HttpRequest, *, size: int | None = None
) -> JsonBodyError | None:
    """The 413 for a request whose declared length is over the limit, else None.

    Cheap enough for the start of a webhook: nothing is read.
    """
    limit = max_bytes() if size is None else size
    length = declared_length(request.META)
    if length is not None and length > limit:
        return too_large(limit)
    return None


def read(request: HttpRequest, *, size: int | None = None) -> bytes:
    """The raw body (for signatures), refusing one over the limit with a 413."""
    problem = body_problem(request, size=size)
    if problem is not None:
        raise problem
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_large(size) from None
    if len(raw) > (max_bytes() if size is None else size):
        raise too_large(size)
    return raw


def from_django_error(exc: Exception) -> JsonBodyError | None:
    """Django's own body refusals (too big, too many fields) as a JsonBodyError."""
    if isinstance(exc, RequestDataTooBig):
        return too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, TooManyFieldsSent):
        return JsonBodyError(
            f"The body has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields."
        )
    if isinstance(exc, SuspiciousOperation) and type(exc).__name__.startswith(
        "TooMany"
    ):
        return JsonBodyError(str(exc) or "The body has too many parts.")
    return None


def error_response(error: JsonBodyError, *, field: str | None = None) -> JsonResponse:
    """The console's error shape for a refused body (plain Django views)."""
    return JsonResponse(
        {"detail": error.reason, "errors": [{"field": field, "reason": error.reason}]},
        status=error.status,
    )


def form_problem(request: HttpRequest) -> JsonBodyError | None:
    """Read a form body now; Django's refusals (too big, too many fields) as errors."""
    if request.method != "POST":
        return None
    try:
        # The raw body first: signatures need it after the form is parsed.
        read(request, size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        request.POST  # noqa: B018 -- parsing is the point; it is cached on request
    except JsonBodyError as exc:
        return exc
    except MultiPartParserError as exc:
        return JsonBodyError(f"The form body cannot be read: {exc}")
    except SuspiciousOperation as exc:
        error = from_django_error(exc)
        if error is None:
            raise
        return error
    return None


# --- Django REST framework -------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    """413: the body is over the limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "payload_too_large"


def api_exception(error: JsonBodyError) -> exceptions.APIException:
    """The DRF exception answering a refused body."""
    if error.status == status.HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return PayloadTooLarge(error.reason)
    return exceptions.ParseError(error.reason)


class JSONBodyParser(parsers.JSONParser):
    """DRF's JSON parser with the console's size and depth limits."""

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        if request is not None:
            length = declared_length(request.META)
            if length is not None and length > max_bytes():
                raise api_exception(too_large())
        if stream is None:
            return None
        raw = stream.read(max_bytes() + 1)
        try:
            return parse(raw)
        except JsonBodyError as exc:
            raise api_exception(exc) from None
