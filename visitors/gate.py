"""The chat widget gate: every widget message passes here before the Inbox.

A blacklisted visitor, or a message from a blocked IP/CIDR, gets the same accepted
answer as any message (silently blocked): nothing is stored in a conversation, and
the attempt is counted on the visitor's profile. Other messages are stored and run
through the chat rules (flagged keyword, message velocity).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.lib.clientip import client_ip as client_ip  # the gate's address
from visitors import selectors, services
from visitors.choices import (
    BlockReason,
    Channel,
    IdentifierKind,
    Sender,
    SignalSource,
    VisitorStatus,
)
from visitors.models import (
    Conversation,
    Event,
    Message,
    Visitor,
    VisitorIdentifier,
    Widget,
)
from visitors.rules import event_record
from visitors.widget_rules import FLAGGED_KEYWORD, MESSAGE_VELOCITY


@dataclass(frozen=True)
class GateAnswer:
    """What the widget is told, plus (never sent) whether it was blocked."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    blocked: bool = False


def _owners(organisation_id: int, pairs: list[tuple[str, str]]) -> dict[str, Visitor]:
    """Kind → the visitor owning the given identifier of that kind."""
    query = services._identifier_q(pairs)
    found: dict[str, Visitor] = {}
    for identifier in VisitorIdentifier.objects.filter(
        query, organisation_id=organisation_id
    ).select_related("visitor"):
        found[identifier.kind] = identifier.visitor
    return found


def _identify(
    *,
    actor: Actor,
    owners: dict[str, Visitor],
    pairs: list[tuple[str, str]],
    name: str,
    now: dt.datetime,
) -> Visitor:
    """The widget's visitor: by widget id, else email, else phone, else new.

    Identifiers that another visitor already owns are left with that visitor
    (a shared office IP, an email typed by someone else), so the gate never fails
    on a conflict.
    """
    for kind in (IdentifierKind.WIDGET, IdentifierKind.EMAIL, IdentifierKind.PHONE):
        if kind in owners:
            visitor = owners[kind]
            break
    else:
        visitor = None
    taken = {
        (kind, value)
        for kind, value in pairs
        if kind in owners and (visitor is None or owners[kind].pk != visitor.pk)
    }
    free = [pair for pair in pairs if pair not in taken]
    return services.visitor_upsert(
        actor=actor,
        name=name if visitor is None or not visitor.name else "",
        **_kwargs(free),
        seen_at=now,
    )


def _kwargs(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, value in pairs:
        out.setdefault(services.IDENTIFIER_FIELDS[kind], []).append(value)
    return out


def _blocked(
    *,
    visitor: Visitor,
    reason: str,
    ip: str | None,
    ip_block: object = None,
    widget: Widget,
) -> GateAnswer:
    services.blocked_attempt_record(
        visitor=visitor,
        organisation_id=visitor.organisation_id,
        channel=Channel.CHAT,
        reason=reason,
        ip=ip,
        ip_block=ip_block,
        detail={"widget": widget.name},
    )
    # Random ids shaped like real ones: the widget cannot tell it was blocked.
    return GateAnswer(
        conversation_id=uuid.uuid4(), message_id=uuid.uuid4(), blocked=True
    )


@transaction.atomic
def widget_message_receive(
    *,
    widget: Widget,
    widget_visitor_id: str,
    body: str,
    name: str = "",
    email: str = "",
    phone: str = "",
    conversation_id: uuid.UUID | None = None,
    ip: str | None = None,
) -> GateAnswer:
    """Gate one widget message: block silently, or store it and apply the rules.

    Identifiers must already be valid (the API validates them and answers 400).
    """
    organisation = widget.organisation
    actor = Actor.system_for(organisation, f"chat widget {widget.name}")
    now = timezone.now()
    pairs = [
        (str(IdentifierKind.WIDGET), services.normalise_widget_id(widget_visitor_id))
    ]
    if email:
        pairs.append((str(IdentifierKind.EMAIL), services.normalise_email(email)))
    if phone:
        pairs.append((str(IdentifierKind.PHONE), services.normalise_phone(phone)))
    if ip:
        pairs.append((str(IdentifierKind.IP), services.normalise_ip(ip)))
    owners = _owners(organisation.pk, pairs)
    # Any identifier of a blacklisted visitor blocks, whoever claims it.
    for kind in (IdentifierKind.WIDGET, IdentifierKind.EMAIL, IdentifierKind.PHONE):
        owner = owners.get(kind)
        if owner is not None and owner.status == VisitorStatus.BLACKLISTED:
            return _blocked(
                visitor=owner, reason=BlockReason.BLACKLISTED, ip=ip, widget=widget
            )
    visitor = _identify(actor=actor, owners=owners, pairs=pairs, name=name, now=now)
    block = (
        selectors.ip_block_match(organisation_id=organisation.pk, ip=ip) if ip else None
    )
    if block is not None:
        return _blocked(
            visitor=visitor,
            reason=BlockReason.IP_BLOCK,
            ip=ip,
            ip_block=block,
            widget=widget,
        )
    conversation = None
    if conversation_id is not None:
        conversation = Conversation.objects.filter(
            organisation=organisation, public_id=conversation_id, visitor=visitor
        ).first()
    if conversation is None:
        conversation = Conversation.objects.create(
            organisation=organisation, visitor=visitor, widget=widget, created_at=now
        )
    message = Message.objects.create(
        organisation=organisation,
        conversation=conversation,
        sender=Sender.VISITOR,
        author=visitor.display_name[:200],
        body=body,
        ip=ip,
        created_at=now,
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=now, message_count=F("message_count") + 1, status="open"
    )
    _apply_chat_rules(
        actor=actor,
        visitor=visitor,
        conversation=conversation,
        message=message,
        now=now,
    )
    return GateAnswer(
        conversation_id=conversation.public_id, message_id=message.public_id
    )


def _apply_chat_rules(
    *,
    actor: Actor,
    visitor: Visitor,
    conversation: Conversation,
    message: Message,
    now: dt.datetime,
) -> None:
    text = message.body.lower()
    for keyword in settings.VISITORS_FLAGGED_KEYWORDS:
        if keyword.lower() in text:
            event_record(
                actor=actor,
                visitor=visitor,
                kind=FLAGGED_KEYWORD.kind,
                detail={"keyword": keyword, "message_id": str(message.public_id)},
                source=SignalSource.WIDGET,
                conversation=conversation,
            )
            break
    window_start = now - dt.timedelta(seconds=settings.VISITORS_VELOCITY_WINDOW)
    recent = Message.objects.filter(
        conversation__visitor=visitor,
        sender=Sender.VISITOR,
        created_at__gte=window_start,
    ).count()
    if recent > settings.VISITORS_VELOCITY_MAX:
        already = Event.objects.filter(
            visitor=visitor, kind=MESSAGE_VELOCITY.kind, created_at__gte=window_start
        ).exists()
        if not already:
            event_record(
                actor=actor,
                visitor=visitor,
                kind=MESSAGE_VELOCITY.kind,
                detail={
                    "messages": recent,
                    "window_seconds": settings.VISITORS_VELOCITY_WINDOW,
                },
                source=SignalSource.WIDGET,
                conversation=conversation,
            )
