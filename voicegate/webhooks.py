"""Provider webhooks of the call gate: `/voice/hooks/<token>/`.

One URL per connection; the connection's provider says how to read and verify the
request and how to answer it. A request whose signature does not verify never reaches
the decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from trustconsole.lib import jsonbody
from trustconsole.lib.crypto import UNREADABLE, is_unreadable
from voicegate import gate, signatures, tasks, telnyx
from voicegate.choices import CommandStatus, Decision, Provider
from voicegate.gate import CallFacts, ConnectionSnapshot, Context

logger = logging.getLogger(__name__)

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


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
) -> HttpResponse:
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
        return JsonResponse({"status": "forwarded" if forwarded else "ignored"})

    facts = CallFacts(
        organisation_id=connection.organisation_id,
        connection_id=connection.id,
        provider=connection.provider,
        event_id=event_id,
        call_id=str(payload.get("call_control_id") or ""),
        caller=str(payload.get("from") or ""),
        callee=str(payload.get("to") or ""),
    )
    # A reject is logged once its command's fate is known; an allow at once.
    claimed = _decide(request, token, ctx, facts, defer_reject_log=True)
    if claimed is None:
        return JsonResponse({"detail": "Unknown webhook address."}, status=404)
    if claimed.duplicate:
        return JsonResponse({"status": "duplicate"})
    verdict = claimed.verdict
    if verdict.rejected:
        _send_reject(connection, facts, claimed.record)
    else:
        _forward(connection, request, None)
    gate.repeated_call_note(ctx.org, connection.organisation_id, verdict, claimed.count)
    return JsonResponse({"decision": verdict.decision, "reason": verdict.reason})


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
        return gate.decide_and_claim(
            ctx,
            facts,
            started_us=request.voice_started_us,  # type: ignore[attr-defined]
            refresh=refresh,
            defer_reject_log=defer_reject_log,
        )
    except (LookupError, gate.GateUnavailable):
        return None


def _send_reject(
    connection: ConnectionSnapshot, facts: CallFacts, record: dict[str, Any]
) -> None:
    if is_unreadable(connection.api_key):
        logger.critical("reject not sent for %s: %s", connection.public_id, UNREADABLE)
        gate.call_command_result(record, CommandStatus.FAILED, f"API key {UNREADABLE}")
        return
    result = telnyx.reject_call(
        api_key=connection.api_key,
        call_control_id=facts.call_id,
        event_id=facts.event_id,
        attempts=2,
    )
    gate.call_command_result(record, result.status, result.detail)
    if result.retryable:
        tasks.reject_call.delay(
            facts.organisation_id,
            facts.provider,
            facts.event_id,
            connection.id,
            facts.call_id,
        )


def _forward(
    connection: ConnectionSnapshot, request: HttpRequest, dedup_id: str | None
) -> bool:
    """Queue the webhook, unchanged, for the downstream app (once per event)."""
    if not connection.downstream_url:
        return False
    if dedup_id is not None:
        from django.core.cache import cache

        try:
            if not cache.add(f"voice:fwd:{connection.id}:{dedup_id}", 1, 86400):
                return True
        except Exception:
            logger.warning("forward dedup unavailable", exc_info=True)
    headers = {
        name: request.headers[name]
        for name in tasks.FORWARDED_HEADERS
        if name in request.headers
    }
    try:
        tasks.forward_event.delay(connection.id, request.body.decode(), headers)
    except Exception:
        logger.critical(
            "could not queue a forward to the downstream app", exc_info=True
        )
        return False
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
    )
    claimed = _decide(request, token, ctx, facts)
    if claimed is None:
        return JsonResponse({"detail": "Unknown webhook address."}, status=404)
    # A redelivery is answered again (same caller, same answer) but logged once.
    gate.repeated_call_note(
        ctx.org, connection.organisation_id, claimed.verdict, claimed.count
    )
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


HANDLERS: dict[str, Callable[..., HttpResponse]] = {
    Provider.TELNYX_CALL_CONTROL: _telnyx_call_control,
    Provider.TELNYX_TEXML: _xml_voice,
    Provider.TWILIO: _xml_voice,
    Provider.PLIVO: _xml_voice,
    Provider.GENERIC: _generic,
}


@csrf_exempt
def voice_hook(request: HttpRequest, token: str) -> HttpResponse:
    """Answer one provider webhook for the connection that owns `token`."""
    request.voice_started_us = gate.now_us()  # type: ignore[attr-defined]
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
    return HANDLERS[connection.provider](request, token, connection, ctx)
