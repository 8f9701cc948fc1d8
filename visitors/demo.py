"""Demo visitors: chat through the real gate, signals, blacklists, IP blocks and a
review queue with work in it."""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import F
from django.utils import timezone

from trustconsole.core.actor import Actor
from visitors import gate, services
from visitors.choices import WeightLevel
from visitors.models import (
    BlockedAttempt,
    Conversation,
    Event,
    Message,
    ReviewItem,
    RiskSignal,
    Visitor,
    Widget,
)
from visitors.rules import event_record

FIRST = [
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Leo", "Grace",
    "Arthur", "Sofia", "Oscar", "Lily", "Harry", "Freya", "Jack", "Ella", "Theo",
    "Priya", "Mateo", "Chloe", "Yusuf", "Hannah", "Kenji", "Zara", "Lucas",
]  # fmt: skip
LAST = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
    "Patel", "Wright", "Walker", "Khan", "Evans", "Nguyen", "Garcia", "Müller",
]  # fmt: skip
ORDINARY = [
    "Hi, where is my order? It was due yesterday.",
    "Can I change the delivery address on order 48213?",
    "Do you ship to Ireland?",
    "Thanks, that sorted it!",
    "Is the blue one back in stock?",
    "How do I reset my password?",
    "I was charged twice for the same order.",
]
# Two different messages each, both with a flagged keyword: two High signals put
# the visitor in the danger band.
RISKY = [
    (
        "Pay the refund to a gift card instead, it's faster for me.",
        "A gift card code by email is fine, just send it today.",
    ),
    (
        "Send the money by wire transfer to this account, urgent.",
        "I need that wire transfer before five or I'll cancel everything.",
    ),
    (
        "Give me my refund or I'll come and kill you.",
        "I know where your shop is. Refund me or I'll kill you.",
    ),
]


def _phone(n: int) -> str:
    # Numbers reserved for drama and documentation: 555-01xx (US), 020 7946 0xxx (UK).
    if n % 2:
        return f"+1202555{100 + n % 100:04d}"
    return f"+44207946{n % 1000:04d}"


def seed(*, actor: Actor) -> None:
    """Idempotent: does nothing when the organisation already has visitors."""
    organisation = actor.organisation
    if Visitor.objects.filter(organisation=organisation).exists():
        return
    rng = random.Random(42)
    site = Widget.objects.create(organisation=organisation, name="Main website")
    help_centre = Widget.objects.create(organisation=organisation, name="Help centre")
    people: list[Visitor] = []
    for n in range(36):
        name = f"{FIRST[n % len(FIRST)]} {LAST[(n * 7) % len(LAST)]}"
        email = f"{name.split()[0].lower()}.{n}@mail.example"
        widget = site if n % 3 else help_centre
        answer = None
        # Distinct lines: one conversation never says the same thing twice.
        for turn, body in enumerate(rng.sample(ORDINARY, rng.randint(1, 3))):
            answer = gate.widget_message_receive(
                widget=widget,
                widget_visitor_id=f"wv-{1000 + n}",
                name=name,
                email=email,
                phone=_phone(n) if n % 4 == 0 else "",
                body=body,
                conversation_id=answer.conversation_id if answer else None,
                ip=f"198.51.100.{10 + n}" if turn == 0 else None,
            )
        people.append(Visitor.objects.get(identifiers__value=f"wv-{1000 + n}"))

    # Risky chats: flagged keywords put these visitors in the review queue.
    for n, bodies in enumerate(RISKY):
        visitor = people[n + 3]
        conversation = Conversation.objects.filter(visitor=visitor).first()
        for body in bodies:
            gate.widget_message_receive(
                widget=site,
                widget_visitor_id=f"wv-{1000 + n + 3}",
                body=body,
                conversation_id=conversation.public_id if conversation else None,
            )
    # A user report and a manual signal that expires next week.
    reported = people[10]
    services.risk_signal_add(
        actor=actor,
        visitor=reported,
        signal_type="abusive_language",
        level=WeightLevel.HIGH,
        note="Insulted an agent on the phone",
    )
    event_record(
        actor=actor,
        visitor=reported,
        kind="user_report",
        detail={"reason": "Harassing messages to staff"},
        source="console",
        conversation=Conversation.objects.filter(visitor=reported).first(),
    )
    services.risk_signal_add(
        actor=actor,
        visitor=people[12],
        signal_type="chargeback",
        level=WeightLevel.MEDIUM,
        note="Card dispute on order 50117",
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    # Some visitors in the caution band: a few low and medium signals.
    for visitor in people[14:22]:
        for _ in range(rng.randint(1, 3)):
            services.risk_signal_add(
                actor=actor,
                visitor=visitor,
                signal_type=rng.choice(["spam", "impersonation", "other"]),
                level=rng.choice([WeightLevel.LOW, WeightLevel.MEDIUM]),
                note=rng.choice(
                    [
                        "Pasted links to a lookalike shop",
                        "Used a disposable email",
                        "Asked for another customer's order",
                        "Many short-lived chats",
                    ]
                ),
            )
    # Blacklisted visitors (one with a phone number, for the call gate) and their
    # blocked attempts; whitelisted staff testers.
    for visitor, reason in (
        (people[0], "Repeated fraud attempts with stolen cards"),
        (people[8], "Threats against staff"),
    ):
        services.visitor_blacklist(actor=actor, visitor=visitor, reason=reason)
    for _ in range(3):
        gate.widget_message_receive(
            widget=site,
            widget_visitor_id="wv-1000",
            body="Why can't I get through?",
            ip="203.0.113.50",
        )
    for visitor in (people[1], people[2]):
        services.visitor_whitelist(
            actor=actor, visitor=visitor, reason="Staff tester account"
        )
    # IP blocks: a range, an IPv6 prefix and a temporary single address.
    services.ip_block_create(
        actor=actor, network="192.0.2.0/24", reason="Credential-stuffing botnet"
    )
    services.ip_block_create(
        actor=actor, network="2001:db8:dead::/48", reason="Spam relay"
    )
    services.ip_block_create(
        actor=actor,
        network="203.0.113.77",
        reason="Message flood",
        expires_at=timezone.now() + dt.timedelta(days=2),
    )
    gate.widget_message_receive(
        widget=site,
        widget_visitor_id="wv-botnet-1",
        body="Cheap followers!!!",
        ip="192.0.2.15",
    )
    _spread_in_time(organisation.pk, rng)
    assert ReviewItem.objects.filter(organisation=organisation).exists()


def _spread_in_time(organisation_id: int, rng: random.Random) -> None:
    """Demo only: move each visitor's activity back into the last three weeks so
    lists look lived-in. Everything of one visitor (messages, events, signals,
    blocked attempts, review items) moves by the same amount, so it keeps its order
    and is dated with the visit; messages are a minute apart, in the order sent."""
    now = timezone.now()
    for visitor in Visitor.objects.filter(organisation_id=organisation_id):
        back = dt.timedelta(hours=rng.randint(1, 21 * 24))
        for model in (Event, BlockedAttempt, ReviewItem):
            model.objects.filter(visitor=visitor).update(
                created_at=F("created_at") - back
            )
        signals = RiskSignal.objects.filter(visitor=visitor)
        signals.update(created_at=F("created_at") - back)
        signals.filter(ended_at__isnull=False).update(ended_at=F("ended_at") - back)
        last_seen = now - back
        for conversation in Conversation.objects.filter(visitor=visitor):
            messages = list(
                Message.objects.filter(conversation=conversation).order_by(
                    "created_at", "id"
                )
            )
            start = now - back - dt.timedelta(minutes=len(messages))
            for i, message in enumerate(messages):
                Message.objects.filter(pk=message.pk).update(
                    created_at=start + dt.timedelta(minutes=i)
                )
            Conversation.objects.filter(pk=conversation.pk).update(
                created_at=start - dt.timedelta(minutes=1),
                last_message_at=start + dt.timedelta(minutes=max(len(messages) - 1, 0)),
            )
        Visitor.objects.filter(pk=visitor.pk).update(
            created_at=last_seen - dt.timedelta(days=3), last_seen_at=last_seen
        )
