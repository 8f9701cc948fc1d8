"""The chat widget gate's part of bench/voicegate.py: data, messages, the baseline.

Every seeded visitor also gets a widget id (`w-<i>`) on one chat widget, so the
chat gate is measured over the same 1,000,000 visitors as the call gate. Messages
are the same mix as the calls: 2 % from blacklisted visitors, 68 % from known
visitors, 30 % from visitors never seen (who are created).

`naive_chat` (served at /bench/naive-chat/) is what a competent first version of
the gate would do, one query per check: the widget by its key, the visitor by its
widget id (with its status), the organisation's IP blocks, then the visitor
created or touched, a conversation and the message stored, in one transaction.
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
from pathlib import Path

from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt


def seed_chat(org_id: int, visitors: int) -> tuple[str, list[str], list[str]]:
    """A chat widget and a widget id per visitor (COPY); (key, blacklisted ids,
    known ids). Visitor i is blacklisted when i % 100 == 0, as in seed()."""
    from django.db import connection

    from visitors.models import Widget

    widget = Widget.objects.create(organisation_id=org_id, name="Bench site")
    now = timezone.now().isoformat()
    started = time.perf_counter()
    blacklisted, known = [], []
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor() as cur:
            with cur.copy(
                "COPY visitors_visitoridentifier (organisation_id, visitor_id, kind, "
                "value, created_at) FROM STDIN"
            ) as copy:
                for i in range(1, visitors + 1):
                    copy.write_row((org_id, i, "widget", f"w-{i}", now))
                    (blacklisted if i % 100 == 0 else known).append(f"w-{i}")
            cur.execute("ANALYZE visitors_visitoridentifier")
    raw.commit()
    print(f"seeded {visitors:,} widget ids in {time.perf_counter() - started:.1f} s")
    return widget.key, blacklisted, known


def write_messages(
    path: Path, n: int, blacklisted: list[str], known: list[str], rng: random.Random
) -> None:
    """n widget message bodies, one JSON document per line."""
    with path.open("w") as out:
        for k in range(n):
            roll = rng.random()
            if roll < 0.02:
                visitor = rng.choice(blacklisted)
            elif roll < 0.70:
                visitor = rng.choice(known)
            else:
                visitor = f"new-{rng.randrange(10**12)}"
            body = {"visitor_id": visitor, "body": f"Where is my order {k}?"}
            out.write(json.dumps(body, separators=(",", ":")) + "\n")


def _blocked_ip(organisation_id: int, ip: str) -> bool:
    from visitors.models import IPBlock

    address = ipaddress.ip_address(ip)
    blocks = IPBlock.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        organisation_id=organisation_id,
    ).values_list("network", flat=True)
    return any(address in ipaddress.ip_network(net) for net in blocks)


@csrf_exempt
def naive_chat(request: HttpRequest) -> HttpResponse:
    from visitors.models import (
        BlockedAttempt,
        Conversation,
        Message,
        Visitor,
        VisitorIdentifier,
        Widget,
    )

    widget = (
        Widget.objects.select_related("organisation")
        .filter(key=request.headers.get("X-Widget-Key", ""), is_active=True)
        .first()
    )
    if widget is None:
        return JsonResponse({"detail": "Unknown or inactive widget key."}, status=401)
    data = json.loads(request.body)
    org_id, ip = widget.organisation_id, request.META["REMOTE_ADDR"]
    now = timezone.now()
    with transaction.atomic():
        owned = (
            VisitorIdentifier.objects.filter(
                organisation_id=org_id, kind="widget", value=data["visitor_id"]
            )
            .select_related("visitor")
            .first()
        )
        visitor = owned.visitor if owned is not None else None
        if visitor is not None and visitor.status == "blacklisted":
            BlockedAttempt.objects.create(
                organisation_id=org_id, visitor=visitor, channel="chat", ip=ip
            )
            Visitor.objects.filter(pk=visitor.pk).update(
                blocked_attempts=F("blocked_attempts") + 1
            )
            return JsonResponse({"status": "accepted"}, status=202)
        if _blocked_ip(org_id, ip):
            return JsonResponse({"status": "accepted"}, status=202)
        if visitor is None:
            visitor = Visitor.objects.create(organisation_id=org_id, last_seen_at=now)
            VisitorIdentifier.objects.create(
                organisation_id=org_id,
                visitor=visitor,
                kind="widget",
                value=data["visitor_id"],
            )
        else:
            Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=now)
        conversation = Conversation.objects.create(
            organisation_id=org_id,
            visitor=visitor,
            widget=widget,
            last_message_at=now,
            message_count=1,
        )
        message = Message.objects.create(
            organisation_id=org_id,
            conversation=conversation,
            sender="visitor",
            author=visitor.name,
            body=data["body"],
            ip=ip,
            created_at=now,
        )
    return JsonResponse(
        {
            "status": "accepted",
            "conversation_id": str(conversation.public_id),
            "message_id": str(message.public_id),
        },
        status=202,
    )
