"""The chat widget gate: every widget message passes here before the Inbox.

The decision comes from the decision core's in-memory state (`trustconsole.policy`,
one cache read per message, no query): a blacklisted visitor, or a message from a
blocked IP/CIDR (unless a whitelisted visitor sends it), gets the same accepted
answer as any message (silently blocked): nothing is stored in a conversation, and
the attempt is counted on the visitor's profile with the decision's explanation.
Other messages are stored and run through the organisation's chat-message rules
(`trustconsole.rules`; the default rule set flags keywords and message velocity).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.lib import onestatement
from trustconsole.lib.clientip import client_ip as client_ip  # the gate's address
from trustconsole.policy import decide as core
from trustconsole.policy import state as core_state
from trustconsole.policy.state import OrgState
from trustconsole.policy.vocabulary import Channel as CoreChannel
from trustconsole.policy.vocabulary import Step
from trustconsole.rules import hooks as rule_hooks
from trustconsole.rules import hooks_chat as chat_rules
from trustconsole.rules import windows
from trustconsole.rules.facts import RuleChannel
from visitors import gate_store, services
from visitors.choices import (
    Channel,
    ConversationStatus,
    IdentifierKind,
    Sender,
)
from visitors.models import (
    Conversation,
    Message,
    Widget,
)

VELOCITY_FACT = "visitor.messages_recent"


@dataclass(frozen=True)
class GateAnswer:
    """What the widget is told, plus (never sent) whether it was blocked."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    blocked: bool = False


def _attempt_record(
    *,
    organisation_id: int,
    visitor_id: int | None,
    verdict: core.Verdict,
    ip: str | None,
    widget: Widget,
) -> GateAnswer:
    """Count a silently blocked message on the visitor (with the decision's
    explanation) and answer the widget as if it had been stored: one statement
    on PostgreSQL (`gate_store.attempt_count`), the ORM's two writes elsewhere."""
    entry = verdict.entry
    ip_block_id = entry.pk if entry is not None and entry.kind == "ip_block" else None
    if onestatement.available():
        gate_store.attempt_count(
            organisation_id=organisation_id,
            visitor_id=visitor_id,
            **_attempt_fields(verdict, ip, ip_block_id, widget),
        )
    else:
        with transaction.atomic():
            services.blocked_attempt_record(
                visitor=None,
                visitor_id=visitor_id,
                organisation_id=organisation_id,
                **_attempt_fields(verdict, ip, ip_block_id, widget),
            )
    return _blocked_answer()


def _attempt_fields(
    verdict: core.Verdict, ip: str | None, ip_block_id: int | None, widget: Widget
) -> dict[str, Any]:
    return {
        "channel": Channel.CHAT,
        "reason": verdict.reason,
        "ip": ip,
        "ip_block_id": ip_block_id,
        "detail": {"widget": widget.name},
        "explanation": verdict.explanation(),
    }


def _blocked_answer() -> GateAnswer:
    # Random ids shaped like real ones: the widget cannot tell it was blocked.
    return GateAnswer(
        conversation_id=uuid.uuid4(), message_id=uuid.uuid4(), blocked=True
    )


def widget_message_receive(  # noqa: PLR0913
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
    The decision and, when they read nothing of the visitor's row, the rules run
    in memory first; then, on PostgreSQL, a blocked message or a known visitor's
    message is one statement (`gate_store`). Anything else (a new visitor,
    something new about one, rules that read the visitor or have effects to
    apply, another database) takes the ORM path in one transaction.
    """
    organisation = widget.organisation
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
    state, messages_recent = chat_state(organisation, pairs[0][1])
    verdict = chat_decide(organisation.pk, pairs, state=state)
    if not verdict.allowed and verdict.step == Step.BLACKLIST:
        # Any identifier of a blacklisted visitor blocks, whoever claims it; the
        # attempt is counted on that visitor (known from memory, no lookup).
        return _attempt_record(
            organisation_id=organisation.pk,
            visitor_id=verdict.visitor_id,
            verdict=verdict,
            ip=ip,
            widget=widget,
        )
    message = Incoming(widget, pairs, body, name, ip, conversation_id, now)
    early = chat_rules.chat_message_before_visitor(
        organisation_id=organisation.pk,
        verdict=verdict,
        body=body,
        widget=widget.name,
        pairs=pairs,
        messages_recent=messages_recent,
    )
    if early is not None:
        answer = _one_statement(message, early)
        if answer is not None:
            return answer
    with transaction.atomic():
        return _receive(
            message, verdict=verdict, messages_recent=messages_recent, rules=early
        )


@dataclass(frozen=True)
class Incoming:
    """One widget message, its identifiers normalised."""

    widget: Widget
    pairs: list[tuple[str, str]]
    body: str
    name: str
    ip: str | None
    conversation_id: uuid.UUID | None
    now: dt.datetime


def _one_statement(message: Incoming, rules: rule_hooks.ChatRules) -> GateAnswer | None:
    """A blocked message (on any database: the attempt counter's writes only),
    or a known visitor's (one statement, PostgreSQL); None when the statement
    found nothing to do (nothing was written)."""
    organisation_id = message.widget.organisation_id
    verdict = rules.verdict
    if not verdict.allowed:  # an IP block or a rule: counted on whoever sent it
        entry = verdict.entry
        counted = gate_store.attempt_count(
            organisation_id=organisation_id,
            widget_id=message.pairs[0][1],
            **_attempt_fields(
                verdict,
                message.ip,
                entry.pk if entry is not None and entry.kind == "ip_block" else None,
                message.widget,
            ),
        )
        if counted is None:
            return None
        visitor_pk, label = counted
        answer = _blocked_answer()
    else:
        if not onestatement.available() or chat_rules.chat_acts(rules):
            return None  # the ORM path (signals and flags need the rows)
        stored = gate_store.message_store(
            organisation_id=organisation_id,
            widget_pk=message.widget.pk,
            pairs=message.pairs,
            name=message.name,
            body=message.body,
            ip=message.ip,
            conversation_id=message.conversation_id,
            now=message.now,
        )
        if stored is None:  # a first message: the visitor created with it
            stored = gate_store.visitor_create_store(
                organisation_id=organisation_id,
                widget_pk=message.widget.pk,
                actor_label=Actor.system_for(
                    message.widget.organisation, f"chat widget {message.widget.name}"
                ).label,
                pairs=message.pairs,
                name=message.name,
                body=message.body,
                ip=message.ip,
                now=message.now,
            )
        if stored is None:
            return None
        visitor_pk, label = stored.visitor_id, stored.author
        answer = GateAnswer(
            conversation_id=stored.conversation_id, message_id=stored.message_id
        )
    if visitor_pk is not None:
        rule_hooks.chat_matches_record(
            organisation_id=organisation_id,
            rules=rules,
            visitor_pk=visitor_pk,
            subject_label=label,
            body=message.body,
        )
    return answer


def _receive(
    message: Incoming,
    *,
    verdict: core.Verdict,
    messages_recent: int | None,
    rules: rule_hooks.ChatRules | None,
) -> GateAnswer:
    """The ORM path (in the caller's transaction): the visitor identified (or
    created), the rules applied after the identity steps unless `rules` were
    evaluated already, the message stored, the live rules' effects applied."""
    widget, now = message.widget, message.now
    organisation = widget.organisation
    actor = Actor.system_for(organisation, f"chat widget {widget.name}")
    visitor = services.visitor_identify(
        actor=actor, pairs=message.pairs, name=message.name, seen_at=now
    )
    if rules is None:
        # The organisation's chat-message rules (rules as data) after the
        # identity steps; a live rule may block, shadow rules are only listed
        # and counted.
        rules = rule_hooks.chat_message(
            organisation_id=organisation.pk,
            verdict=verdict,
            visitor=visitor,
            body=message.body,
            widget=widget.name,
            pairs=message.pairs,
            is_new=getattr(visitor, "upsert_created", False),
            messages_recent=messages_recent,
        )
    else:
        rule_hooks.chat_matches_record(
            organisation_id=organisation.pk,
            rules=rules,
            visitor_pk=visitor.pk,
            subject_label=visitor.display_name,
            body=message.body,
        )
    verdict = rules.verdict
    if not verdict.allowed:  # an IP block or a rule: counted on whoever sent it
        return _attempt_record(
            organisation_id=organisation.pk,
            visitor_id=visitor.pk,
            verdict=verdict,
            ip=message.ip,
            widget=widget,
        )
    conversation = _conversation_continue(
        organisation_id=organisation.pk,
        visitor_id=visitor.pk,
        widget_id=widget.pk,
        public_id=message.conversation_id,
        now=now,
    )
    if conversation is None:
        conversation = Conversation.objects.create(
            organisation=organisation,
            visitor=visitor,
            widget=widget,
            created_at=now,
            last_message_at=now,
            message_count=1,
        )
    stored = Message.objects.create(
        organisation=organisation,
        conversation=conversation,
        sender=Sender.VISITOR,
        author=visitor.display_name[:200],
        body=message.body,
        ip=message.ip,
        created_at=now,
    )
    # The live rules' signals, flags and events: the default rule set's flagged
    # keywords and message velocity among them (`trustconsole.rules.defaults`).
    rule_hooks.chat_effects(
        actor=actor,
        visitor=visitor,
        conversation=conversation,
        rules=rules,
        message=stored,
    )
    return GateAnswer(
        conversation_id=conversation.public_id, message_id=stored.public_id
    )


def _conversation_continue(
    *,
    organisation_id: int,
    visitor_id: int,
    widget_id: int,
    public_id: uuid.UUID | None,
    now: dt.datetime,
) -> Conversation | None:
    """The visitor's conversation with this id (without one: the conversation
    from this widget that another first message of the visitor started less than
    `gate_store.JOIN_SECONDS` ago), its count and time moved on in one statement
    (`UPDATE … RETURNING`); None when there is none to continue (no id and no
    such conversation, or the id of another visitor's: a new one starts)."""
    q = connection.ops.quote_name
    table = q(Conversation._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    if public_id is None:
        which = (
            f"id = (SELECT id FROM {table} WHERE organisation_id = %s "
            "AND visitor_id = %s AND widget_id = %s AND created_at >= %s "
            "ORDER BY created_at DESC, id DESC LIMIT 1)"
        )
        params = [
            organisation_id,
            visitor_id,
            widget_id,
            adapt(now - gate_store.JOIN_SECONDS),
        ]
    else:
        field = Conversation._meta.get_field("public_id")
        which = "organisation_id = %s AND public_id = %s AND visitor_id = %s"
        params = [
            organisation_id,
            field.get_db_prep_value(public_id, connection),
            visitor_id,
        ]
    found = list(
        Conversation.objects.raw(
            f"UPDATE {table} SET last_message_at = %s, "
            f"message_count = message_count + 1, status = %s WHERE {which} "
            "RETURNING id, public_id, organisation_id, visitor_id, widget_id",
            [adapt(now), ConversationStatus.OPEN.value, *params],
        )
    )
    return found[0] if found else None


def chat_state(organisation: Any, widget_id: str) -> tuple[OrgState, int | None]:
    """The decision core's state and, when a chat-message rule reads
    `visitor.messages_recent`, the message velocity count of this widget visitor
    with this message counted: one shared-cache round trip for both (the
    version read and the window's buckets in one pipeline).

    The count is kept per widget visitor id (the visitor's browser). Whether a
    rule reads it is known from the rules this process compiled last; the first
    message after a rule starts reading it begins the count.
    """
    organisation_id = organisation.pk
    known = core_state.state_get(organisation_id)
    rules = known.rule_sets.get(RuleChannel.CHAT_MESSAGE) if known is not None else None
    if rules is not None and VELOCITY_FACT not in getattr(rules, "fields", ()):
        return core_state.current(organisation_id), None
    version_key = core_state.version_name(organisation_id)
    count, found = windows.hit_and_count_reading(
        f"{organisation.public_id}:chat:{widget_id}",
        settings.VISITORS_VELOCITY_WINDOW,
        (version_key,),
    )
    version = core_state.UNKNOWN if count is None else int(found.get(version_key) or 0)
    return core_state.state_for(organisation_id, version), count or 0


def chat_decide(
    organisation_id: int,
    pairs: list[tuple[str, str]],
    *,
    state: OrgState | None = None,
) -> core.Verdict:
    """The decision core's verdict for a message with these identifiers (in
    `state`, else the organisation's current state)."""
    found: dict[str, list[str]] = {}
    for kind, value in pairs:
        found.setdefault(kind, []).append(value)
    ids = core.Identities(
        phones=tuple(found.get(IdentifierKind.PHONE, ())),
        emails=tuple(found.get(IdentifierKind.EMAIL, ())),
        widget_ids=tuple(found.get(IdentifierKind.WIDGET, ())),
        ips=tuple(found.get(IdentifierKind.IP, ())),
    )
    if state is None:
        state = core_state.current(organisation_id)
    return core.decide(state, CoreChannel.CHAT, ids)
