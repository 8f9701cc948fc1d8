"""The provider's Number Reputation webhooks: `/hooks/reputation/<organisation>/`.

One URL per organisation (its public id). A delivery is verified like every Telnyx
webhook (Ed25519 over `timestamp|body`, `telnyx-signature-ed25519` and
`telnyx-timestamp`, at most 300 s old) with the key of Settings → Remediation, or
else with the public key of one of the organisation's Telnyx voice connections
(Telnyx signs every webhook of an account with the same key). Each event id is
applied once; a repeat answers 200 "duplicate", so the provider stops retrying.

    number_reputation.number.flagged        the number becomes elevated
    number_reputation.number.removed        no longer monitored, with its reason
    number_reputation.external_verification.status_changed   verification status
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from remediation import monitoring, selectors
from remediation.choices import (
    ELEVATED_RISKS,
    EVENT_FLAGGED,
    EVENT_REMOVED,
    EVENT_VERIFICATION,
    ObservationSource,
    SpamRisk,
)
from remediation.models import Enterprise, OwnedNumber, ReputationEvent
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.core.services import audit_record
from voicegate.signatures import telnyx_verify

logger = logging.getLogger(__name__)

SYSTEM = "reputation webhook"
TELNYX_CONNECTIONS = ("telnyx_call_control", "telnyx_texml")


def public_keys(organisation: Organisation) -> list[str]:
    """The keys a delivery may be signed with: the configured one first."""
    from voicegate.models import VoiceConnection

    keys = []
    configured = selectors.settings_for(organisation=organisation).telnyx_public_key
    if configured:
        keys.append(configured)
    keys += [
        key
        for key in VoiceConnection.objects.filter(
            organisation=organisation, provider__in=TELNYX_CONNECTIONS
        ).values_list("secret", flat=True)
        if key and key not in keys
    ]
    return keys


def _error(status: int, detail: str, **field: str) -> JsonResponse:
    body: dict[str, Any] = {"detail": detail}
    if field:
        body["errors"] = [field]
    return JsonResponse(body, status=status)


@csrf_exempt
def reputation_webhook(request: HttpRequest, organisation_id: str) -> JsonResponse:
    """Verify, deduplicate and apply one Number Reputation event."""
    if request.method != "POST":
        response = _error(405, "Use POST.")
        response["Allow"] = "POST"
        return response
    try:
        key = uuid.UUID(organisation_id)
    except ValueError:
        return _error(404, "Unknown webhook address.")
    organisation = Organisation.objects.filter(public_id=key).first()
    if organisation is None:
        return _error(404, "Unknown webhook address.")
    body = request.body
    signature = request.headers.get("telnyx-signature-ed25519")
    timestamp = request.headers.get("telnyx-timestamp")
    keys = public_keys(organisation)
    problem = "no Telnyx public key is configured" if not keys else None
    for public_key in keys:
        problem = telnyx_verify(
            public_key_b64=public_key,
            signature_b64=signature,
            timestamp=timestamp,
            body=body,
        )
        if problem is None:
            break
    if problem is not None:
        logger.warning(
            "reputation webhook refused for %s: %s", organisation.pk, problem
        )
        status = 401 if problem.startswith("missing") else 403
        return _error(status, "Signature verification failed.")
    try:
        document = json.loads(body)
        data = document["data"]
        event_id = str(data["id"])
        event_type = str(data["event_type"])
        payload = data.get("payload") or {}
        if not isinstance(payload, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _error(
            400,
            "Not a Telnyx webhook event.",
            field="data",
            reason="expected data.id, data.event_type and an object data.payload",
        )
    outcome = event_receive(
        organisation=organisation,
        event_id=event_id,
        event_type=event_type,
        payload=payload,
        occurred_at=data.get("occurred_at"),
    )
    return JsonResponse({"status": outcome})


def event_receive(
    *,
    organisation: Organisation,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    occurred_at: Any = None,
) -> str:
    """Record the event once and apply it: 'processed', 'ignored' or 'duplicate'."""
    phone = str(payload.get("phone_number") or "")[:32]
    try:
        with transaction.atomic():
            event = ReputationEvent.objects.create(
                organisation=organisation,
                event_id=event_id[:100],
                event_type=event_type[:100],
                phone_number=phone,
                payload=payload,
                occurred_at=monitoring.timestamp_parse(occurred_at),
            )
            outcome, words = _apply(organisation, event, payload)
            event.outcome = words
            event.save(update_fields=["outcome"])
    except IntegrityError:
        return "duplicate"
    return outcome


def _number(organisation: Organisation, payload: dict[str, Any]) -> OwnedNumber | None:
    phone = payload.get("phone_number")
    if not isinstance(phone, str):
        return None
    numbers = OwnedNumber.objects.filter(
        organisation=organisation, e164=phone
    ).select_related("enterprise")
    wanted = str(payload.get("enterprise_id") or "")
    if wanted:
        for number in numbers:
            if number.enterprise.upstream_id == wanted:
                return number
        return None
    return numbers.first()


def _apply(
    organisation: Organisation, event: ReputationEvent, payload: dict[str, Any]
) -> tuple[str, str]:
    number = _number(organisation, payload)
    if event.event_type not in (EVENT_FLAGGED, EVENT_REMOVED, EVENT_VERIFICATION):
        return "ignored", f"Event type {event.event_type} is not handled."
    if number is None:
        return "ignored", "No enterprise number matches the event."
    enterprise: Enterprise = number.enterprise
    actor = Actor.system_for(organisation, SYSTEM)
    now = timezone.now()
    if event.event_type == EVENT_FLAGGED:
        data = payload.get("reputation_data")
        data = dict(data) if isinstance(data, dict) else {}
        for name in ("spam_risk", "spam_category", *monitoring.SCORE_FIELDS):
            if name in payload and name not in data:
                data[name] = payload[name]
        # Flagged means elevated: a missing or low risk is read as high.
        if data.get("spam_risk") not in ELEVATED_RISKS:
            data["spam_risk"] = SpamRisk.HIGH
        data.setdefault("last_refreshed_at", payload.get("flagged_at"))
        changes = monitoring.apply_numbers(
            enterprise=enterprise,
            items=[{"phone_number": number.e164, "reputation_data": data}],
            source=ObservationSource.WEBHOOK,
            now=now,
        )
        words = f"{number.e164} flagged with {data['spam_risk']} spam risk" + (
            f" ({data['spam_category']})" if data.get("spam_category") else ""
        )
        if not changes.moves:
            audit_record(
                actor=actor,
                action="reputation.number_flagged",
                target=enterprise,
                after={"number": number.e164, "spam_risk": data["spam_risk"]},
                reason=f"The provider reports {words}.",
            )
        return "processed", words + "."
    if event.event_type == EVENT_REMOVED:
        reason = str(payload.get("removal_reason") or "removed by the provider")[:100]
        before = {"number": number.e164, "monitoring": "registered"}
        number.registered_at = None
        number.monitored = False
        number.removed_at = monitoring.timestamp_parse(payload.get("removed_at")) or now
        number.removed_reason = reason
        if payload.get("ownership_status"):
            number.verification_status = str(payload["ownership_status"])[:64]
        number.save(
            update_fields=[
                "registered_at",
                "monitored",
                "removed_at",
                "removed_reason",
                "verification_status",
            ]
        )
        audit_record(
            actor=actor,
            action="reputation.number_removed",
            target=enterprise,
            before=before,
            after={"number": number.e164, "monitoring": "removed", "reason": reason},
            reason=f"The provider stopped monitoring {number.e164}: {reason}.",
        )
        return "processed", f"{number.e164} is no longer monitored ({reason})."
    status = str(
        payload.get("status")
        or payload.get("verification_status")
        or payload.get("ownership_status")
        or "changed"
    )[:64]
    before_status = number.verification_status
    number.verification_status = status
    number.save(update_fields=["verification_status"])
    audit_record(
        actor=actor,
        action="reputation.verification_status",
        target=enterprise,
        before={"number": number.e164, "verification_status": before_status},
        after={"number": number.e164, "verification_status": status},
        reason=f"External verification of {number.e164} is now {status}.",
    )
    return "processed", f"External verification of {number.e164}: {status}."
