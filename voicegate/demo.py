"""Demo voice connections, a block list, a week of calls and the outbound policy."""

from __future__ import annotations

import base64
import datetime as dt
import random
import uuid

from django.utils import timezone

from trustconsole.core.actor import Actor
from visitors.selectors import phone_status_map
from voicegate import services
from voicegate.choices import Decision, Provider, Reason
from voicegate.models import CallDecision, VoiceConnection

# A public key only: the demo cannot sign as Telnyx, real traffic needs the
# account's own key from the Mission Control Portal.
DEMO_TELNYX_KEY = base64.b64encode(bytes(range(32))).decode()


def seed(*, actor: Actor) -> None:
    """Connections, blocked numbers and calls for the demo organisation (idempotent)."""
    from voicegate.policy import demo as policy_demo

    policy_demo.seed(actor=actor)
    org = actor.organisation
    if VoiceConnection.objects.filter(organisation=org).exists():
        return
    main = services.connection_create(
        actor=actor,
        name="Main line (Telnyx)",
        provider=Provider.TELNYX_CALL_CONTROL,
        secret=DEMO_TELNYX_KEY,
        api_key="KEY_demo_not_real",
        downstream_url="https://voice.example.com/telnyx",
    )
    services.connection_create(
        actor=actor,
        name="Support desk (Twilio)",
        provider=Provider.TWILIO,
        secret="demo-twilio-auth-token",
        fail_mode="closed",
    )
    services.connection_create(
        actor=actor,
        name="Office PBX",
        provider=Provider.GENERIC,
        secret="demo-pbx-shared-token-0123",
    )
    for number, reason in (
        ("+14155550199", "Robocalls every morning"),
        ("+442079460958", "Threatened an agent"),
        ("+15125550143", "Known fraud ring"),
    ):
        services.blocked_number_add(actor=actor, number=number, reason=reason)
    services.voice_settings_update(actor=actor, repeated_call_threshold=5)
    _calls(org_id=org.pk, connection=main)


def _calls(*, org_id: int, connection: VoiceConnection) -> None:
    rng = random.Random(42)
    listed = phone_status_map(organisation_id=org_id)
    blacklisted = [(n, v) for n, (s, v) in listed.items() if s == "blacklisted"]
    whitelisted = [(n, v) for n, (s, v) in listed.items() if s == "whitelisted"]
    now = timezone.now()
    rows = []
    for _ in range(60):
        roll = rng.random()
        visitor_id = None
        if roll < 0.2 and blacklisted:
            caller, visitor_id = rng.choice(blacklisted)
            decision, reason = Decision.REJECT, Reason.BLACKLISTED_VISITOR
        elif roll < 0.3:
            caller = "+14155550199"
            decision, reason = Decision.REJECT, Reason.BLOCK_LIST
        elif roll < 0.4 and whitelisted:
            caller, visitor_id = rng.choice(whitelisted)
            decision, reason = Decision.ALLOW, Reason.WHITELISTED
        elif roll < 0.45:
            caller = "anonymous"
            decision, reason = Decision.ALLOW, Reason.ANONYMOUS
        else:
            caller = f"+1628555{rng.randrange(100, 200):04d}"
            decision, reason = Decision.ALLOW, Reason.NOT_LISTED
        rows.append(
            CallDecision(
                organisation_id=org_id,
                connection=connection,
                provider=connection.provider,
                event_id=str(uuid.uuid4()),
                call_id="v3:" + uuid.uuid4().hex,
                caller=caller,
                caller_e164=caller if caller.startswith("+") else "",
                callee="+14155550100",
                decision=decision,
                reason=reason,
                visitor_id=visitor_id,
                latency_us=rng.randrange(180, 900),
                command_status="sent" if decision == Decision.REJECT else "",
            )
        )
    CallDecision.objects.bulk_create(rows)
    for i, row in enumerate(rows):  # spread over the last week, newest last
        when = now - dt.timedelta(minutes=(len(rows) - i) * 163)
        CallDecision.objects.filter(pk=row.pk).update(created_at=when)
