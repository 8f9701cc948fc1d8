"""The built-in sandbox provider: the seed's remediation API, served by the console.

Mounted at `/sandbox/telnyx/v2/`, it answers like the provider so the whole flow
runs offline. Any Bearer key works; each key is its own namespace. A request walks

    pending → in_progress (after REMEDIATION_SANDBOX_PENDING_SECONDS)
            → tier 1 results (REMEDIATION_SANDBOX_TIER1_SECONDS)
            → completed with tier 2 (REMEDIATION_SANDBOX_TIER2_SECONDS)

counted from submission, so its state is a pure function of the clock. Outcomes
are deterministic, by the number's last digit:

    0, 2, 4  remediated       (decided at tier 1)
    1, 3     remediated       (tier 2)
    5, 6     not_flagged      (tier 1)
    7, 8     requires_review  (tier 2)
    9        refused          (tier 2)

A `call_purpose` containing `[sandbox:fail]` makes the request `failed` when tier 1
would finish. `POST …/remediation/{id}/actions/cancel` cancels a pending request.
For tests, `POST /sandbox/telnyx/control/faults` queues failures for the caller's
key: `{"kind": "error", "status": 503}`, `{"kind": "rate_limit", "retry_after": 2}`
or `{"kind": "delay", "delay_seconds": 5}`, with optional `"count"` and `"method"`;
`DELETE` clears them. With REMEDIATION_SANDBOX_ENABLED off everything answers 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from remediation import validation
from remediation.choices import BUCKETS, RemediationStatus
from remediation.errors import RemediationError, problem
from remediation.jsonapi import (
    error_response,
    format_timestamp,
    parse_filters,
    parse_page,
)
from remediation.models import SandboxFault, SandboxRemediation
from trustconsole.lib import jsonbody

FAIL_MARKER = "[sandbox:fail]"
MAX_DELAY_SECONDS = 30
# last digit → (bucket, tier at which it is decided)
OUTCOMES: dict[str, tuple[str, int]] = {
    "0": ("remediated", 1),
    "1": ("remediated", 2),
    "2": ("remediated", 1),
    "3": ("remediated", 2),
    "4": ("remediated", 1),
    "5": ("not_flagged", 1),
    "6": ("not_flagged", 1),
    "7": ("requires_review", 2),
    "8": ("requires_review", 2),
    "9": ("refused", 2),
}


def outcome_for(number: str) -> tuple[str, int]:
    """The sandbox's (bucket, tier) for a number."""
    return OUTCOMES[number[-1]]


def sandbox_delays() -> tuple[dt.timedelta, dt.timedelta, dt.timedelta]:
    """How long a sandbox request stays pending, and when tiers 1 and 2 complete."""
    pending = settings.REMEDIATION_SANDBOX_PENDING_SECONDS
    tier1 = max(pending, settings.REMEDIATION_SANDBOX_TIER1_SECONDS)
    tier2 = max(tier1, settings.REMEDIATION_SANDBOX_TIER2_SECONDS)
    return (
        dt.timedelta(seconds=pending),
        dt.timedelta(seconds=tier1),
        dt.timedelta(seconds=tier2),
    )


def snapshot(row: SandboxRemediation, now: dt.datetime | None = None) -> dict[str, Any]:
    """The request's detail object at `now` (the clock drives the state)."""
    now = now or timezone.now()
    pending, tier1, tier2 = sandbox_delays()
    created = row.created_at
    tier1_at = tier2_at = None
    results: dict[str, list[str]] | None = None
    updated = created
    if row.cancelled_at is not None:
        status, updated = RemediationStatus.CANCELLED, row.cancelled_at
    elif now < created + pending:
        status = RemediationStatus.PENDING
    elif now < created + tier1:
        status, updated = RemediationStatus.IN_PROGRESS, created + pending
    elif FAIL_MARKER in row.call_purpose:
        status, updated = RemediationStatus.FAILED, created + tier1
    else:
        tier1_at = created + tier1
        done = 1
        status, updated = RemediationStatus.IN_PROGRESS, tier1_at
        if now >= created + tier2:
            tier2_at, done = created + tier2, 2
            status, updated = RemediationStatus.COMPLETED, tier2_at
        results = {name: [] for name in BUCKETS}
        for number in row.phone_numbers:
            bucket, tier = outcome_for(number)
            if tier <= done:
                results[bucket].append(number)
    count = len(row.phone_numbers)
    return {
        "id": str(row.id),
        "status": status,
        "phone_numbers_count": count,
        "phone_numbers_submitted": count,
        "phone_numbers_ineligible": 0,
        "call_purpose": row.call_purpose,
        "contact_email": row.contact_email or None,
        "webhook_url": row.webhook_url or None,
        "created_at": format_timestamp(created),
        "updated_at": format_timestamp(updated),
        "tier1_completed_at": format_timestamp(tier1_at),
        "tier2_completed_at": format_timestamp(tier2_at),
        "results": results,
    }


SLIM_FIELDS = (
    "id",
    "status",
    "phone_numbers_count",
    "call_purpose",
    "created_at",
    "updated_at",
    "tier1_completed_at",
    "tier2_completed_at",
)


# --- HTTP -----------------------------------------------------------------------


def not_found_response(
    detail: str = "The requested resource or URL could not be found.",
) -> JsonResponse:
    """The provider's 404 error object."""
    return error_response(404, [problem(404, detail)])


def _account(request: HttpRequest) -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return hashlib.sha256(key.encode()).hexdigest()


def _unauthorised() -> JsonResponse:
    response = error_response(
        401,
        [problem(401, "Send your API key as Authorization: Bearer <key>.")],
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


def _injected_fault(request: HttpRequest, account: str) -> JsonResponse | None:
    """Serve the next queued fault for this key and method, if any."""
    method = request.method or "GET"
    for fault in SandboxFault.objects.filter(account_key=account, remaining__gt=0):
        if fault.method and fault.method.upper() != method:
            continue
        taken = SandboxFault.objects.filter(pk=fault.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1, hits=F("hits") + 1
        )
        if not taken:
            continue
        if fault.kind == SandboxFault.DELAY:
            time.sleep(min(fault.delay_seconds, MAX_DELAY_SECONDS))
            return None
        if fault.kind == SandboxFault.RATE_LIMIT:
            return error_response(
                429,
                [problem(429, "Sandbox rate limit: slow down.")],
                headers={"Retry-After": str(fault.retry_after)},
            )
        return error_response(
            fault.status_code,
            [problem(fault.status_code, "Sandbox fault injected for testing.")],
        )
    return None


def sandbox_gate(request: HttpRequest) -> tuple[str, JsonResponse | None]:
    """The calling sandbox account, or ("", the answer to give instead: off, 401,
    fault)."""
    if not settings.REMEDIATION_SANDBOX_ENABLED:
        return "", not_found_response()
    account = _account(request)
    if account is None:
        return "", _unauthorised()
    return account, _injected_fault(request, account)


def method_not_allowed(allowed: str) -> JsonResponse:
    """The provider's 405, naming the allowed methods."""
    response = error_response(405, [problem(405, f"Use {allowed} here.")])
    response["Allow"] = allowed
    return response


@csrf_exempt
def remediation_collection(request: HttpRequest, enterprise_id: str) -> JsonResponse:
    """GET: list (JSON:API pages and filters). POST: submit, answers 202."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    try:
        if request.method == "GET":
            return _list(request, account, enterprise_id)
        if request.method == "POST":
            return _create(request, account, enterprise_id)
    except RemediationError as exc:
        return error_response(exc.status, exc.problems)
    return method_not_allowed("GET, POST")


def _list(request: HttpRequest, account: str, enterprise_id: str) -> JsonResponse:
    page = parse_page(request.GET)
    filters = parse_filters(request.GET)
    rows = SandboxRemediation.objects.filter(
        account_key=account, enterprise_id=enterprise_id
    )
    if filters.created_gte:
        rows = rows.filter(created_at__gte=filters.created_gte)
    if filters.created_lte:
        rows = rows.filter(created_at__lte=filters.created_lte)
    now = timezone.now()
    items = [snapshot(row, now) for row in rows]
    if filters.status:
        items = [item for item in items if item["status"] == filters.status]
    window = items[page.offset : page.offset + page.size]
    return JsonResponse(
        {
            "data": [{k: item[k] for k in SLIM_FIELDS} for item in window],
            "meta": page.meta(len(items)),
        }
    )


def _create(request: HttpRequest, account: str, enterprise_id: str) -> JsonResponse:
    try:
        body = jsonbody.parse(jsonbody.read(request) or b"null")
    except jsonbody.JsonBodyError as exc:
        return error_response(exc.status, [problem(exc.status, exc.reason)])
    if not isinstance(body, dict):
        return error_response(400, [problem(400, "The body must be a JSON object.")])
    unknown = validation.unknown_fields(body)
    data = None
    try:
        data = validation.clean_submission(
            phone_numbers=body.get("phone_numbers"),
            call_purpose=body.get("call_purpose"),
            contact_email=body.get("contact_email"),
            webhook_url=body.get("webhook_url"),
            allow_private_webhook=True,
        )
    except RemediationError as exc:
        return error_response(422, unknown + exc.problems)
    if unknown:
        return error_response(422, unknown)
    row = SandboxRemediation.objects.create(
        id=uuid.uuid4(),
        account_key=account,
        enterprise_id=enterprise_id,
        phone_numbers=data.phone_numbers,
        call_purpose=data.call_purpose,
        contact_email=data.contact_email,
        webhook_url=data.webhook_url,
    )
    return JsonResponse({"data": snapshot(row)}, status=202)


def _row(
    account: str, enterprise_id: str, remediation_id: str
) -> SandboxRemediation | None:
    try:
        key = uuid.UUID(remediation_id)
    except ValueError:
        return None
    return SandboxRemediation.objects.filter(
        account_key=account, enterprise_id=enterprise_id, id=key
    ).first()


@csrf_exempt
def remediation_item(
    request: HttpRequest, enterprise_id: str, remediation_id: str
) -> JsonResponse:
    """GET one request in full."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    if request.method != "GET":
        return method_not_allowed("GET")
    row = _row(account, enterprise_id, remediation_id)
    if row is None:
        return not_found_response()
    return JsonResponse({"data": snapshot(row)})


@csrf_exempt
def remediation_cancel(
    request: HttpRequest, enterprise_id: str, remediation_id: str
) -> JsonResponse:
    """POST: cancel a pending request (a sandbox extension)."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    if request.method != "POST":
        return method_not_allowed("POST")
    with transaction.atomic():
        row = _row(account, enterprise_id, remediation_id)
        if row is None:
            return not_found_response()
        current = snapshot(row)
        if current["status"] != RemediationStatus.PENDING:
            return error_response(
                409,
                [
                    problem(
                        409,
                        "Only a pending request can be cancelled; this one is "
                        f"{current['status']}.",
                    )
                ],
            )
        row.cancelled_at = timezone.now()
        row.save(update_fields=["cancelled_at"])
    return JsonResponse({"data": snapshot(row)})


@csrf_exempt
def faults(request: HttpRequest) -> JsonResponse:
    """Queue (POST), list (GET) or clear (DELETE) injected faults for the key."""
    if not settings.REMEDIATION_SANDBOX_ENABLED:
        return not_found_response()
    account = _account(request)
    if account is None:
        return _unauthorised()
    mine = SandboxFault.objects.filter(account_key=account)
    if request.method == "DELETE":
        mine.delete()
        return JsonResponse({"data": []})
    if request.method == "GET":
        return JsonResponse({"data": [_fault_json(f) for f in mine]})
    if request.method != "POST":
        return method_not_allowed("GET, POST, DELETE")
    try:
        body = jsonbody.parse(jsonbody.read(request) or b"{}")
    except jsonbody.JsonBodyError as exc:
        return error_response(exc.status, [problem(exc.status, exc.reason)])
    try:
        fault = _fault_from(body, account)
    except (ValueError, TypeError, KeyError) as exc:
        return error_response(422, [problem(422, f"Invalid fault: {exc}")])
    fault.save()
    return JsonResponse({"data": _fault_json(fault)}, status=201)


def _fault_from(body: Any, account: str) -> SandboxFault:
    if not isinstance(body, dict):
        raise TypeError("the body must be an object")
    kind = body["kind"]
    if kind not in (SandboxFault.ERROR, SandboxFault.RATE_LIMIT, SandboxFault.DELAY):
        raise ValueError("kind must be error, rate_limit or delay")
    status = int(body.get("status", 503))
    if kind == SandboxFault.ERROR and not 400 <= status <= 599:
        raise ValueError("status must be a 4xx or 5xx code")
    return SandboxFault(
        account_key=account,
        kind=kind,
        method=str(body.get("method", "")).upper(),
        status_code=status,
        retry_after=max(0, int(body.get("retry_after", 1))),
        delay_seconds=max(0.0, float(body.get("delay_seconds", 0))),
        remaining=max(1, int(body.get("count", 1))),
    )


def _fault_json(fault: SandboxFault) -> dict[str, Any]:
    return {
        "kind": fault.kind,
        "method": fault.method or None,
        "status": fault.status_code,
        "retry_after": fault.retry_after,
        "delay_seconds": fault.delay_seconds,
        "remaining": fault.remaining,
        "hits": fault.hits,
    }


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Anything else under the sandbox: a JSON:API 404."""
    return not_found_response()
