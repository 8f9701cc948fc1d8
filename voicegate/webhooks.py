"""Provider webhooks of the call gate: `/voice/hooks/<token>/`.

One URL per connection; the connection's provider says how to read and verify the
request and how to answer it. A request whose signature does not verify never reaches
the decision.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from trustconsole.lib import jsonbody, metrics, ratelimit
from trustconsole.lib.crypto import UNREADABLE, is_unreadable
from voicegate import gate, outbox, signatures, tasks, telnyx
from voicegate.choices import CommandStatus, Decision, Provider
from voicegate.gate import CallFacts, ConnectionSnapshot, Context
from voicegate.sender import sender

logger = logging.getLogger(__name__)

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


class JsonAnswer:
    """A webhook's 200 JSON answer as its encoded bytes, made once per distinct
    answer (`answer`): the plain-WSGI path writes them as they are, the Django
    path wraps them in the response `JsonResponse` would build (`as_response`)."""

    status_code = 200
    reason_phrase = "OK"
    content_type = "application/json"

    __slots__ = ("content",)

    def __init__(self, content: bytes) -> None:
        self.content = content

    def as_response(self) -> HttpResponse:
        """The same answer as a Django response (body and headers of JsonResponse)."""
        return HttpResponse(self.content, content_type=self.content_type)


@functools.lru_cache(maxsize=256)
def answer(*pairs: tuple[str, str]) -> JsonAnswer:
    """The 200 answer `{name: value, …}`, encoded as JsonResponse encodes it."""
    return JsonAnswer(json.dumps(dict(pairs)).encode())


HookResponse = HttpResponse | JsonAnswer


def _public_url(request: HttpRequest) -> str:
    base = settings.VOICEGATE_PUBLIC_BASE_URL
    if base:
        return base.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def _refuse(
    connection: ConnectionSnapshot, reason: str, *, missing: bool
) -> HttpResponse:
    logger.warning(
        "voice webhook refused for connection %s (%s): %s",
        connection.public_id,
        connection.provider,
        reason,
    )
    status = 401 if missing else 403
    return JsonResponse({"detail": "Signature verification failed."}, status=status)


# --- Telnyx Call Control --------------------------------------------------------


def _telnyx_call_control(
    request: HttpRequest, token: str, connection: ConnectionSnapshot, ctx: Context
) -> HookResponse:
    if request.method != "POST":
        return JsonResponse({"detail": "Use POST."}, status=405)
    try:
        body = jsonbody.read(request)
    except jsonbody.JsonBodyError as exc:
        return jsonbody.error_response(exc)

    def check(conn: ConnectionSnapshot) -> str | None:
        return signatures.telnyx_verify(
            public_key_b64=conn.secret,
            signature_b64=request.headers.get("telnyx-signature-ed25519"),
            timestamp=request.headers.get("telnyx-timestamp"),
            body=body,
        )

    connection, ctx, problem = _verified(token, connection, ctx, check)
    if problem:
        return _refuse(connection, problem, missing=problem.startswith("missing"))
    try:
        data = jsonbody.parse(body)["data"]
    except jsonbody.JsonBodyError as exc:
        return jsonbody.error_response(exc, field="data")
    except (KeyError, TypeError):
        data = None
    try:
        event_type = str(data["event_type"])
        event_id = str(data["id"])
        payload = data.get("payload") or {}
        if not isinstance(payload, dict):
            raise TypeError(payload)
    except (KeyError, TypeError, AttributeError):
        return JsonResponse(
            {
                "detail": "Not a Telnyx Call Control v2 event.",
                "errors": [
                    {"field": "data", "reason": "expected data.event_type, data.id"}
                ],
            },
            status=400,
        )
    if event_type != "call.initiated" or payload.get("direction") != "incoming":
        forwarded = _forward(connection, request, event_id)
        return answer(("status", "forwarded" if forwarded else "ignored"))

    facts = CallFacts(
        organisation_id=connection.organisation_id,
        connection_id=connection.id,
        provider=connection.provider,
        event_id=event_id,
        call_id=str(payload.get("call_control_id") or ""),
        caller=str(payload.get("from") or ""),
        callee=str(payload.get("to") or ""),
        attestation=str(payload.get("shaken_stir_attestation") or "")[:8],
        verstat=str(payload.get("verstat") or "")[:64],
        stir_validated=payload.get("shaken_stir_validated") is True,
    )
    # A rejection is logged by `_reject`, as its claim on the event; an allow here.
    claimed = _decide(request, token, ctx, facts, defer_reject_log=True)
    if claimed is None:
        return JsonResponse({"detail": "Unknown webhook address."}, status=404)
    if claimed.duplicate:
        return answer(("status", "duplicate"))
    verdict = claimed.verdict
    if verdict.rejected:
        if not _reject(connection, facts, claimed.record):
            return answer(("status", "duplicate"))
    else:
        _forward(connection, request, event_id)
    gate.call_count_rules(facts, claimed)
    return answer(("decision", verdict.decision), ("reason", verdict.reason))


def _verified(
    token: str,
    connection: ConnectionSnapshot,
    ctx: Context,
    check: Callable[[ConnectionSnapshot], str | None],
) -> tuple[ConnectionSnapshot, Context, str | None]:
    """Verify with the secret this process holds; after a failure, with a fresh one."""
    if is_unreadable(connection.secret) and ctx.org is None:
        return connection, ctx, None  # nothing to verify with: the fail mode decides
    problem = check(connection)
    if problem is None or ctx.org is None:
        return connection, ctx, problem
    try:
        fresh, fresh_ctx = gate.context_for_token(token, fresh=True)
    except gate.GateUnavailable:
        return connection, ctx, problem
    if fresh is None or fresh_ctx is None or fresh.secret == connection.secret:
        return connection, ctx, problem
    return fresh, fresh_ctx, check(fresh)


def _decide(
    request: HttpRequest,
    token: str,
    ctx: Context,
    facts: CallFacts,
    *,
    defer_reject_log: bool = False,
) -> gate.Claimed | None:
    def refresh() -> Context | None:
        return gate.context_for_token(token, fresh=True)[1]

    try:
        claimed = gate.decide_and_claim(
            ctx,
            facts,
            started_us=request.voice_started_us,  # type: ignore[attr-defined]
            refresh=refresh,
            defer_reject_log=defer_reject_log,
        )
    except (LookupError, gate.GateUnavailable):
        return None
    if not claimed.duplicate:
        metrics.call_decided(claimed.record)
    return claimed


def _reject(
    connection: ConnectionSnapshot, facts: CallFacts, record: dict[str, Any]
) -> bool:
    """Log the rejection, send its command, leave the rest to the outbox.

    False when the database already holds this event (a redelivery that Redis
    forgot, e.g. after a restart): nothing is sent again.
    """
    if is_unreadable(connection.api_key):
        logger.critical("reject not sent for %s: %s", connection.public_id, UNREADABLE)
        return gate.decision_insert(
            {
                **record,
                "command_status": CommandStatus.FAILED,
                "command_detail": f"API key {UNREADABLE}",
            }
        )
    try:
        item_id = outbox.reject_open(record=record, call_control_id=facts.call_id)
    except Exception:
        # The database is down: Redis's seen-mark was the only dedup. Send now; the
        # row and any retry wait in this process until the database answers.
        logger.critical(
            "voice gate could not write a rejection; sending its command anyway",
            exc_info=True,
        )
        item_id = 0
    else:
        if item_id is None:
            return False

    def send() -> telnyx.CommandResult:
        return telnyx.reject_call(
            api_key=connection.api_key,
            call_control_id=facts.call_id,
            event_id=facts.event_id,
            attempts=2,
        )

    if item_id:
        # The item is leased to this process: a sender thread posts the command
        # while the caller gets the answer now (in the request when the senders
        # are off or full).
        if not sender.submit(lambda: _reject_recorded(item_id, send())):
            _reject_recorded(item_id, send())
        return True
    result = send()
    gate.log_later(
        {**record, "command_status": result.status, "command_detail": result.detail}
    )
    if result.retryable:
        gate.pending_add(
            "outbox",
            outbox.reject_item_fields(record=record, call_control_id=facts.call_id),
        )
    return True


def _reject_recorded(item_id: int, result: telnyx.CommandResult) -> None:
    """Store how a reject command fared; a retry goes to the worker."""
    try:
        delay = outbox.reject_finish(item_id, result)
    except Exception:  # recorded by this process's next request instead
        logger.critical("voice gate could not record a reject", exc_info=True)
        gate.pending_add("result", outbox.result_fields(item_id, result))
    else:
        if delay is not None:
            outbox.hand_to_worker(item_id, countdown=delay)


def _forward(
    connection: ConnectionSnapshot, request: HttpRequest, event_id: str
) -> bool:
    """Hand the webhook, unchanged, to the downstream app (once per event).

    The outbox row is written in the request; if even the database is down it
    waits in this process until the database answers. Never lost silently.
    """
    if not connection.downstream_url:
        return False
    headers = {
        name: request.headers[name]
        for name in tasks.FORWARDED_HEADERS
        if name in request.headers
    }
    fields = outbox.forward_fields(
        organisation_id=connection.organisation_id,
        connection_id=connection.id,
        event_id=event_id,
        body=request.body.decode(),
        headers=headers,
    )
    try:
        item_id = outbox.open_item(fields)
    except Exception:
        logger.critical(
            "voice gate could not write a forward; kept in this process until the "
            "database answers",
            exc_info=True,
        )
        gate.pending_add("outbox", fields)
        return True
    if item_id is not None:
        outbox.hand_to_worker(item_id)
    return True


# --- TeXML, TwiML, Plivo XML ----------------------------------------------------


def _params(request: HttpRequest) -> Mapping[str, list[str]]:
    source = request.POST if request.method == "POST" else request.GET
    return {key: source.getlist(key) for key in source}


def _verify_xml_request(
    request: HttpRequest, connection: ConnectionSnapshot
) -> str | None:
    provider = connection.provider
    if provider == Provider.TWILIO:
        return signatures.twilio_verify(
            auth_token=connection.secret,
            signature=request.headers.get("X-Twilio-Signature"),
            url=_public_url(request),
            params=_params(request) if request.method == "POST" else {},
        )
    if provider == Provider.PLIVO:
        return signatures.plivo_verify(
            auth_token=connection.secret,
            signature=request.headers.get("X-Plivo-Signature-V3"),
            nonce=request.headers.get("X-Plivo-Signature-V3-Nonce"),
            url=_public_url(request),
            method=request.method or "POST",
            params=_params(request) if request.method == "POST" else {},
        )
    # Telnyx TeXML: Ed25519 over the raw form body (POST) or the raw query (GET).
    signed = (
        request.body
        if request.method == "POST"
        else request.META.get("QUERY_STRING", "").encode()
    )
    return signatures.telnyx_verify(
        public_key_b64=connection.secret,
        signature_b64=request.headers.get("telnyx-signature-ed25519"),
        timestamp=request.headers.get("telnyx-timestamp"),
        body=signed,
    )


def _attestation_of(verstat: str) -> str:
    """The attestation level at the end of a verstat (TN-Validation-Passed-A → A)."""
    tail = verstat.rsplit("-", 1)[-1] if "-Validation-" in verstat else ""
    return tail if tail in ("A", "B", "C") else ""


def xml_answer(provider: str, decision: str, downstream_url: str) -> str:
    """The XML document answering a voice request."""
    if decision == Decision.REJECT:
        if provider == Provider.PLIVO:
            return f'{XML_HEAD}<Response><Hangup reason="busy"/></Response>'
        return f'{XML_HEAD}<Response><Reject reason="busy"/></Response>'
    if downstream_url:
        method = "" if provider == Provider.PLIVO else ' method="POST"'
        return (
            f"{XML_HEAD}<Response><Redirect{method}>{xml_escape(downstream_url)}"
            "</Redirect></Response>"
        )
    return f"{XML_HEAD}<Response/>"


def _xml_voice(
    request: HttpRequest, token: str, connection: ConnectionSnapshot, ctx: Context
) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    refused = jsonbody.form_problem(request)
    if refused is not None:
        return jsonbody.error_response(refused)
    connection, ctx, problem = _verified(
        token, connection, ctx, lambda conn: _verify_xml_request(request, conn)
    )
    if problem:
        return _refuse(connection, problem, missing=problem.startswith("missing"))
    params = request.POST if request.method == "POST" else request.GET
    id_field = "CallUUID" if connection.provider == Provider.PLIVO else "CallSid"
    facts = CallFacts(
        organisation_id=connection.organisation_id,
        connection_id=connection.id,
        provider=connection.provider,
        event_id=params.get(id_field, ""),
        call_id=params.get(id_field, ""),
        caller=params.get("From", ""),
        callee=params.get("To", ""),
        # Twilio: StirVerstat (e.g. TN-Validation-Passed-A); Telnyx TeXML:
        # ShakenStirAttestation / ShakenStirValidated.
        attestation=(
            params.get("ShakenStirAttestation", "")
            or _attestation_of(params.get("StirVerstat", ""))
        )[:8],
        verstat=params.get("StirVerstat", "")[:64],
        stir_validated=params.get("ShakenStirValidated", "").lower() == "true"
        or "-Passed-" in params.get("StirVerstat", ""),
    )
    claimed = _decide(request, token, ctx, facts)
    if claimed is None:
        return JsonResponse({"detail": "Unknown webhook address."}, status=404)
    # A redelivery is answered again (same caller, same answer) but logged once.
    gate.call_count_rules(facts, claimed)
    return HttpResponse(
        xml_answer(
            connection.provider, claimed.verdict.decision, connection.downstream_url
        ),
        content_type="text/xml; charset=utf-8",
    )


# --- Generic (PBX) --------------------------------------------------------------


def _generic(
    request: HttpRequest, token: str, connection: ConnectionSnapshot, ctx: Context
) -> HttpResponse:
    if request.method != "POST":
        return JsonResponse({"detail": "Use POST."}, status=405)
    auth = request.headers.get("Authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    connection, ctx, problem = _verified(
        token,
        connection,
        ctx,
        lambda conn: signatures.shared_token_verify(expected=conn.secret, given=given),
    )
    if problem:
        return _refuse(connection, problem, missing=given is None)
    from voicegate import decide_api

    try:
        raw = jsonbody.read(request)
    except jsonbody.JsonBodyError as exc:
        return jsonbody.error_response(exc)
    return decide_api.respond(
        raw=raw,
        ctx=ctx,
        connection_id=connection.id,
        started_us=request.voice_started_us,  # type: ignore[attr-defined]
        refresh=lambda: gate.context_for_token(token, fresh=True)[1],
    )


HANDLERS: dict[str, Callable[..., HookResponse]] = {
    Provider.TELNYX_CALL_CONTROL: _telnyx_call_control,
    Provider.TELNYX_TEXML: _xml_voice,
    Provider.TWILIO: _xml_voice,
    Provider.PLIVO: _xml_voice,
    Provider.GENERIC: _generic,
}


# The providers the plain-WSGI path (`trustconsole.hookpath`) answers: their
# handlers read only the method, the headers and the raw body of the request.
PLAIN_HANDLERS: dict[str, Callable[..., HookResponse]] = {
    Provider.TELNYX_CALL_CONTROL: _telnyx_call_control,
}


@csrf_exempt
def voice_hook(request: HttpRequest, token: str) -> HttpResponse:
    """Answer one provider webhook for the connection that owns `token`."""
    response = hook_answer(request, token, handlers=HANDLERS)
    assert response is not None  # every provider has a handler
    return response.as_response() if isinstance(response, JsonAnswer) else response


def hook_answer(
    request: HttpRequest,
    token: str,
    *,
    handlers: Mapping[str, Callable[..., HookResponse]],
) -> HookResponse | None:
    """The answer to one webhook, or None when `handlers` has none for the
    connection's provider (the plain path then hands the request to Django)."""
    request.voice_started_us = gate.now_us()  # type: ignore[attr-defined]
    limited = ratelimit.hit(
        "voice-hook", token, ratelimit.Rate.of(settings.VOICEGATE_HOOK_RATE)
    )
    if not limited.allowed:
        return JsonResponse(
            {"detail": "Too many requests for this webhook address; retry later."},
            status=429,
            headers={"Retry-After": str(limited.retry_after)},
        )
    gate.pending_flush()
    try:
        connection, ctx = gate.context_for_token(token)
    except gate.GateUnavailable as exc:
        connection = gate.connection_cached(token)
        if connection is None:
            logger.critical("voice gate unavailable and connection unknown: %s", exc)
            return JsonResponse({"detail": "Voice gate unavailable."}, status=503)
        ctx = Context(
            connection.organisation_id, (), (), None, connection.fail_mode, str(exc)
        )
    if connection is None or ctx is None or not connection.is_active:
        return JsonResponse({"detail": "Unknown webhook address."}, status=404)
    if is_unreadable(connection.secret):
        # Its signatures cannot be checked: the connection's fail mode answers.
        ctx = Context(
            connection.organisation_id,
            (),
            (),
            None,
            connection.fail_mode,
            f"connection {connection.public_id}: verification secret {UNREADABLE}",
        )
    handler = handlers.get(connection.provider)
    if handler is None:
        return None
    return handler(request, token, connection, ctx)
