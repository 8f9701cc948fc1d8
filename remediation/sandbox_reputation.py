"""The sandbox's Number Reputation endpoints: monitoring, with data that moves.

Served beside the sandbox's remediation API (`/sandbox/telnyx/v2/`), in the
provider's shapes, limits and errors (see TELEPHONY.md §5 in the docs):

    POST/GET/DELETE  enterprises/{id}/reputation              enable / read / disable
    PATCH            enterprises/{id}/reputation/frequency    approved records only
    PATCH            enterprises/{id}/reputation/loa          back to loa pending
    PATCH            enterprises/{id}/reputation/webhook      ownership webhook URL
    GET/POST         enterprises/{id}/reputation/numbers      list (10 a page) / add
    POST             enterprises/{id}/reputation/numbers/refresh   1–100, live
    GET/DELETE       enterprises/{id}/reputation/numbers/{%2B…}    one number

A record is `pending` for REMEDIATION_SANDBOX_APPROVAL_SECONDS, then `approved`
(both gates), or `rejected` when its LOA document id contains `[sandbox:reject]`.
Numbers must be US E.164 (Canadian ones are refused), 1–100 per call, all or
nothing.

Reputation data is deterministic and depends on when the number was last
looked at (`last_refreshed_at`): the sandbox checks every number once per
REMEDIATION_SANDBOX_REPUTATION_SLOT_SECONDS on its own, and whenever a refresh or
a `fresh=true` lookup asks. `reputation_data` is null until the first check.
What a check finds, latest event first:

* a completed sandbox remediation that cleared the number (buckets remediated or
  not_flagged) makes it `low` for 30 days — except numbers whose second-to-last
  digit is 9, which stay flagged ("remediated but still flagged");
* a flag (`POST /sandbox/telnyx/control/reputation`, `{"enterprise_id",
  "phone_number", "spam_risk", "spam_category"}`) sets that risk until cleared;
* otherwise a hash of the number and the slot: about 8 % high, 12 % medium, the
  rest low, so a number's risk rises and falls from one slot to the next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from remediation.choices import CheckFrequency, GateStatus, SpamRisk
from remediation.errors import Problem, problem
from remediation.jsonapi import error_response, format_timestamp
from remediation.models import SandboxNumber, SandboxRemediation, SandboxReputation
from remediation.sandbox import (
    method_not_allowed,
    not_found_response,
    outcome_for,
    sandbox_gate,
)

REJECT_MARKER = "[sandbox:reject]"
E164 = re.compile(r"^\+[1-9][0-9]{9,14}$")
MAX_BATCH = 100
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 250
CLEARED_DAYS = 30
CATEGORIES = ("robocall", "telemarketing", "scam_likely")


# --- Deterministic reputation ---------------------------------------------------


def _slot_seconds() -> int:
    return max(1, settings.REMEDIATION_SANDBOX_REPUTATION_SLOT_SECONDS)


def _hash(*parts: object) -> int:
    text = "|".join(str(p) for p in parts)
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def base_risk(e164: str, at: dt.datetime) -> str:
    """The number's risk in the slot that contains `at` (no flag, no remediation)."""
    slot = int(at.timestamp()) // _slot_seconds()
    roll = _hash(e164, slot) % 100
    if roll < 8:
        return SpamRisk.HIGH
    if roll < 20:
        return SpamRisk.MEDIUM
    return SpamRisk.LOW


def stubborn(e164: str) -> bool:
    """Remediation never lowers these numbers (second-to-last digit 9)."""
    return len(e164) >= 2 and e164[-2] == "9"


def _clearings(row: SandboxNumber) -> list[dt.datetime]:
    """When completed sandbox remediations of this number cleared it."""
    _, tier1, tier2 = _remediation_delays()
    found = []
    requests = SandboxRemediation.objects.filter(
        account_key=row.account_key,
        enterprise_id=row.enterprise_id,
        cancelled_at__isnull=True,
    ).only("phone_numbers", "created_at", "call_purpose")
    for request in requests:
        if row.e164 not in request.phone_numbers or "[sandbox:fail]" in (
            request.call_purpose
        ):
            continue
        bucket, tier = outcome_for(row.e164)
        if bucket in ("remediated", "not_flagged"):
            # The whole request completes with tier 2: the networks act then.
            found.append(request.created_at + tier2)
    return found


def _remediation_delays() -> tuple[dt.timedelta, dt.timedelta, dt.timedelta]:
    from remediation.sandbox import sandbox_delays

    return sandbox_delays()


def observed_at(row: SandboxNumber, now: dt.datetime) -> dt.datetime | None:
    """When the sandbox last checked the number (None: never yet)."""
    slot = _slot_seconds()
    boundary = dt.datetime.fromtimestamp(
        (int(now.timestamp()) // slot) * slot, tz=dt.UTC
    )
    candidates = [t for t in (row.refreshed_at, row.flagged_at) if t is not None]
    if boundary > row.registered_at:
        candidates.append(boundary)
    return max(candidates) if candidates else None


def risk_at(row: SandboxNumber, at: dt.datetime) -> tuple[str, str | None]:
    """(spam_risk, spam_category) as a check at `at` finds them."""
    flag = (
        (row.flagged_at, row.flag_risk, row.flag_category or None)
        if row.flagged_at is not None and row.flagged_at <= at
        else None
    )
    cleared = [t for t in _clearings(row) if t <= at]
    last_clear = max(cleared) if cleared else None
    flagged_now = flag is not None and (last_clear is None or flag[0] > last_clear)
    if (
        last_clear is not None
        and not flagged_now
        and not stubborn(row.e164)
        and at < last_clear + dt.timedelta(days=CLEARED_DAYS)
    ):
        return SpamRisk.LOW, None
    if flag is not None and (flagged_now or stubborn(row.e164)):
        return flag[1], flag[2]
    risk = base_risk(row.e164, at)
    category = (
        None
        if risk == SpamRisk.LOW
        else CATEGORIES[_hash(row.e164, "c") % len(CATEGORIES)]
    )
    return risk, category


def reputation_data(row: SandboxNumber, now: dt.datetime) -> dict[str, Any] | None:
    """The number's `reputation_data` (null until its first check)."""
    at = observed_at(row, now)
    if at is None:
        return None
    risk, category = risk_at(row, at)
    slot = int(at.timestamp()) // _slot_seconds()
    seed = _hash(row.e164, slot, "scores")
    penalties: dict[str, int] = {
        SpamRisk.LOW: 0,
        SpamRisk.MEDIUM: 25,
        SpamRisk.HIGH: 50,
    }
    penalty = penalties[risk]
    return {
        "spam_risk": risk,
        "spam_category": category,
        "maturity_score": 40 + seed % 60,
        "connection_score": max(0, 90 - penalty - seed % 20),
        "engagement_score": max(0, 80 - penalty - (seed // 7) % 25),
        "sentiment_score": max(0, 85 - penalty - (seed // 11) % 30),
        "last_refreshed_at": format_timestamp(at),
    }


def number_json(row: SandboxNumber, now: dt.datetime) -> dict[str, Any]:
    """One monitored number as the provider lists it."""
    return {
        "record_type": "reputation_phone_number",
        "phone_number": row.e164,
        "enterprise_id": row.enterprise_id,
        "created_at": format_timestamp(row.registered_at),
        "updated_at": format_timestamp(observed_at(row, now) or row.registered_at),
        "reputation_data": reputation_data(row, now),
    }


# --- The enterprise's record ----------------------------------------------------


def _gates(record: SandboxReputation, now: dt.datetime) -> tuple[str, str]:
    wait = dt.timedelta(seconds=settings.REMEDIATION_SANDBOX_APPROVAL_SECONDS)
    rejected = REJECT_MARKER in record.loa_document_id
    status = (
        GateStatus.PENDING
        if now < record.created_at + wait
        else GateStatus.REJECTED
        if rejected
        else GateStatus.APPROVED
    )
    loa_since = record.loa_updated_at or record.created_at
    loa = (
        GateStatus.PENDING
        if now < loa_since + wait
        else GateStatus.REJECTED
        if rejected
        else GateStatus.APPROVED
    )
    return status, loa


def record_json(record: SandboxReputation, now: dt.datetime) -> dict[str, Any]:
    """EnterpriseReputationPublic."""
    status, loa = _gates(record, now)
    return {
        "enterprise_id": record.enterprise_id,
        "status": status,
        "loa_document_id": record.loa_document_id,
        "loa_status": loa,
        "check_frequency": record.check_frequency,
        "rejection_reasons": ["The LOA document could not be verified."]
        if status == GateStatus.REJECTED
        else None,
        "webhook_url": record.webhook_url or None,
        "created_at": format_timestamp(record.created_at),
        "updated_at": format_timestamp(record.loa_updated_at or record.created_at),
    }


def _body(request: HttpRequest) -> tuple[dict[str, Any], JsonResponse | None]:
    """The JSON object sent, or ({}, the 400 to answer instead)."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}, error_response(400, [problem(400, "The body is not valid JSON.")])
    if not isinstance(body, dict):
        return {}, error_response(
            400, [problem(400, "The body must be a JSON object.")]
        )
    return body, None


def _unknown(body: dict[str, Any], allowed: set[str]) -> list[Problem]:
    return [
        problem(422, f"Unknown field {name!r}.", pointer=f"/{name}")
        for name in sorted(set(body) - allowed)
    ]


def _record(account: str, enterprise_id: str) -> SandboxReputation | None:
    return SandboxReputation.objects.filter(
        account_key=account, enterprise_id=enterprise_id
    ).first()


def _not_enabled() -> JsonResponse:
    return not_found_response("Number Reputation is not enabled for this enterprise.")


@csrf_exempt
def reputation(request: HttpRequest, enterprise_id: str) -> HttpResponse:
    """POST enables (201), GET reads, DELETE disables (204)."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    now = timezone.now()
    record = _record(account, enterprise_id)
    if request.method == "GET":
        return (
            JsonResponse({"data": record_json(record, now)})
            if record
            else (_not_enabled())
        )
    if request.method == "DELETE":
        if record is None:
            return _not_enabled()
        with transaction.atomic():
            SandboxNumber.objects.filter(
                account_key=account, enterprise_id=enterprise_id
            ).delete()
            record.delete()
        return HttpResponse(status=204)
    if request.method != "POST":
        return method_not_allowed("GET, POST, DELETE")
    body, bad = _body(request)
    if bad is not None:
        return bad
    problems = _unknown(body, {"loa_document_id", "check_frequency"})
    loa = body.get("loa_document_id")
    if not isinstance(loa, str) or not 1 <= len(loa.strip()) <= 255:
        problems.append(
            problem(
                422,
                "loa_document_id is required (1 to 255 characters).",
                pointer="/loa_document_id",
            )
        )
    frequency = body.get("check_frequency", CheckFrequency.BUSINESS_DAILY)
    if frequency not in CheckFrequency.values:
        problems.append(_frequency_problem(frequency))
    if problems:
        return error_response(422, problems)
    if record is not None:
        if _gates(record, now)[0] != GateStatus.REJECTED:
            return error_response(
                400,
                [problem(400, "Number Reputation is already enabled for it.")],
            )
        record.delete()  # "a previously rejected record is replaced"
    assert isinstance(loa, str)  # checked above: a problem otherwise
    record = SandboxReputation.objects.create(
        account_key=account,
        enterprise_id=enterprise_id,
        loa_document_id=loa.strip(),
        check_frequency=frequency,
        created_at=now,
    )
    return JsonResponse({"data": record_json(record, now)}, status=201)


def _frequency_problem(value: object) -> Problem:
    allowed = ", ".join(CheckFrequency.values)
    return problem(
        422,
        f"check_frequency must be one of {allowed} (got {value!r}).",
        pointer="/check_frequency",
    )


def _patch_target(
    request: HttpRequest, enterprise_id: str
) -> tuple[Any, dict[str, Any], JsonResponse | None]:
    """A PATCH on an enterprise's monitoring record: the record and the body, or
    the refusal (auth, method, no record, bad body) to answer instead."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return None, {}, refusal
    if request.method != "PATCH":
        return None, {}, method_not_allowed("PATCH")
    record = _record(account, enterprise_id)
    if record is None:
        return None, {}, _not_enabled()
    body, bad = _body(request)
    if bad is not None:
        return None, {}, bad
    return record, body, None


@csrf_exempt
def reputation_frequency(request: HttpRequest, enterprise_id: str) -> JsonResponse:
    """PATCH the check frequency (400 unless the record is approved)."""
    record, body, refusal = _patch_target(request, enterprise_id)
    if refusal is not None:
        return refusal
    frequency = body.get("check_frequency")
    problems = _unknown(body, {"check_frequency"})
    if frequency not in CheckFrequency.values:
        problems.append(_frequency_problem(frequency))
    if problems:
        return error_response(422, problems)
    now = timezone.now()
    status, _ = _gates(record, now)
    if status != GateStatus.APPROVED:
        return error_response(
            400,
            [problem(400, f"The frequency can change once approved (it is {status}).")],
        )
    record.check_frequency = frequency
    record.save(update_fields=["check_frequency"])
    return JsonResponse({"data": record_json(record, now)})


@csrf_exempt
def reputation_loa(request: HttpRequest, enterprise_id: str) -> JsonResponse:
    """PATCH a new LOA document id: loa_status goes back to pending."""
    record, body, refusal = _patch_target(request, enterprise_id)
    if refusal is not None:
        return refusal
    loa = body.get("loa_document_id")
    if not isinstance(loa, str) or not 1 <= len(loa.strip()) <= 255:
        return error_response(
            422,
            [problem(422, "loa_document_id is required.", pointer="/loa_document_id")],
        )
    record.loa_document_id = loa.strip()
    record.loa_updated_at = timezone.now()
    record.save(update_fields=["loa_document_id", "loa_updated_at"])
    return JsonResponse({"data": record_json(record, timezone.now())})


@csrf_exempt
def reputation_webhook(request: HttpRequest, enterprise_id: str) -> JsonResponse:
    """PATCH the ownership webhook URL (null stops the events)."""
    record, body, refusal = _patch_target(request, enterprise_id)
    if refusal is not None:
        return refusal
    url = body.get("webhook_url")
    if url is not None and (not isinstance(url, str) or not url.startswith("http")):
        return error_response(
            422, [problem(422, "webhook_url must be a URL or null.", pointer="/")]
        )
    record.webhook_url = url or ""
    record.save(update_fields=["webhook_url"])
    return JsonResponse({"data": record_json(record, timezone.now())})


# --- Numbers ---------------------------------------------------------------------


def _batch(body: dict[str, Any]) -> tuple[list[str], list[Problem]]:
    """1–100 US E.164 numbers, or one problem per bad one."""
    numbers = body.get("phone_numbers")
    problems = _unknown(body, {"phone_numbers"})
    if not isinstance(numbers, list) or not 1 <= len(numbers) <= MAX_BATCH:
        count = len(numbers) if isinstance(numbers, list) else 0
        problems.append(
            problem(
                422,
                f"phone_numbers must hold 1 to {MAX_BATCH} numbers (got {count}).",
                pointer="/phone_numbers",
            )
        )
        return [], problems
    clean: list[str] = []
    for index, value in enumerate(numbers):
        pointer = f"/phone_numbers/{index}"
        if not isinstance(value, str) or not E164.match(value):
            problems.append(
                problem(422, f"{value!r} is not an E.164 number.", pointer=pointer)
            )
            continue
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(value))
        except phonenumbers.NumberParseException:
            region = None
        if region != "US":
            problems.append(
                problem(
                    422,
                    f"{value} is not a US number (Canadian numbers are not accepted).",
                    pointer=pointer,
                )
            )
            continue
        if value not in clean:
            clean.append(value)
    return clean, problems


def _page(request: HttpRequest) -> tuple[int, int] | JsonResponse:
    values = []
    for name, default in (("page[number]", 1), ("page[size]", DEFAULT_PAGE_SIZE)):
        raw = request.GET.get(name)
        try:
            value = int(raw) if raw is not None else default
        except ValueError:
            value = 0
        if value < 1:
            return error_response(
                400,
                [
                    problem(
                        400,
                        f"{name} must be a whole number of 1 or more.",
                        parameter=name,
                    )
                ],
            )
        values.append(value)
    return values[0], min(values[1], MAX_PAGE_SIZE)


@csrf_exempt
def numbers(request: HttpRequest, enterprise_id: str) -> JsonResponse:
    """GET the monitored numbers (paged); POST registers 1–100 (all or nothing)."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    record = _record(account, enterprise_id)
    if record is None:
        return _not_enabled()
    now = timezone.now()
    rows = SandboxNumber.objects.filter(
        account_key=account, enterprise_id=enterprise_id
    )
    if request.method == "GET":
        paged = _page(request)
        if isinstance(paged, JsonResponse):
            return paged
        number, size = paged
        contains = "".join(
            c
            for c in request.GET.get("filter[phone_number][contains]", "")
            if c.isdigit()
        )
        if contains:
            rows = rows.filter(e164__contains=contains)
        exact = request.GET.get("filter[phone_number][eq]")
        if exact:
            rows = rows.filter(e164=exact)
        total = rows.count()
        window = rows.order_by("e164")[(number - 1) * size : number * size]
        return JsonResponse(
            {
                "data": [number_json(row, now) for row in window],
                "meta": {
                    "page_number": number,
                    "page_size": size,
                    "total_results": total,
                    "total_pages": -(-total // size) if total else 0,
                },
            }
        )
    if request.method != "POST":
        return method_not_allowed("GET, POST")
    status, loa = _gates(record, now)
    if status != GateStatus.APPROVED or loa != GateStatus.APPROVED:
        return error_response(
            403,
            [
                problem(
                    403,
                    f"Numbers can be added once approved (status {status}, "
                    f"loa_status {loa}).",
                )
            ],
        )
    body, bad = _body(request)
    if bad is not None:
        return bad
    batch, problems = _batch(body)
    taken = set(rows.filter(e164__in=batch).values_list("e164", flat=True))
    problems += [
        problem(422, f"{n} is already monitored.", pointer=f"/phone_numbers/{i}")
        for i, n in enumerate(batch)
        if n in taken
    ]
    if problems:
        return error_response(422, problems)
    try:
        with transaction.atomic():
            created = SandboxNumber.objects.bulk_create(
                [
                    SandboxNumber(
                        account_key=account,
                        enterprise_id=enterprise_id,
                        e164=e164,
                        registered_at=now,
                    )
                    for e164 in batch
                ]
            )
    except IntegrityError:
        return error_response(409, [problem(409, "Numbers were added meanwhile.")])
    return JsonResponse({"data": [number_json(r, now) for r in created]}, status=201)


@csrf_exempt
def numbers_refresh(request: HttpRequest, enterprise_id: str) -> JsonResponse:
    """POST 1–100 numbers for live lookups; per-number success in the answer."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    if request.method != "POST":
        return method_not_allowed("POST")
    if _record(account, enterprise_id) is None:
        return _not_enabled()
    body, bad = _body(request)
    if bad is not None:
        return bad
    batch, problems = _batch(body)
    if problems:
        return error_response(422, problems)
    now = timezone.now()
    rows = SandboxNumber.objects.filter(
        account_key=account, enterprise_id=enterprise_id, e164__in=batch
    )
    monitored = set(rows.values_list("e164", flat=True))
    rows.update(refreshed_at=now)
    results = [
        {
            "phone_number": n,
            "success": n in monitored,
            "error": None if n in monitored else "The number is not monitored.",
        }
        for n in batch
    ]
    ok = len([r for r in results if r["success"]])
    return JsonResponse(
        {
            "data": {
                "results": results,
                "total_requested": len(batch),
                "total_successful": ok,
                "total_failed": len(batch) - ok,
            }
        }
    )


@csrf_exempt
def number_item(
    request: HttpRequest, enterprise_id: str, phone_number: str
) -> HttpResponse:
    """GET one number (`fresh=true`: a live lookup); DELETE stops monitoring it."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    row = SandboxNumber.objects.filter(
        account_key=account, enterprise_id=enterprise_id, e164=phone_number
    ).first()
    if row is None:
        return not_found_response(
            f"{phone_number} is not monitored for this enterprise."
        )
    now = timezone.now()
    if request.method == "DELETE":
        row.delete()
        return HttpResponse(status=204)
    if request.method != "GET":
        return method_not_allowed("GET, DELETE")
    if request.GET.get("fresh") == "true" or observed_at(row, now) is None:
        row.refreshed_at = now  # no cached data: a (billed) fresh query regardless
        row.save(update_fields=["refreshed_at"])
    return JsonResponse({"data": number_json(row, now)})


@csrf_exempt
def control_flag(request: HttpRequest) -> JsonResponse:
    """Test and demo control: flag a monitored number from now on."""
    account, refusal = sandbox_gate(request)
    if refusal is not None:
        return refusal
    if request.method != "POST":
        return method_not_allowed("POST")
    body, bad = _body(request)
    if bad is not None:
        return bad
    risk = body.get("spam_risk", SpamRisk.HIGH)
    if risk not in SpamRisk.values:
        return error_response(
            422, [problem(422, "spam_risk must be low, medium or high.")]
        )
    updated = SandboxNumber.objects.filter(
        account_key=account,
        enterprise_id=str(body.get("enterprise_id", "")),
        e164=str(body.get("phone_number", "")),
    ).update(
        flagged_at=timezone.now(),
        flag_risk=risk,
        flag_category=str(body.get("spam_category") or "robocall")[:100],
    )
    if not updated:
        return not_found_response("No such monitored number.")
    return JsonResponse({"data": {"flagged": True}})
