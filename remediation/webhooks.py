"""Signed status webhooks: one delivery per status change, retried, every attempt kept.

Signature: HMAC-SHA256 with the organisation's webhook secret over
`<timestamp>.<raw body>`, hex-encoded, sent as

    X-Trustconsole-Timestamp: 1717790000
    X-Trustconsole-Signature: v1=<hex>
    X-Trustconsole-Event-Id: <uuid, the same on every retry>

A receiver recomputes the HMAC over the exact bytes it received and rejects stale
timestamps (`verify_signature`). Destinations are resolved first and refused when
any address is loopback, private, link-local or otherwise non-public (the one guard
of `trustconsole.lib.netguard`; OUTBOUND_ALLOW_PRIVATE for development); the
connection then goes to the checked address, so DNS cannot be switched between
check and use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import ssl
import time
import uuid

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from remediation.choices import DeliveryStatus
from remediation.jsonapi import format_timestamp
from remediation.models import RemediationRequest, WebhookAttempt, WebhookDelivery
from trustconsole.lib import netguard
from trustconsole.lib.crypto import UNREADABLE, is_unreadable

logger = logging.getLogger(__name__)

EVENT_TYPE = "number_reputation.remediation.status_changed"
USER_AGENT = "trustconsole-webhooks/1"
SIGNATURE_HEADER = "X-Trustconsole-Signature"
TIMESTAMP_HEADER = "X-Trustconsole-Timestamp"
EVENT_HEADER = "X-Trustconsole-Event-Id"
MAX_RETRY_DELAY = 3600


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `timestamp.body` with the secret."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(
    secret: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The timestamp and signature headers for one attempt."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: "v1=" + sign(secret, stamp, body),
    }


def verify_signature(
    secret: str,
    body: bytes,
    *,
    timestamp: str,
    signature: str,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: fresh timestamp and a matching HMAC (constant time)."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    if age > tolerance:
        return False
    expected = "v1=" + sign(secret, timestamp, body)
    return hmac.compare_digest(expected, signature.strip())


def delivery_create(
    *, request: RemediationRequest, status_from: str, status_to: str
) -> WebhookDelivery | None:
    """Record a status change to notify (inside the change's transaction)."""
    if not request.webhook_url:
        return None
    from remediation.api.serializers import detail_data

    payload = {
        **detail_data(request),
        "enterprise_id": str(request.enterprise.public_id),
        "previous_status": status_from,
    }
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        organisation=request.organisation,
        request=request,
        event_type=EVENT_TYPE,
        status_from=status_from,
        status_to=status_to,
        url=request.webhook_url,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    from remediation.tasks import enqueue_delivery

    transaction.on_commit(lambda: enqueue_delivery(delivery.pk))
    return delivery


def body_for(delivery: WebhookDelivery, attempt: int) -> bytes:
    """The JSON body of one attempt (Telnyx-style event envelope)."""
    document = {
        "data": {
            "record_type": "event",
            "id": str(delivery.public_id),
            "event_type": delivery.event_type,
            "occurred_at": format_timestamp(delivery.created_at),
            "payload": delivery.payload,
        },
        "meta": {"attempt": attempt, "delivered_to": delivery.url},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.REMEDIATION_WEBHOOK_CA_FILE:
        context.load_verify_locations(cafile=settings.REMEDIATION_WEBHOOK_CA_FILE)
    return context


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST through the SSRF guard: vetted address, real host name, no redirects."""
    with netguard.guarded_client(
        timeout=settings.REMEDIATION_WEBHOOK_TIMEOUT, verify=_ssl_context()
    ) as client:
        return client.post(url, content=body, headers=headers)


class _SecretUnreadable(Exception):
    """The organisation's webhook signing secret cannot be decrypted."""


def _claim(delivery_id: int, token: str | None, now: dt.datetime) -> str | None:
    pending = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING
    )
    lease = now + dt.timedelta(seconds=settings.REMEDIATION_LEASE_SECONDS)
    if token:
        ok = pending.filter(claim_token=token, claimed_until__gt=now).update(
            claimed_until=lease
        )
        return token if ok else None
    token = uuid.uuid4().hex
    free = pending.filter(next_attempt_at__lte=now).exclude(claimed_until__gte=now)
    return token if free.update(claim_token=token, claimed_until=lease) else None


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt: base, 2×base, 4×base … (capped at an hour)."""
    base = settings.REMEDIATION_WEBHOOK_RETRY_SECONDS
    return min(MAX_RETRY_DELAY, base * 2 ** max(0, attempts - 1))


def deliver(*, delivery_id: int, token: str | None = None) -> float | None:
    """Make one attempt; seconds until the next one, or None when done or not ours."""
    now = timezone.now()
    token = _claim(delivery_id, token, now)
    if token is None:
        return None
    delivery = WebhookDelivery.objects.select_related("organisation").get(
        pk=delivery_id
    )
    from remediation.services import settings_row_ensure

    secret = settings_row_ensure(organisation=delivery.organisation).webhook_secret
    attempt = delivery.attempts + 1
    body = body_for(delivery, attempt)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: str(delivery.public_id),
        **signature_headers(secret, body),
    }
    started, clock = timezone.now(), time.monotonic()
    status_code, excerpt, error, permanent = None, "", "", False
    try:
        if is_unreadable(secret):
            raise _SecretUnreadable  # never sign with an empty key
        response = post(delivery.url, body, headers)
        status_code, excerpt = response.status_code, response.text[:500]
        if not 200 <= status_code < 300:
            error = f"answered HTTP {status_code}"
    except _SecretUnreadable:
        error = f"not sent, the signing secret cannot be used: {UNREADABLE}"
    except netguard.UnsafeDestination as exc:
        error, permanent = str(exc), True
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:1000]
    duration = int((time.monotonic() - clock) * 1000)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        number = delivery.attempts + 1
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started,
            duration_ms=duration,
            status_code=status_code,
            ok=not error,
            error=error,
            response_excerpt=excerpt,
        )
        if delivery.claim_token != token:
            return None  # our lease ran out mid-attempt; the attempt stays recorded
        delivery.attempts = number
        delay: int | None = None
        if not error:
            delivery.status, delivery.delivered_at = (
                DeliveryStatus.DELIVERED,
                timezone.now(),
            )
            delivery.next_attempt_at, delivery.last_error = None, ""
        elif permanent or number >= settings.REMEDIATION_WEBHOOK_MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.last_error = error
        else:
            delay = retry_delay(number)
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
            delivery.last_error = error
        delivery.claim_token, delivery.claimed_until = "", None
        delivery.save()
    if error:
        logger.warning("webhook %s attempt %s: %s", delivery.public_id, number, error)
    return delay
