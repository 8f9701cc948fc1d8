"""The neutral decision answer `{action, reason, visitor}` for PBXs.

Shared by a generic connection's webhook (shared token) and
`POST /api/v1/voice/decide` (an organisation API token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import JsonResponse

from trustconsole.lib import jsonbody, metrics
from visitors.models import Visitor
from voicegate import gate
from voicegate.choices import Provider, Reason
from voicegate.gate import CallFacts, Context, Verdict

logger = logging.getLogger(__name__)


def _field_error(field: str, reason: str) -> JsonResponse:
    return JsonResponse(
        {
            "detail": f"{field}: {reason}",
            "errors": [{"field": field, "reason": reason}],
        },
        status=400,
    )


def visitor_summary(visitor_id: int | None) -> dict[str, Any] | None:
    """The matched visitor as the answer names it (one query, only on a match)."""
    if visitor_id is None:
        return None
    try:
        row = (
            Visitor.objects.filter(pk=visitor_id)
            .values("public_id", "name", "status", "trust_score")
            .first()
        )
    except Exception:  # the database went away: the decision still stands
        logger.warning("could not name the matched visitor", exc_info=True)
        return None
    if row is None:
        return None
    return {
        "id": str(row["public_id"]),
        "name": row["name"],
        "status": row["status"],
        "trust_score": row["trust_score"],
    }


def answer(verdict: Verdict) -> dict[str, Any]:
    """`{action, reason, reason_label, visitor, explanation}`."""
    return {
        "action": verdict.decision,
        "reason": verdict.reason,
        "reason_label": Reason(verdict.reason).label,
        "visitor": visitor_summary(verdict.visitor_id)
        if verdict.reason in (Reason.BLACKLISTED_VISITOR, Reason.WHITELISTED)
        else None,
        "explanation": verdict.explanation(),
    }


def respond(
    *,
    raw: bytes | Any,
    ctx: Context,
    connection_id: int | None,
    started_us: int,
    refresh: Callable[[], Context | None],
) -> JsonResponse:
    """Validate `{from, to, call_id?}` (raw bytes or a parsed body), decide, log
    and answer."""
    gate.pending_flush()
    if isinstance(raw, bytes):
        try:
            body: Any = jsonbody.parse(raw or b"{}")
        except jsonbody.JsonBodyError as exc:
            return jsonbody.error_response(exc, field="body")
    else:  # already parsed by the API's parser
        body = raw
    if not isinstance(body, dict):
        return _field_error("body", "Send a JSON object.")
    for field in ("from", "to"):
        if field not in body:
            return _field_error(field, "This field is required.")
        if not isinstance(body[field], str):
            return _field_error(field, "Must be a string (a number or a SIP URI).")
    call_id = body.get("call_id", "")
    if not isinstance(call_id, str) or len(call_id) > 200:
        return _field_error("call_id", "Must be a string of at most 200 characters.")
    stir = {key: body.get(key, "") for key in ("attestation", "verstat")}
    for key, value in stir.items():
        if not isinstance(value, str) or len(value) > 64:
            return _field_error(key, "Must be a string of at most 64 characters.")
    facts = CallFacts(
        organisation_id=ctx.organisation_id,
        connection_id=connection_id,
        provider=Provider.GENERIC,
        event_id=call_id,
        call_id=call_id,
        caller=body["from"],
        callee=body["to"],
        attestation=stir["attestation"].upper()[:8],
        verstat=stir["verstat"],
    )
    try:
        claimed = gate.decide_and_claim(
            ctx, facts, started_us=started_us, refresh=refresh
        )
    except LookupError:
        return JsonResponse({"detail": "Unknown webhook address."}, status=404)
    if not claimed.duplicate:
        metrics.call_decided(claimed.record)
    gate.call_count_rules(facts, claimed)
    return JsonResponse(answer(claimed.verdict))
