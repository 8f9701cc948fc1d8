"""Status webhooks: signature, delivery to a real local HTTPS receiver, retries with
back-off up to the limit, every attempt recorded, non-public destinations refused."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

import httpx
import pytest
import time_machine
from django.utils import timezone

from remediation import poller, services, webhooks
from remediation.choices import DeliveryStatus
from remediation.models import WebhookAttempt, WebhookDelivery
from remediation.providers import UpstreamRemediation
from remediation.selectors import settings_for
from tests.remediation.conftest import numbers, own
from trustconsole.lib import netguard

pytestmark = pytest.mark.django_db


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"hello":"world"}'
    headers = webhooks.signature_headers("whsec_test", body, timestamp=1717790000)
    assert headers == {
        "X-Trustconsole-Timestamp": "1717790000",
        "X-Trustconsole-Signature": (
            "v1=7a9e65e0e57ce58b722e2713a30160a0ef37ec7d8373a4b2a2f90178ee14b4c3"
        ),
    }


def test_a_receiver_rejects_tampering_other_secrets_and_stale_timestamps() -> None:
    body = b'{"data":{}}'
    signed = webhooks.signature_headers("whsec_a", body, timestamp=1_000_000)
    stamp, signature = (
        signed["X-Trustconsole-Timestamp"],
        signed["X-Trustconsole-Signature"],
    )

    def ok(
        secret: str, content: bytes, ts: str = stamp, now: float = 1_000_100
    ) -> bool:
        return webhooks.verify_signature(
            secret, content, timestamp=ts, signature=signature, now=now
        )

    assert ok("whsec_a", body)
    assert not ok("whsec_a", body + b" ")
    assert not ok("whsec_b", body)
    assert not ok("whsec_a", body, now=1_000_000 + 301)
    assert not ok("whsec_a", body, ts="1000001")
    assert not ok("whsec_a", body, ts="yesterday")


def _delivery(org: Any, enterprise: Any, actor_for: Any, url: str) -> WebhookDelivery:
    """A status change (pending → in_progress) of a request with a webhook_url."""
    own(enterprise, numbers(2))
    request = services.remediation_submit(
        actor=actor_for(org, "operator"),
        enterprise=enterprise,
        phone_numbers=numbers(2),
        call_purpose="Reminders",
        webhook_url=url,
    )
    token = poller.claim(request_id=request.pk, due_only=False)
    poller.apply_snapshot(
        request_id=request.pk,
        token=token,
        snapshot=UpstreamRemediation(id="up-1", status="in_progress"),
    )
    return WebhookDelivery.objects.get(request=request)


def test_a_status_change_is_delivered_signed_to_the_receiver(
    org, enterprise, actor_for, webhook_settings
) -> None:
    """GIVEN a status change WHEN delivered THEN the local HTTPS receiver gets the
    event envelope with the request's detail, signed with the organisation's
    secret, and the attempt is recorded as delivered."""
    receiver = webhook_settings
    delivery = _delivery(org, enterprise, actor_for, receiver.url)
    assert webhooks.deliver(delivery_id=delivery.pk) is None
    (got,) = receiver.received
    assert got["path"] == "/hooks/remediation"
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-trustconsole-event-id"] == str(delivery.public_id)
    secret = settings_for(organisation=org).webhook_secret
    assert webhooks.verify_signature(
        secret,
        got["body"],
        timestamp=headers["x-trustconsole-timestamp"],
        signature=headers["x-trustconsole-signature"],
    )
    document = json.loads(got["body"])
    assert document["data"]["record_type"] == "event"
    assert document["data"]["event_type"] == webhooks.EVENT_TYPE
    assert document["data"]["id"] == str(delivery.public_id)
    payload = document["data"]["payload"]
    assert payload["status"] == "in_progress"
    assert payload["previous_status"] == "pending"
    assert payload["id"] == str(delivery.request.public_id)
    assert document["meta"] == {"attempt": 1, "delivered_to": receiver.url}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    (attempt,) = WebhookAttempt.objects.all()
    assert (attempt.number, attempt.status_code, attempt.ok) == (1, 200, True)


def test_failures_are_retried_with_back_off_and_every_attempt_is_kept(
    org, enterprise, actor_for, webhook_settings, settings
) -> None:
    receiver = webhook_settings
    receiver.answers = [500, 302]
    settings.REMEDIATION_WEBHOOK_RETRY_SECONDS = 10
    delivery = _delivery(org, enterprise, actor_for, receiver.url)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert webhooks.deliver(delivery_id=delivery.pk) == 10
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == start + dt.timedelta(seconds=10)
        assert webhooks.deliver(delivery_id=delivery.pk) is None  # not due yet
        clock.move_to(start + dt.timedelta(seconds=11))
        assert webhooks.deliver(delivery_id=delivery.pk) == 20
        clock.move_to(start + dt.timedelta(seconds=40))
        assert webhooks.deliver(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    attempts = list(delivery.attempt_log.values_list("number", "status_code", "error"))
    assert attempts == [
        (1, 500, "answered HTTP 500"),
        (2, 302, "answered HTTP 302"),
        (3, 200, ""),
    ]
    bodies = receiver.bodies()
    assert [b["meta"]["attempt"] for b in bodies] == [1, 2, 3]
    assert len({b["data"]["id"] for b in bodies}) == 1


def test_it_gives_up_after_the_attempt_limit(
    org, enterprise, actor_for, webhook_settings, settings
) -> None:
    receiver = webhook_settings
    receiver.answers = [503] * 10
    settings.REMEDIATION_WEBHOOK_MAX_ATTEMPTS = 3
    delivery = _delivery(org, enterprise, actor_for, receiver.url)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(3):
            webhooks.deliver(delivery_id=delivery.pk)
            clock.shift(dt.timedelta(hours=2))
        assert webhooks.deliver(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert len(receiver.received) == 3


def test_the_certificate_is_verified(
    org, enterprise, actor_for, webhook_settings, settings
) -> None:
    settings.REMEDIATION_WEBHOOK_CA_FILE = ""
    delivery = _delivery(org, enterprise, actor_for, webhook_settings.url)
    assert webhooks.deliver(delivery_id=delivery.pk) == 1
    attempt = WebhookAttempt.objects.get()
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert webhook_settings.received == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.5"],
        ["192.168.1.20"],
        ["169.254.169.254"],
        ["100.64.0.1"],
        ["::1"],
        ["fe80::1"],
        ["::ffff:127.0.0.1"],
        ["93.184.216.34", "10.0.0.5"],  # one private address is enough to refuse
    ],
)
def test_non_public_destinations_are_refused_after_resolving(
    org, enterprise, actor_for, settings, monkeypatch, addresses
) -> None:
    """GIVEN a public-looking host name that resolves to a non-public address by the
    time the webhook is due WHEN it is delivered THEN no connection is made, the
    refusal is recorded as the attempt, and it is not retried."""
    settings.OUTBOUND_ALLOW_PRIVATE = False

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "hooks.example.com"
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, 1, 6, "", (a, port))
            for a in addresses
        ]

    def no_connections(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a refused destination must not be contacted")

    # Accepted when submitted (the name did not resolve then); by delivery time
    # its DNS answers a non-public address.
    delivery = _delivery(org, enterprise, actor_for, "https://hooks.example.com/r")
    monkeypatch.setattr(netguard.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", no_connections)
    assert webhooks.deliver(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    (attempt,) = delivery.attempt_log.all()
    assert "non-public address" in attempt.error
    assert attempt.status_code is None


def test_a_host_that_does_not_resolve_is_retried(
    org, enterprise, actor_for, monkeypatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(netguard.socket, "getaddrinfo", fail)
    delivery = _delivery(org, enterprise, actor_for, "https://nowhere.example.com/r")
    assert webhooks.deliver(delivery_id=delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert "cannot resolve" in delivery.last_error


def test_no_webhook_url_means_no_deliveries(org, enterprise, actor_for) -> None:
    own(enterprise, numbers(1))
    request = services.remediation_submit(
        actor=actor_for(org, "operator"),
        enterprise=enterprise,
        phone_numbers=numbers(1),
        call_purpose="Reminders",
    )
    token = poller.claim(request_id=request.pk, due_only=False)
    poller.apply_snapshot(
        request_id=request.pk,
        token=token,
        snapshot=UpstreamRemediation(id="up-2", status="in_progress"),
    )
    assert not WebhookDelivery.objects.exists()


def test_rotating_the_secret_changes_the_signature(org, actor_for) -> None:
    before = settings_for(organisation=org).webhook_secret
    services.webhook_secret_rotate(actor=actor_for(org, "admin"), reason="leaked")
    after = settings_for(organisation=org).webhook_secret
    assert after != before and after.startswith("whsec_")
