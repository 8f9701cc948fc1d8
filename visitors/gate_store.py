"""The chat gate's writes as single statements, on PostgreSQL (`visitors.gate`).

A known visitor's message is one call of a PL/pgSQL function (its plans kept
for the session): the visitor touched (`last_seen_at`), their conversation
moved on (or a new one started), the message stored, and the ids the widget is
answered with returned. A blocked message is one statement too:
the attempt stored and counted on the visitor. Each runs in autocommit (one round
trip, committed on its own; `trustconsole.lib.onestatement`). When a statement
finds nothing to do (the visitor is not known, or the message brings something
new about them) it writes nothing and returns None: the gate then takes the ORM
path, which is also the only path on other databases.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction

from trustconsole.core.models import AuditEntry
from trustconsole.lib import onestatement as one
from trustconsole.lib.onestatement import Sql
from visitors.choices import ConversationStatus, IdentifierKind, Sender
from visitors.models import (
    BlockedAttempt,
    Conversation,
    Message,
    Visitor,
    VisitorIdentifier,
)

# A message without a conversation id continues the visitor's conversation from
# the same widget that started this recently: a widget that sends its second
# message before the answer to its first came back (two first messages at once)
# writes one conversation, not two. Later, no id starts a new conversation.
JOIN_SECONDS = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class Stored:
    """What one statement stored for a known visitor's message."""

    visitor_id: int
    author: str  # the visitor's display name, as the message carries it
    conversation_id: uuid.UUID
    message_id: uuid.UUID


def _author() -> str:
    """The visitor's display name (`Visitor.display_name`), in SQL."""
    return (
        "LEFT(COALESCE(NULLIF(name, ''), 'Visitor ' || LEFT(public_id::text, 8)), "
        "200) AS author"
    )


def _owner(organisation_id: int, widget_id: str) -> tuple[str, list[Any]]:
    """The id of the visitor owning this widget id, as a subquery."""
    return (
        f"(SELECT visitor_id FROM {one.table(VisitorIdentifier)} "
        "WHERE organisation_id = %s AND kind = %s AND value = %s)",
        [organisation_id, IdentifierKind.WIDGET.value, widget_id],
    )


def message_store(  # noqa: PLR0913
    *,
    organisation_id: int,
    widget_pk: int,
    pairs: list[tuple[str, str]],
    name: str,
    body: str,
    ip: str | None,
    conversation_id: uuid.UUID | None,
    now: dt.datetime,
) -> Stored | None:
    """Store a known visitor's message in one call, or None (nothing written)
    unless every identifier it carries is already owned (by this visitor, or
    another one who keeps it) and there is no name to give: the cases
    `services.visitor_identify` touches in one statement too.

    The writes are the PL/pgSQL function `visitors_chat_message` (migration
    0009): the visitor's `last_seen_at` moved on, the conversation the widget
    names (theirs), or without an id the one another first message of this
    visitor just started (`JOIN_SECONDS`), moved on and reopened, else a new
    one, then the message; one round trip, and its statements' plans are kept
    for the session instead of being made again for every message. Every value
    is given here, each prepared as the ORM would for its column.
    """
    widget_id = next(v for k, v in pairs if k == IdentifierKind.WIDGET)
    distinct = sorted(set(pairs))
    row = one.fetch_one(
        "SELECT * FROM visitors_chat_message(%s::bigint, %s::bigint, %s::text, "
        "%s::text[], %s::text[], %s::text, %s::timestamptz, %s::uuid, "
        "%s::timestamptz, %s::text, %s::uuid, %s::uuid, %s::text, %s::text, %s::inet)",
        [
            organisation_id,
            widget_pk,
            widget_id,
            [kind for kind, _ in distinct],
            [value for _, value in distinct],
            name.strip(),
            one.param(Visitor, "last_seen_at", now),
            one.param(Conversation, "public_id", conversation_id),
            one.param(Conversation, "created_at", now - JOIN_SECONDS),
            ConversationStatus.OPEN.value,
            one.param(Conversation, "public_id", uuid.uuid4()),
            one.param(Message, "public_id", uuid.uuid4()),
            Sender.VISITOR.value,
            one.param(Message, "body", body),
            one.param(Message, "ip", ip),
        ],
    )
    if row is None or row[0] is None:
        return None
    return Stored(
        visitor_id=row[0],
        author=row[1],
        conversation_id=_uuid(row[2]),
        message_id=_uuid(row[3]),
    )


def visitor_create_store(  # noqa: PLR0913
    *,
    organisation_id: int,
    widget_pk: int,
    actor_label: str,
    pairs: list[tuple[str, str]],
    name: str,
    body: str,
    ip: str | None,
    now: dt.datetime,
) -> Stored | None:
    """Create the visitor of a first message and store it, in one statement:
    the visitor, the identifiers nobody owns yet (an IP another visitor owns
    stays theirs), the audit entry `services.visitor_identify` writes for a new
    visitor, a new conversation and the message. None (nothing written) when the
    widget id, email or phone already has an owner, or when another message of
    the same new visitor won the race for an identifier (the unique index
    refuses the statement as a whole): the ORM path then finds the owner.
    """
    name = name.strip()[:200]
    public_id = uuid.uuid4()
    label = (name or f"Visitor {str(public_id)[:8]}")[:200]
    distinct = list(dict.fromkeys(pairs))
    given = ", ".join(["(%s, %s, %s)"] * len(distinct))
    any_pair = " OR ".join(
        ["(organisation_id = %s AND kind = %s AND value = %s)"] * len(distinct)
    )
    params: list[Any] = []
    for order, (kind, value) in enumerate(distinct):
        params += [order, kind, value]
    for kind, value in distinct:
        params += [organisation_id, kind, value]
    owning = ", ".join(
        f"'{k.value}'"
        for k in (IdentifierKind.WIDGET, IdentifierKind.EMAIL, IdentifierKind.PHONE)
    )
    sql = (
        f"WITH p(ord, kind, value) AS (VALUES {given}), "
        f"taken AS (SELECT kind, value FROM {one.table(VisitorIdentifier)} "
        f"WHERE {any_pair}), "
        "new AS (SELECT ord, kind, value FROM p WHERE NOT EXISTS "
        "(SELECT 1 FROM taken t WHERE t.kind = p.kind AND t.value = p.value)), "
    )
    parts: list[tuple[str, tuple[str, list[Any]]]] = [
        (
            "v",
            one.insert_select(
                Visitor,
                {
                    "organisation": organisation_id,
                    "public_id": public_id,
                    "name": name,
                    "name_search": name.lower(),
                    "created_at": now,
                    "last_seen_at": now,
                },
                source="(SELECT 1) AS one WHERE NOT EXISTS "
                f"(SELECT 1 FROM taken WHERE kind IN ({owning}))",
            ),
        ),
        (
            "i",
            one.insert_select(
                VisitorIdentifier,
                {
                    "organisation": organisation_id,
                    "visitor": Sql("v.id"),
                    "kind": Sql("new.kind"),
                    "value": Sql("new.value"),
                    "created_at": now,
                },
                source="v, new",
                returning=(),
            ),
        ),
        (
            "au",
            one.insert_select(
                AuditEntry,
                {
                    "organisation": organisation_id,
                    "actor_label": actor_label[:200],
                    "action": "visitor.create",
                    "target_type": Visitor._meta.label_lower,
                    "target_id": str(public_id),
                    "target_label": label,
                    "after": Sql(
                        "jsonb_build_object('name', %s::text, 'identifiers_added', "
                        "(SELECT COALESCE(jsonb_agg(kind || ':' || value ORDER BY "
                        "ord), '[]'::jsonb) FROM new))",
                        (name,),
                    ),
                    "created_at": now,
                },
                source="v",
                returning=(),
            ),
        ),
        (
            "c",
            one.insert_select(
                Conversation,
                {
                    "organisation": organisation_id,
                    "visitor": Sql("v.id"),
                    "widget": widget_pk,
                    "public_id": uuid.uuid4(),
                    "created_at": now,
                    "last_message_at": now,
                    "message_count": 1,
                },
                source="v",
                returning=("id", "public_id"),
            ),
        ),
        (
            "m",
            one.insert_select(
                Message,
                {
                    "organisation": organisation_id,
                    "conversation": Sql("c.id"),
                    "public_id": uuid.uuid4(),
                    "sender": Sender.VISITOR.value,
                    "author": label,
                    "body": body,
                    "ip": ip,
                    "created_at": now,
                },
                source="c",
                returning=("public_id",),
            ),
        ),
    ]
    for cte, (statement, statement_params) in parts:
        sql += f"{cte} AS ({statement}), "
        params += statement_params
    sql = sql.removesuffix(", ") + " SELECT v.id, c.public_id, m.public_id FROM v, c, m"
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            row = one.fetch_one(sql, params)
    except IntegrityError:
        return None
    if row is None:
        return None
    return Stored(
        visitor_id=row[0],
        author=label,
        conversation_id=_uuid(row[1]),
        message_id=_uuid(row[2]),
    )


def attempt_count(  # noqa: PLR0913
    *,
    organisation_id: int,
    channel: str,
    reason: str,
    ip: str | None,
    ip_block_id: int | None,
    detail: dict[str, Any],
    explanation: dict[str, Any],
    visitor_id: int | None = None,
    widget_id: str | None = None,
) -> tuple[int | None, str] | None:
    """Store a blocked attempt and count it on the visitor, in one statement
    (`services.blocked_attempt_record`'s two writes); (visitor id, display name).

    The visitor is `visitor_id` (the attempt is stored even when it is gone,
    without one), or else the owner of `widget_id`: when nobody owns it nothing
    is written and None is returned (the gate's ORM path creates the visitor).
    """
    values: dict[str, Any] = {
        "organisation": organisation_id,
        "channel": channel,
        "reason": reason,
        "ip": ip or None,
        "ip_block": ip_block_id,
        "detail": detail,
        "explanation": explanation,
        "created_at": dt.datetime.now(dt.UTC),
    }
    if widget_id is not None and not one.available():
        return _attempt_count_orm(organisation_id, widget_id, values)
    if widget_id is not None:
        target, params = _owner(organisation_id, widget_id)
        source = "v"
        values["visitor"] = Sql("v.id")
    elif visitor_id is not None:
        target, params = "%s", [visitor_id]
        source = "(SELECT 1) AS one"
        values["visitor"] = Sql("(SELECT id FROM v)")
    else:
        values["visitor"] = None
        sql, params = one.insert_select(BlockedAttempt, values, returning=())
        one.fetch_one(sql + " RETURNING NULL, ''", params)
        return None, ""
    insert, insert_params = one.insert_select(
        BlockedAttempt, values, source=source, returning=("visitor_id",)
    )
    sql = (
        f"WITH v AS (UPDATE {one.table(Visitor)} "
        "SET blocked_attempts = blocked_attempts + 1 "
        f"WHERE id = {target} RETURNING id, {_author()}), "
        f"a AS ({insert}) "
        "SELECT a.visitor_id, COALESCE((SELECT author FROM v), '') FROM a"
    )
    row = one.fetch_one(sql, [*params, *insert_params])
    if row is None:
        return None
    return row[0], row[1]


def _attempt_count_orm(
    organisation_id: int, widget_id: str, values: dict[str, Any]
) -> tuple[int | None, str] | None:
    """`attempt_count` by the widget id's owner elsewhere: the counter moved
    (`UPDATE … RETURNING` finds the owner too), then the attempt stored."""
    owner, params = _owner(organisation_id, widget_id)
    with transaction.atomic():
        row = one.fetch_one(
            f"UPDATE {one.table(Visitor)} SET blocked_attempts = blocked_attempts + 1 "
            f"WHERE id = {owner} RETURNING id, "
            "COALESCE(NULLIF(name, ''), 'Visitor ' || SUBSTR(public_id, 1, 8))",
            params,
        )
        if row is None:
            return None
        fields = {**values, "visitor_id": row[0]}
        fields["organisation_id"] = fields.pop("organisation")
        fields["ip_block_id"] = fields.pop("ip_block")
        BlockedAttempt.objects.create(**fields)
    return row[0], row[1][:200]  # (public ids are hex there: the same 8 digits)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
