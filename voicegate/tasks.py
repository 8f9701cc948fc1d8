"""Celery tasks of the voicegate app: the slow parts of a call, off the hot path."""

from __future__ import annotations

import logging

import httpx
from celery import shared_task
from django.conf import settings

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.lib import netguard
from trustconsole.lib.crypto import UNREADABLE, is_unreadable
from voicegate import gate, outbox, telnyx
from voicegate.models import CallDecision, VoiceConnection

logger = logging.getLogger(__name__)

# Headers of a Telnyx webhook handed on unchanged, so the downstream app can verify it.
FORWARDED_HEADERS = ("content-type", "telnyx-signature-ed25519", "telnyx-timestamp")


class RejectNotSent(Exception):
    """The reject command failed in a way worth another try."""


@shared_task(
    name="voicegate.reject_call",
    autoretry_for=(RejectNotSent,),
    retry_backoff=1,
    retry_backoff_max=8,
    retry_jitter=False,
    max_retries=4,
)
def reject_call(
    organisation_id: int,
    provider: str,
    event_id: str,
    connection_id: int,
    call_control_id: str,
) -> str:
    """Send (again) a reject command (messages queued before the outbox existed)."""
    connection = VoiceConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        logger.info("connection %s vanished before its reject was sent", connection_id)
        return "gone"
    if is_unreadable(connection.api_key):
        logger.critical("reject not sent for %s: %s", connection.public_id, UNREADABLE)
        return "unreadable"
    result = telnyx.reject_call(
        api_key=connection.api_key,
        call_control_id=call_control_id,
        event_id=event_id,
        attempts=1,
    )
    rows = CallDecision.objects.filter(
        organisation_id=organisation_id, provider=provider, event_id=event_id
    )
    if not rows.exists():
        gate.decisions_flush()  # the decision may still be in the Redis stream
    rows.update(command_status=result.status, command_detail=result.detail[:500])
    if result.retryable:
        raise RejectNotSent(result.detail)
    return result.status


@shared_task(name="voicegate.outbox_deliver", ignore_result=True)
def outbox_deliver(item_id: int) -> str:
    """Deliver one outbox item now (a reject retry or a forward)."""
    return outbox.deliver(item_id)


@shared_task(name="voicegate.outbox_drain", ignore_result=True)
def outbox_drain() -> int:
    """Beat: deliver every due outbox item nobody holds (after any outage)."""
    return outbox.drain()


@shared_task(name="voicegate.flush_decisions", ignore_result=True)
def flush_decisions() -> int:
    """Beat: move logged decisions from Redis into the call log."""
    return gate.decisions_flush()


@shared_task(
    name="voicegate.forward_event",
    autoretry_for=(httpx.TransportError, httpx.HTTPStatusError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=5,
)
def forward_event(connection_id: int, body: str, headers: dict[str, str]) -> int:
    """Hand a webhook on, unchanged (messages queued before the outbox existed)."""
    connection = VoiceConnection.objects.filter(pk=connection_id).first()
    if connection is None or not connection.downstream_url:
        return 0
    # Through the SSRF guard: public addresses only, pinned, no redirects.
    try:
        with netguard.guarded_client(
            timeout=settings.VOICEGATE_FORWARD_TIMEOUT
        ) as client:
            response = client.post(
                connection.downstream_url, content=body.encode(), headers=headers
            )
    except netguard.UnsafeDestination as exc:
        logger.error("forward of connection %s refused: %s", connection_id, exc)
        return 0
    if response.status_code >= 500:
        response.raise_for_status()
    return response.status_code


@shared_task(name="voicegate.repeated_caller")
def repeated_caller(organisation_id: int, e164: str, count: int, window: int) -> str:
    """A number called more often than allowed: a risk signal on its visitor
    (messages queued before the default rule "Repeated calls" took this over)."""
    from voicegate import rules

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return "gone"
    actor = Actor.system_for(organisation, "voice gate")
    visitor = rules.repeated_calls_record(
        actor=actor, e164=e164, count=count, window=window
    )
    return str(visitor.public_id)


@shared_task(name="voicegate.calls_prune")
def calls_prune_task() -> dict[str, int]:
    """Beat, hourly: delete call decisions older than VOICEGATE_CALL_LOG_DAYS."""
    from voicegate import retention

    return retention.prune(retention.CALLS)


@shared_task(name="voicegate.outbox_prune")
def outbox_prune_task() -> dict[str, int]:
    """Beat, hourly: delete finished outbox items older than VOICEGATE_OUTBOX_DAYS
    (never one still pending or leased)."""
    from voicegate import retention

    return retention.prune(retention.OUTBOX)
