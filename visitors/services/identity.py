"""Who a visitor is: identifiers (normalised), upsert, rename, add or remove an
identifier, delete, and merging two visitors into one."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from trustconsole.lib.confirm import reason_required
from trustconsole.lib.phones import phone_or_field_error
from visitors.choices import (
    IDENTIFIER_FIELDS,
    MAPPED_STATUSES,
    IdentifierKind,
    ReviewStatus,
    SignalEnd,
    VisitorStatus,
)
from visitors.models import (
    BlockedAttempt,
    Conversation,
    Event,
    ReviewItem,
    RiskSignal,
    Visitor,
    VisitorIdentifier,
)
from visitors.services.common import (
    OPERATOR,
    lock_visitor,
    policy_changed,
)
from visitors.services.scoring import flag_if_danger, score_recompute, signals_end
from visitors.services.status import blacklist_signals_active, review_items_resolve


def _as_list(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    return [str(v) for v in values]


def normalise_email(raw: str) -> str:
    """An email address lower-cased, or ValidationError naming `emails`."""
    value = raw.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(
            {"emails": f"{raw!r} is not a valid email address."}
        ) from None
    return value


def normalise_phone(raw: str, *, field: str = "phones") -> str:
    """A phone number as E.164, or ValidationError naming the field and reason."""
    return phone_or_field_error(raw, field=field)


def normalise_ip(raw: str, *, field: str = "ips") -> str:
    """An IP address in its canonical text (IPv4-mapped IPv6 becomes IPv4)."""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        raise ValidationError(
            {field: f"{raw!r} is not an IPv4 or IPv6 address."}
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def normalise_widget_id(raw: str) -> str:
    """A widget visitor id: 1–128 printable characters."""
    value = raw.strip()
    if not value or len(value) > 128 or not value.isprintable():
        raise ValidationError(
            {"widget_ids": "A widget visitor id has 1–128 printable characters."}
        )
    return value


def _normalised(
    *,
    emails: Iterable[str],
    phones: Iterable[str],
    ips: Iterable[str],
    widget_ids: Iterable[str],
) -> list[tuple[str, str]]:
    """(kind, value) pairs, de-duplicated; all errors are raised together."""
    errors: dict[str, list[str]] = {}
    wanted: list[tuple[str, str]] = []
    plan = (
        (IdentifierKind.EMAIL, emails, normalise_email),
        (IdentifierKind.PHONE, phones, normalise_phone),
        (IdentifierKind.IP, ips, normalise_ip),
        (IdentifierKind.WIDGET, widget_ids, normalise_widget_id),
    )
    for kind, raw_values, normalise in plan:
        for raw in _as_list(raw_values):
            try:
                pair = (str(kind), normalise(raw))
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    errors.setdefault(field, []).extend(messages)
                continue
            if pair not in wanted:
                wanted.append(pair)
    if errors:
        raise ValidationError(errors)
    return wanted


def identifier_filter(organisation_id: int, pairs: list[tuple[str, str]]) -> Q:
    """A filter on VisitorIdentifier matching any of the organisation's (kind,
    value) pairs (matches nothing when there are none).

    The organisation is repeated inside every term so that each one is a lookup
    of the (organisation, kind, value) unique index: with it outside the OR,
    SQLite walks every identifier of the organisation in index order instead
    (seconds at millions of identifiers).
    """
    query = Q(pk__in=[])
    for kind, value in pairs:
        query |= Q(organisation_id=organisation_id, kind=kind, value=value)
    return query


def _add_identifiers(visitor: Visitor, pairs: list[tuple[str, str]]) -> None:
    VisitorIdentifier.objects.bulk_create(
        [
            VisitorIdentifier(
                organisation_id=visitor.organisation_id,
                visitor=visitor,
                kind=kind,
                value=value,
            )
            for kind, value in pairs
        ]
    )
    if visitor.status in MAPPED_STATUSES or visitor.shadow_blacklisted_at:
        policy_changed(visitor)


def _upsert_once(
    *,
    actor: Actor,
    name: str,
    wanted: list[tuple[str, str]],
    seen_at: dt.datetime | None,
    owned: list[VisitorIdentifier] | None = None,
) -> Visitor:
    """One try of an upsert; `owned`: the wanted identifiers already read."""
    organisation_id = actor.organisation.pk
    if owned is None:
        owned = list(
            VisitorIdentifier.objects.filter(
                identifier_filter(organisation_id, wanted)
            ).select_related("visitor")
        )
    owners: dict[int, Visitor] = {}
    for identifier in owned:
        owners.setdefault(identifier.visitor_id, identifier.visitor)
    if len(owners) > 1:
        first = owned[0].visitor_id
        errors: dict[str, list[str]] = {}
        for identifier in owned:
            if identifier.visitor_id != first:
                errors.setdefault(IDENTIFIER_FIELDS[identifier.kind], []).append(
                    f"{identifier.value} already belongs to another visitor "
                    f"({identifier.visitor.display_name}); one identifier belongs "
                    "to one visitor. Merge the two visitors from the security "
                    "profile first."
                )
        raise ValidationError(errors)
    created = not owners
    if created:
        visitor = Visitor(
            organisation_id=organisation_id,
            name=name,
            last_seen_at=seen_at or timezone.now(),
        )
        # The organisation is the actor's and the public id a fresh UUID (the
        # database's unique index still guards it): validating those would be
        # two queries per new visitor for nothing.
        visitor.full_clean(exclude=["organisation"], validate_unique=False)
        visitor.save()
        before: dict[str, Any] = {}
    else:
        visitor = lock_visitor(next(iter(owners.values())))
        before = {"name": visitor.name}
    have = {(i.kind, i.value) for i in owned}
    new_pairs = [pair for pair in wanted if pair not in have]
    _add_identifiers(visitor, new_pairs)
    fields = []
    if name and name != visitor.name:
        visitor.name = name
        fields.append("name")
    if seen_at and not created and seen_at > visitor.last_seen_at:
        visitor.last_seen_at = seen_at
        fields.append("last_seen_at")
    if fields:
        visitor.full_clean()
        visitor.save(update_fields=fields)
    if created or new_pairs or "name" in fields:
        audit_record(
            actor=actor,
            action="visitor.create" if created else "visitor.update",
            target=visitor,
            before=before or None,
            after={
                "name": visitor.name,
                "identifiers_added": [f"{kind}:{value}" for kind, value in new_pairs],
            },
        )
    visitor.upsert_created = created
    return visitor


def visitor_upsert(
    *,
    actor: Actor,
    name: str = "",
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    ips: Iterable[str] = (),
    widget_ids: Iterable[str] = (),
    seen_at: dt.datetime | None = None,
) -> Visitor:
    """Find the visitor owning any of the identifiers (or create one) and add the rest.

    Identifiers are normalised (emails lower-cased, phones E.164, IPs canonical);
    bad values raise ValidationError naming the field (`phones`, …) and the reason.
    Identifiers that belong to two different visitors are refused.
    `visitor.upsert_created` tells whether a visitor was created.
    """
    actor.require(OPERATOR)
    name = (name or "").strip()[:200]
    wanted = _normalised(emails=emails, phones=phones, ips=ips, widget_ids=widget_ids)
    if not wanted:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: "Give at least one email, phone number, IP address "
                "or widget visitor id."
            }
        )
    # Two first contacts of one new visitor can race; the unique constraint
    # decides, and the loser finds the winner's visitor on its second try.
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _upsert_once(
                    actor=actor, name=name, wanted=wanted, seen_at=seen_at
                )
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _known_visitor_touch(
    organisation_id: int,
    pairs: list[tuple[str, str]],
    name: str,
    seen_at: dt.datetime,
) -> Visitor | None:
    """The widget id's owner, touched (`last_seen_at`) in one statement, when the
    message changes nothing else: every identifier it carries is already owned
    (by this visitor, or by another one, which keeps it) and there is no name to
    give. None sends the message down the full path, which adds what is new.

    One `UPDATE … RETURNING` both finds the visitor and records the visit, so a
    known visitor's message costs one query here instead of a lookup, a lock and
    a save.
    """
    widget = next((v for k, v in pairs if k == IdentifierKind.WIDGET), None)
    if widget is None:
        return None
    distinct = sorted(set(pairs))
    q = connection.ops.quote_name
    visitors = q(Visitor._meta.db_table)
    identifiers = q(VisitorIdentifier._meta.db_table)
    columns = ", ".join(q(str(f.column)) for f in Visitor._meta.concrete_fields)
    any_pair = " OR ".join(
        ["(organisation_id = %s AND kind = %s AND value = %s)"] * len(distinct)
    )
    seen = connection.ops.adapt_datetimefield_value(seen_at)
    params: list[Any] = [
        seen,
        seen,
        organisation_id,
        IdentifierKind.WIDGET.value,
        widget,
    ]
    params += [name.strip()]
    for kind, value in distinct:
        params += [organisation_id, kind, value]
    params.append(len(distinct))
    sql = (
        f"UPDATE {visitors} SET last_seen_at = CASE WHEN last_seen_at < %s THEN %s "
        "ELSE last_seen_at END "
        f"WHERE id = (SELECT visitor_id FROM {identifiers} WHERE organisation_id = %s "
        "AND kind = %s AND value = %s) "
        "AND (name <> '' OR %s = '') "
        f"AND (SELECT COUNT(*) FROM {identifiers} WHERE {any_pair}) = %s "
        f"RETURNING {columns}"
    )
    found = list(Visitor.objects.raw(sql, params))
    if not found:
        return None
    visitor = found[0]
    visitor.upsert_created = False
    return visitor


def visitor_identify(
    *,
    actor: Actor,
    pairs: list[tuple[str, str]],
    name: str = "",
    seen_at: dt.datetime | None = None,
) -> Visitor:
    """The chat widget's visitor for normalised (kind, value) identifiers.

    The owner of the widget id, else of the email, else of the phone, else a new
    visitor; the identifiers nobody owns are added to it. Identifiers another
    visitor already owns stay with that visitor (a shared office IP, an email
    typed by someone else), so a widget message never fails on a conflict. The
    name is set only on a visitor that has none. A known visitor with nothing new
    costs one statement; otherwise one identifier query, then the upsert.
    """
    actor.require(OPERATOR)
    organisation_id = actor.organisation.pk
    known = _known_visitor_touch(
        organisation_id, pairs, name, seen_at or timezone.now()
    )
    if known is not None:
        return known
    for attempt in range(2):
        try:
            with transaction.atomic():
                owned = list(
                    VisitorIdentifier.objects.filter(
                        identifier_filter(organisation_id, pairs)
                    ).select_related("visitor")
                )
                owners = {i.kind: i.visitor for i in owned}
                visitor = next(
                    (
                        owners[kind]
                        for kind in (
                            IdentifierKind.WIDGET,
                            IdentifierKind.EMAIL,
                            IdentifierKind.PHONE,
                        )
                        if kind in owners
                    ),
                    None,
                )
                mine = [
                    i
                    for i in owned
                    if visitor is not None and i.visitor_id == visitor.pk
                ]
                taken = {(i.kind, i.value) for i in owned if i not in mine}
                return _upsert_once(
                    actor=actor,
                    name=(name or "").strip()[:200]
                    if visitor is None or not visitor.name
                    else "",
                    wanted=[pair for pair in pairs if pair not in taken],
                    seen_at=seen_at,
                    owned=mine,
                )
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def visitor_update(*, actor: Actor, visitor: Visitor, name: str) -> Visitor:
    """Rename a visitor."""
    actor.require(OPERATOR)
    visitor = lock_visitor(visitor)
    name = name.strip()[:200]
    if name == visitor.name:
        return visitor
    before = {"name": visitor.name}
    visitor.name = name
    visitor.full_clean()
    visitor.save(update_fields=["name"])
    audit_record(
        actor=actor,
        action="visitor.update",
        target=visitor,
        before=before,
        after={"name": name},
    )
    return visitor


@transaction.atomic
def visitor_identifier_add(
    *, actor: Actor, visitor: Visitor, kind: str, value: str
) -> Visitor:
    """Add one identifier to this visitor's record (refused if another owns it)."""
    actor.require(OPERATOR)
    field = IDENTIFIER_FIELDS.get(kind)
    if field is None:
        raise ValidationError(
            {"kind": f"Choose one of: {', '.join(IDENTIFIER_FIELDS)}."}
        )
    plan: dict[str, list[str]] = {name: [] for name in IDENTIFIER_FIELDS.values()}
    plan[field] = [value]
    [(kind, normalised)] = _normalised(**plan)
    owner = (
        VisitorIdentifier.objects.filter(
            organisation_id=visitor.organisation_id, kind=kind, value=normalised
        )
        .select_related("visitor")
        .first()
    )
    if owner is not None and owner.visitor_id != visitor.pk:
        raise ValidationError(
            {
                field: f"{normalised} already belongs to another visitor "
                f"({owner.visitor.display_name}); one identifier belongs to one "
                "visitor."
            }
        )
    if owner is not None:
        return visitor
    visitor = lock_visitor(visitor)
    _add_identifiers(visitor, [(kind, normalised)])
    audit_record(
        actor=actor,
        action="visitor.identifier_add",
        target=visitor,
        after={"identifier": f"{kind}:{normalised}"},
    )
    return visitor


@transaction.atomic
def visitor_identifier_remove(
    *, actor: Actor, visitor: Visitor, kind: str, value: str, reason: str
) -> Visitor:
    """Take one identifier off a visitor's record; the reason is required
    (trustconsole/lib/confirm.py)."""
    actor.require(OPERATOR)
    reason = reason_required(reason)
    visitor = lock_visitor(visitor)
    identifier = visitor.identifiers.filter(kind=kind, value=value).first()
    if identifier is None:
        raise ValidationError({"value": f"{value} is not on this visitor's record."})
    identifier.delete()
    if visitor.status in MAPPED_STATUSES or visitor.shadow_blacklisted_at:
        policy_changed(visitor)
    audit_record(
        actor=actor,
        action="visitor.identifier_remove",
        target=visitor,
        before={"identifier": f"{kind}:{value}"},
        reason=reason,
    )
    return visitor


@transaction.atomic
def visitor_delete(*, actor: Actor, visitor: Visitor, reason: str) -> None:
    """Delete a visitor with everything recorded about them (admin only); the
    reason is required."""
    actor.require()
    reason = reason_required(reason)
    audit_record(
        actor=actor,
        action="visitor.delete",
        target=visitor,
        before={"name": visitor.name, "status": visitor.status},
        reason=reason,
    )
    pk = visitor.pk
    visitor.delete()
    policy_changed(visitor, pk=pk)


@transaction.atomic
def visitor_merge(
    *, actor: Actor, target: Visitor, source: Visitor, reason: str = ""
) -> Visitor:
    """Move everything of `source` onto `target` and delete `source`.

    Identifiers, signals, events, conversations, review items and blocked attempts
    move; the stricter status wins (Blacklisted, then Whitelisted, then Flagged) and
    the score is recomputed. Both visitors' audit trails record the merge.
    """
    actor.require(OPERATOR)
    if source.pk == target.pk:
        raise ValidationError({"source": "A visitor cannot be merged into itself."})
    if source.organisation_id != target.organisation_id:
        raise ValidationError(
            {"source": "The visitors belong to different organisations."}
        )
    # Lock both rows in a fixed order so two opposite merges cannot deadlock.
    for visitor in sorted((target, source), key=lambda v: v.pk):
        lock_visitor(visitor)
    moved_ids = [
        f"{kind}:{value}"
        for kind, value in source.identifiers.values_list("kind", "value")
    ]
    before = {
        "name": target.name,
        "status": target.status,
        "trust_score": target.trust_score,
    }
    audit_record(
        actor=actor,
        action="visitor.merge_into",
        target=source,
        before={"name": source.name, "status": source.status, "identifiers": moved_ids},
        after={"merged_into": target.public_id},
        reason=reason,
    )
    VisitorIdentifier.objects.filter(visitor=source).update(visitor=target)
    for model in (RiskSignal, Event, Conversation, ReviewItem, BlockedAttempt):
        model.objects.filter(visitor=source).update(visitor=target)
    # What the organisation's rules matched on the source (its shadow history).
    from trustconsole.rules.models import RuleMatch

    RuleMatch.objects.filter(visitor=source).update(visitor=target)
    rank: list[str] = [
        VisitorStatus.BLACKLISTED,
        VisitorStatus.WHITELISTED,
        VisitorStatus.FLAGGED,
        VisitorStatus.NONE,
    ]
    status = min((target.status, source.status), key=rank.index)
    target.name = target.name or source.name
    target.blocked_attempts += source.blocked_attempts
    target.created_at = min(target.created_at, source.created_at)
    target.last_seen_at = max(target.last_seen_at, source.last_seen_at)
    if status != target.status:
        target.status = status
        target.status_reason = source.status_reason
        target.status_changed_at = timezone.now()
        target.status_changed_by = actor.label[:200]
    target.save()
    source_pk = source.pk
    source.delete()
    policy_changed(source, pk=source_pk)
    # One blacklist signal is enough; a status other than Blacklisted needs none.
    blacklist_signals = blacklist_signals_active(target)
    keep = 1 if status == VisitorStatus.BLACKLISTED else 0
    signals_end(blacklist_signals[keep:], actor=actor, reason=SignalEnd.CLEARED)
    if status in (VisitorStatus.BLACKLISTED, VisitorStatus.WHITELISTED):
        review_items_resolve(
            actor=actor,
            visitor=target,
            status=ReviewStatus(status),
            note=f"Merged: {reason}".strip(),
        )
    score_recompute(visitor=target)
    policy_changed(target)
    audit_record(
        actor=actor,
        action="visitor.merge",
        target=target,
        before=before,
        after={
            "merged_from": source.name or str(source.public_id),
            "identifiers_added": moved_ids,
            "status": target.status,
            "trust_score": target.trust_score,
        },
        reason=reason,
    )
    flag_if_danger(
        actor=actor,
        visitor=target,
        event=None,
        conversation=None,
        cause=f"Trust score is {target.trust_score} after a merge.",
    )
    return target
