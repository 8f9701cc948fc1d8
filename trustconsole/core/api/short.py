"""What the API's short paths share (`voicegate/policy/api/hot.py`,
`visitors/api/hot.py`): a hot endpoint answers its ordinary request without DRF's
request wrapper, negotiation and serializer, and leaves every other request to its
DRF view, which answers with the documented 4xx.

A short path reads the body only when DRF would parse it the same way (`json_body`),
answers with DRF's own JSON renderer (`json_bytes`) and the `Allow` header DRF
adds (`json_response`), and turns the API's exceptions into the console's error shape
with the API's own exception handler (`refusal`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from trustconsole.core.api.errors import exception_handler
from trustconsole.lib import jsonbody

# Accept headers DRF's negotiation answers with its one JSON renderer as is.
PLAIN_ACCEPT = frozenset({"", "*/*", "application/json"})

_render = JSONRenderer().render


def json_body(request: HttpRequest) -> Any:
    """The parsed JSON body, or None when DRF's parser must answer for it (another
    content type, a query string or `Accept` header to negotiate, no body, a body
    over the limit, or JSON the parser refuses)."""
    meta = request.META
    if (
        request.content_type != "application/json"
        or meta.get("QUERY_STRING")
        or meta.get("HTTP_ACCEPT", "").strip() not in PLAIN_ACCEPT
    ):
        return None
    length = jsonbody.declared_length(meta)
    if not length or length > jsonbody.max_bytes():
        return None
    try:
        return jsonbody.parse(request.body)
    except jsonbody.JsonBodyError:
        return None


def json_bytes(data: Any) -> bytes:
    """`data` as DRF's JSON renderer writes it."""
    rendered: bytes = _render(data)
    return rendered


def json_response(data: Any, status: int, allow: str) -> HttpResponse:
    """`data` as DRF's JSON renderer writes it, with the `Allow` header DRF's
    APIView adds to each of its answers."""
    response = HttpResponse(
        json_bytes(data), status=status, content_type=JSONRenderer.media_type
    )
    response["Allow"] = allow
    return response


def refusal(exc: Exception, request: HttpRequest, allow: str) -> HttpResponse | None:
    """The API's answer to `exc` (a 4xx in the console's error shape, with the
    handler's headers such as Retry-After), or None for an exception the API does
    not answer (the caller re-raises it: a 500)."""
    refused = exception_handler(exc, {"request": request})
    if refused is None:
        return None
    response = json_response(refused.data, refused.status_code, allow)
    for name, value in refused.items():
        if name.lower() != "content-type":
            response[name] = value
    return response
