"""The two baselines the call gate is measured against.

naive_gate: what a competent first version would do. Verify the Telnyx signature,
parse the event, then one indexed ORM query per request for the caller's visitor
status (with the project's own connection settings: persistent connections),
answering reject or allow. It logs nothing and sends no command.

bare_view: the floor. Parse the body and look the caller up in an in-memory set;
no signature, no database, no cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from trustconsole.lib.phones import PhoneNumberError, phone_normalise
from visitors.models import VisitorIdentifier
from voicegate.signatures import telnyx_verify

PUBLIC_KEY = os.environ.get("BENCH_TELNYX_PUBLIC_KEY", "")
ORGANISATION_ID = int(os.environ.get("BENCH_ORGANISATION_ID", "0"))
_BLOCKED_FILE = os.environ.get("BENCH_BARE_BLOCKED_FILE")
BLOCKED = frozenset(Path(_BLOCKED_FILE).read_text().split() if _BLOCKED_FILE else ())


@csrf_exempt
def naive_gate(request: HttpRequest, token: str) -> HttpResponse:
    problem = telnyx_verify(
        public_key_b64=PUBLIC_KEY,
        signature_b64=request.headers.get("telnyx-signature-ed25519"),
        timestamp=request.headers.get("telnyx-timestamp"),
        body=request.body,
    )
    if problem:
        return JsonResponse({"detail": problem}, status=403)
    payload = json.loads(request.body)["data"]["payload"]
    try:
        e164 = phone_normalise(payload["from"])
    except PhoneNumberError:
        return JsonResponse({"decision": "allow"})
    status = (
        VisitorIdentifier.objects.filter(
            organisation_id=ORGANISATION_ID, kind="phone", value=e164
        )
        .values_list("visitor__status", flat=True)
        .first()
    )
    return JsonResponse({"decision": "reject" if status == "blacklisted" else "allow"})


@csrf_exempt
def bare_view(request: HttpRequest, token: str) -> HttpResponse:
    payload = json.loads(request.body)["data"]["payload"]
    blocked = payload["from"] in BLOCKED
    return JsonResponse({"decision": "reject" if blocked else "allow"})
