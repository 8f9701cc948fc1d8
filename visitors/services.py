"""Writes of the visitors app. Each checks the actor's role and audits itself.

Every change that can alter the call gate's phone map (a status change, a phone
identifier added or removed, a visitor deleted) bumps `phone_map_version_key` after
commit, so each process rebuilds its cached map on its very next call.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.core.services import audit_record
from trustconsole.lib.phones import (
    phone_or_field_error,
)
from trustconsole.policy import changes
from visitors import selectors
from visitors.choices import (
    BLACKLISTED_SIGNAL,
    MAPPED_STATUSES,
    SIGNAL_TYPE_LABELS,
    Band,
    BlockReason,
    Channel,
    IdentifierKind,
    ReviewAction,
    ReviewStatus,
    SignalEnd,
    SignalSource,
    VisitorStatus,
    WeightLevel,
    band_for,
)
from visitors.models import (
    BlockedAttempt,
    Conversation,
    Event,
    IPBlock,
    ReviewItem,
    RiskSignal,
    SignalWeightOverride,
    Visitor,
    VisitorIdentifier,
    Widget,
    active_signals_q,
)

logger = logging.getLogger(__name__)

OPERATOR = "operator"
IDENTIFIER_FIELDS = {
    IdentifierKind.EMAIL: "emails",
    IdentifierKind.PHONE: "phones",
    IdentifierKind.IP: "ips",
    IdentifierKind.WIDGET: "widget_ids",
}
# Networks wider than these would block whole providers or the internet.
MIN_PREFIX = {4: 8, 6: 16}


# --- Phone map version ----------------------------------------------------------------


def policy_changed(visitor: Visitor, *, pk: int | None = None) -> None:
    """The decision core reads this visitor again in every process (its status or
    identifiers changed), once the current transaction commits."""
    changes.policy_changed(
        visitor.organisation_id, changes.VISITOR, pk if pk is not None else visitor.pk
    )


# --- Identifiers ----------------------------------------------------------------------


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


def _identifier_q(pairs: list[tuple[str, str]]) -> Q:
    query = Q(pk__in=[])
    for kind, value in pairs:
        query |= Q(kind=kind, value=value)
    return query


def _lock(visitor: Visitor) -> Visitor:
    """Lock the visitor's row for this transaction and reload it."""
    Visitor.objects.select_for_update().filter(pk=visitor.pk).values_list("pk").first()
    visitor.refresh_from_db()
    return visitor


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
    if visitor.status in MAPPED_STATUSES:
        policy_changed(visitor)


def _upsert_once(
    *,
    actor: Actor,
    name: str,
    wanted: list[tuple[str, str]],
    seen_at: dt.datetime | None,
) -> Visitor:
    organisation_id = actor.organisation.pk
    owned = list(
        VisitorIdentifier.objects.filter(
            _identifier_q(wanted), organisation_id=organisation_id
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
        visitor.full_clean()
        visitor.save()
        before: dict[str, Any] = {}
    else:
        visitor = _lock(next(iter(owners.values())))
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
    visitor.upsert_created = created  # type: ignore[attr-defined]
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


@transaction.atomic
def visitor_update(*, actor: Actor, visitor: Visitor, name: str) -> Visitor:
    """Rename a visitor."""
    actor.require(OPERATOR)
    visitor = _lock(visitor)
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
    plan = {name: () for name in IDENTIFIER_FIELDS.values()}
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
    visitor = _lock(visitor)
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
    *, actor: Actor, visitor: Visitor, kind: str, value: str, reason: str = ""
) -> Visitor:
    """Take one identifier off a visitor's record."""
    actor.require(OPERATOR)
    visitor = _lock(visitor)
    identifier = visitor.identifiers.filter(kind=kind, value=value).first()
    if identifier is None:
        raise ValidationError({"value": f"{value} is not on this visitor's record."})
    identifier.delete()
    if visitor.status in MAPPED_STATUSES:
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
def visitor_delete(*, actor: Actor, visitor: Visitor, reason: str = "") -> None:
    """Delete a visitor with everything recorded about them (admin only)."""
    actor.require()
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
        _lock(visitor)
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
    rank = [
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
    blacklist_signals = _active_blacklist_signals(target)
    keep = 1 if status == VisitorStatus.BLACKLISTED else 0
    _end_signals(blacklist_signals[keep:], actor=actor, reason=SignalEnd.CLEARED)
    if status in (VisitorStatus.BLACKLISTED, VisitorStatus.WHITELISTED):
        _resolve_open_items(
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
    _flag_if_danger(
        actor=actor,
        visitor=target,
        event=None,
        conversation=None,
        cause=f"Trust score is {target.trust_score} after a merge.",
    )
    return target


# --- Scores and signals ---------------------------------------------------------------


def weight_for(*, organisation_id: int, level: str) -> int:
    """The organisation's weight for a level (its override, else the default)."""
    return selectors.signal_weights(organisation_id=organisation_id)[level]


def score_recompute(*, visitor: Visitor) -> Visitor:
    """Store 100 minus the active weights (never below 0) and the band."""
    score = max(0, 100 - selectors.active_weight_total(visitor=visitor))
    band = band_for(score)
    if (score, band) != (visitor.trust_score, visitor.band):
        visitor.trust_score = score
        visitor.band = band
        visitor.save(update_fields=["trust_score", "band"])
    return visitor


def _flag_if_danger(
    *,
    actor: Actor,
    visitor: Visitor,
    event: Event | None,
    conversation: Conversation | None,
    cause: str,
) -> ReviewItem | None:
    """Flag a visitor that fell into the danger band (never a whitelisted one)."""
    if visitor.band != Band.DANGER or visitor.status != VisitorStatus.NONE:
        return None
    before = {"status": visitor.status}
    visitor.status = VisitorStatus.FLAGGED
    visitor.status_reason = cause
    visitor.status_changed_at = timezone.now()
    visitor.status_changed_by = actor.label[:200]
    visitor.save(
        update_fields=[
            "status",
            "status_reason",
            "status_changed_at",
            "status_changed_by",
        ]
    )
    item = ReviewItem.objects.create(
        organisation_id=visitor.organisation_id,
        visitor=visitor,
        event=event,
        conversation=conversation or (event.conversation if event else None),
        reason=cause,
        score_at_flag=visitor.trust_score,
    )
    audit_record(
        actor=actor,
        action="visitor.flag",
        target=visitor,
        before=before,
        after={
            "status": visitor.status,
            "trust_score": visitor.trust_score,
            "review_item": item.public_id,
        },
        reason=cause,
    )
    return item


def _signal_create(
    *,
    actor: Actor,
    visitor: Visitor,
    signal_type: str,
    level: str,
    source: str,
    note: str,
    expires_at: dt.datetime | None,
    event: Event | None,
) -> RiskSignal:
    signal = RiskSignal(
        organisation_id=visitor.organisation_id,
        visitor=visitor,
        signal_type=signal_type,
        level=level,
        weight=weight_for(organisation_id=visitor.organisation_id, level=level),
        source=(source or SignalSource.SYSTEM)[:32],
        note=note,
        added_by=actor.label[:200],
        event=event,
        expires_at=expires_at,
    )
    signal.full_clean()
    signal.save()
    return signal


@transaction.atomic
def risk_signal_add(
    *,
    actor: Actor,
    visitor: Visitor,
    signal_type: str,
    level: str,
    source: str = SignalSource.CONSOLE,
    note: str = "",
    expires_at: dt.datetime | None = None,
    event: Event | None = None,
    conversation: Conversation | None = None,
) -> RiskSignal:
    """Add a risk signal, recompute the score, and flag the visitor if in danger."""
    actor.require(OPERATOR)
    errors: dict[str, str] = {}
    if signal_type not in SIGNAL_TYPE_LABELS or signal_type == BLACKLISTED_SIGNAL:
        errors["signal_type"] = (
            f"Unknown signal type {signal_type!r}; "
            "the blacklist signal comes only with Blacklist."
            if signal_type == BLACKLISTED_SIGNAL
            else f"Unknown signal type {signal_type!r}."
        )
    if level not in WeightLevel.values:
        errors["level"] = f"Choose one of: {', '.join(WeightLevel.values)}."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors)
    visitor = _lock(visitor)
    before = {"trust_score": visitor.trust_score, "band": visitor.band}
    signal = _signal_create(
        actor=actor,
        visitor=visitor,
        signal_type=signal_type,
        level=level,
        source=source,
        note=note,
        expires_at=expires_at,
        event=event,
    )
    score_recompute(visitor=visitor)
    audit_record(
        actor=actor,
        action="risk_signal.add",
        target=visitor,
        before=before,
        after={
            "signal": signal.public_id,
            "signal_type": signal_type,
            "level": level,
            "weight": signal.weight,
            "expires_at": expires_at,
            "trust_score": visitor.trust_score,
            "band": visitor.band,
        },
        reason=note,
    )
    _flag_if_danger(
        actor=actor,
        visitor=visitor,
        event=event,
        conversation=conversation,
        cause=(
            f"Trust score fell to {visitor.trust_score} after "
            f"{signal.type_label} (+{signal.weight})."
        ),
    )
    return signal


def _end_signals(
    signals: Iterable[RiskSignal], *, actor: Actor, reason: str
) -> list[RiskSignal]:
    ended = []
    now = timezone.now()
    for signal in signals:
        claimed = RiskSignal.objects.filter(pk=signal.pk, ended_at__isnull=True).update(
            ended_at=now, ended_reason=reason, ended_by=actor.label[:200]
        )
        if claimed:
            signal.ended_at, signal.ended_reason = now, reason
            ended.append(signal)
    return ended


@transaction.atomic
def risk_signal_remove(
    *, actor: Actor, signal: RiskSignal, reason: str = ""
) -> RiskSignal:
    """Stop a signal counting and recompute the score."""
    actor.require(OPERATOR)
    visitor = _lock(signal.visitor)
    if (
        signal.signal_type == BLACKLISTED_SIGNAL
        and visitor.status == VisitorStatus.BLACKLISTED
    ):
        raise ValidationError(
            {
                NON_FIELD_ERRORS: "This signal comes with the blacklist; use Clear "
                "status or Whitelist to lift it."
            }
        )
    if not _end_signals([signal], actor=actor, reason=SignalEnd.REMOVED):
        return signal
    before = {"trust_score": visitor.trust_score}
    score_recompute(visitor=visitor)
    audit_record(
        actor=actor,
        action="risk_signal.remove",
        target=visitor,
        before=before,
        after={
            "signal": signal.public_id,
            "signal_type": signal.signal_type,
            "trust_score": visitor.trust_score,
        },
        reason=reason,
    )
    return signal


def risk_signals_expire_due(*, now: dt.datetime | None = None) -> int:
    """Beat: end signals past their expiry and recompute their visitors' scores."""
    now = now or timezone.now()
    ended = 0
    while True:
        batch = list(
            RiskSignal.objects.filter(ended_at__isnull=True, expires_at__lte=now)
            .order_by("expires_at")
            .values_list("pk", "visitor_id")[:500]
        )
        if not batch:
            return ended
        for visitor_id in sorted({visitor_id for _, visitor_id in batch}):
            signal_ids = [pk for pk, v in batch if v == visitor_id]
            ended += _expire_for_visitor(visitor_id, signal_ids, now)


@transaction.atomic
def _expire_for_visitor(
    visitor_id: int, signal_ids: list[int], now: dt.datetime
) -> int:
    visitor = Visitor.objects.select_for_update().filter(pk=visitor_id).first()
    if visitor is None:
        return 0
    actor = Actor.system_for(Organisation(pk=visitor.organisation_id), "signal expiry")
    claimed = RiskSignal.objects.filter(
        pk__in=signal_ids, ended_at__isnull=True
    ).update(ended_at=now, ended_reason=SignalEnd.EXPIRED, ended_by=actor.label)
    if not claimed:
        return 0
    before = {"trust_score": visitor.trust_score, "band": visitor.band}
    score_recompute(visitor=visitor)
    audit_record(
        actor=actor,
        action="risk_signal.expire",
        target=visitor,
        before=before,
        after={
            "signals_expired": claimed,
            "trust_score": visitor.trust_score,
            "band": visitor.band,
        },
    )
    return claimed


@transaction.atomic
def signal_weight_set(
    *, actor: Actor, level: str, weight: int, reason: str = ""
) -> SignalWeightOverride | None:
    """Override a level's weight for the organisation (admin); applies to new
    signals. Setting the default weight removes the override."""
    from visitors.choices import DEFAULT_WEIGHTS

    actor.require()
    if level not in WeightLevel.values:
        raise ValidationError(
            {"level": f"Choose one of: {', '.join(WeightLevel.values)}."}
        )
    if not isinstance(weight, int) or not 0 <= weight <= 100:
        raise ValidationError({"weight": "A weight is a whole number from 0 to 100."})
    organisation_id = actor.organisation.pk
    before = weight_for(organisation_id=organisation_id, level=level)
    row = None
    if weight == DEFAULT_WEIGHTS[level]:
        SignalWeightOverride.objects.filter(
            organisation_id=organisation_id, level=level
        ).delete()
    else:
        row, _ = SignalWeightOverride.objects.update_or_create(
            organisation_id=organisation_id, level=level, defaults={"weight": weight}
        )
    if before != weight:
        audit_record(
            actor=actor,
            action="signal_weight.set",
            target=actor.organisation,
            before={"level": level, "weight": before},
            after={"level": level, "weight": weight},
            reason=reason,
        )
    return row


# --- Status: Blacklist, Whitelist, Clear status ---------------------------------------


def _resolve_open_items(
    *, actor: Actor, visitor: Visitor, status: str, note: str
) -> int:
    return ReviewItem.objects.filter(visitor=visitor, status=ReviewStatus.OPEN).update(
        status=status,
        resolved_at=timezone.now(),
        resolved_by=actor.label[:200],
        resolution_note=note,
    )


def _set_status(
    *, actor: Actor, visitor: Visitor, status: str, reason: str, action: str
) -> dict[str, Any]:
    before = {
        "status": visitor.status,
        "trust_score": visitor.trust_score,
        "band": visitor.band,
    }
    visitor.status = status
    visitor.status_reason = reason
    visitor.status_changed_at = timezone.now()
    visitor.status_changed_by = actor.label[:200]
    visitor.full_clean()
    visitor.save(
        update_fields=[
            "status",
            "status_reason",
            "status_changed_at",
            "status_changed_by",
        ]
    )
    policy_changed(visitor)
    return before


def _active_blacklist_signals(visitor: Visitor) -> list[RiskSignal]:
    return list(
        RiskSignal.objects.filter(
            active_signals_q(), visitor=visitor, signal_type=BLACKLISTED_SIGNAL
        )
    )


@transaction.atomic
def visitor_blacklist(*, actor: Actor, visitor: Visitor, reason: str) -> Visitor:
    """Blacklisted at once, organisation-wide, with an Extreme "Blacklisted visitor"
    signal; open review items of the visitor are resolved."""
    actor.require(OPERATOR)
    visitor = _lock(visitor)
    if visitor.status == VisitorStatus.BLACKLISTED and _active_blacklist_signals(
        visitor
    ):
        return visitor
    before = _set_status(
        actor=actor,
        visitor=visitor,
        status=VisitorStatus.BLACKLISTED,
        reason=reason,
        action="visitor.blacklist",
    )
    if not _active_blacklist_signals(visitor):
        _signal_create(
            actor=actor,
            visitor=visitor,
            signal_type=BLACKLISTED_SIGNAL,
            level=WeightLevel.EXTREME,
            source=SignalSource.API if actor.token else SignalSource.CONSOLE,
            note=reason,
            expires_at=None,
            event=None,
        )
    score_recompute(visitor=visitor)
    resolved = _resolve_open_items(
        actor=actor, visitor=visitor, status=ReviewStatus.BLACKLISTED, note=reason
    )
    audit_record(
        actor=actor,
        action="visitor.blacklist",
        target=visitor,
        before=before,
        after={
            "status": visitor.status,
            "trust_score": visitor.trust_score,
            "band": visitor.band,
            "review_items_resolved": resolved,
        },
        reason=reason,
    )
    return visitor


def _lift(
    *,
    actor: Actor,
    visitor: Visitor,
    status: str,
    review: str,
    action: str,
    reason: str,
) -> Visitor:
    """Whitelist or clear: set the status, end the blacklist signal, resolve items."""
    before = _set_status(
        actor=actor, visitor=visitor, status=status, reason=reason, action=action
    )
    _end_signals(
        _active_blacklist_signals(visitor), actor=actor, reason=SignalEnd.CLEARED
    )
    score_recompute(visitor=visitor)
    resolved = _resolve_open_items(
        actor=actor, visitor=visitor, status=review, note=reason
    )
    audit_record(
        actor=actor,
        action=action,
        target=visitor,
        before=before,
        after={
            "status": visitor.status,
            "trust_score": visitor.trust_score,
            "band": visitor.band,
            "review_items_resolved": resolved,
        },
        reason=reason,
    )
    return visitor


@transaction.atomic
def visitor_whitelist(*, actor: Actor, visitor: Visitor, reason: str) -> Visitor:
    """Trusted: never auto-flagged again; lifts a blacklist and its signal."""
    actor.require(OPERATOR)
    visitor = _lock(visitor)
    if visitor.status == VisitorStatus.WHITELISTED:
        return visitor
    return _lift(
        actor=actor,
        visitor=visitor,
        status=VisitorStatus.WHITELISTED,
        review=ReviewStatus.WHITELISTED,
        action="visitor.whitelist",
        reason=reason,
    )


@transaction.atomic
def visitor_clear_status(*, actor: Actor, visitor: Visitor, reason: str) -> Visitor:
    """Back to no status; the blacklist signal is removed and open items dismissed."""
    actor.require(OPERATOR)
    visitor = _lock(visitor)
    if visitor.status == VisitorStatus.NONE and not _active_blacklist_signals(visitor):
        return visitor
    return _lift(
        actor=actor,
        visitor=visitor,
        status=VisitorStatus.NONE,
        review=ReviewStatus.DISMISSED,
        action="visitor.clear_status",
        reason=reason,
    )


# --- Review queue ---------------------------------------------------------------------


@transaction.atomic
def review_item_act(
    *, actor: Actor, item: ReviewItem, action: str, reason: str = ""
) -> ReviewItem:
    """The Actions column: Blacklist, Whitelist or Dismiss one queue item."""
    actor.require(OPERATOR)
    if action not in ReviewAction.values:
        raise ValidationError(
            {"action": f"Choose one of: {', '.join(ReviewAction.values)}."}
        )
    item = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if not item.is_open:
        raise ValidationError(
            {NON_FIELD_ERRORS: f"This item was already {item.get_status_display()}."}
        )
    visitor = item.visitor
    if action == ReviewAction.BLACKLIST:
        visitor_blacklist(actor=actor, visitor=visitor, reason=reason)
    elif action == ReviewAction.WHITELIST:
        visitor_whitelist(actor=actor, visitor=visitor, reason=reason)
    else:
        _dismiss(actor=actor, item=item, reason=reason)
    item.refresh_from_db()
    if item.is_open:
        # The visitor already had that status: close this item all the same.
        item.status = {
            ReviewAction.BLACKLIST: ReviewStatus.BLACKLISTED,
            ReviewAction.WHITELIST: ReviewStatus.WHITELISTED,
        }[ReviewAction(action)]
        item.resolved_at, item.resolved_by = timezone.now(), actor.label[:200]
        item.resolution_note = reason
        item.save()
    return item


def _dismiss(*, actor: Actor, item: ReviewItem, reason: str) -> None:
    item.status = ReviewStatus.DISMISSED
    item.resolved_at = timezone.now()
    item.resolved_by = actor.label[:200]
    item.resolution_note = reason
    item.save()
    visitor = _lock(item.visitor)
    still_open = ReviewItem.objects.filter(
        visitor=visitor, status=ReviewStatus.OPEN
    ).exists()
    before = {"status": visitor.status}
    if visitor.status == VisitorStatus.FLAGGED and not still_open:
        _set_status(
            actor=actor,
            visitor=visitor,
            status=VisitorStatus.NONE,
            reason=reason,
            action="review_item.dismiss",
        )
    audit_record(
        actor=actor,
        action="review_item.dismiss",
        target=visitor,
        before=before,
        after={"status": visitor.status, "review_item": item.public_id},
        reason=reason,
    )


def review_items_act_bulk(
    *, actor: Actor, items: list[ReviewItem], action: str, reason: str = ""
) -> int:
    """Bulk selection in the queue: the same action on each open item."""
    actor.require(OPERATOR)
    if action not in ReviewAction.values:
        raise ValidationError(
            {"action": f"Choose one of: {', '.join(ReviewAction.values)}."}
        )
    if not items:
        raise ValidationError({"items": "Select at least one item."})
    done = 0
    with transaction.atomic():
        for item in items:
            item.refresh_from_db()
            if item.is_open:
                review_item_act(actor=actor, item=item, action=action, reason=reason)
                done += 1
    return done


# --- IP blocks ------------------------------------------------------------------------


def normalise_network(raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or CIDR range as a network; refuses garbage and too-wide ranges."""
    value = (raw or "").strip()
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValidationError(
            {"network": f"{raw!r} is not an IPv4/IPv6 address or CIDR range."}
        ) from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ValidationError(
            {
                "network": f"/{network.prefixlen} is too wide; the widest allowed "
                f"IPv{network.version} range is /{MIN_PREFIX[network.version]}."
            }
        )
    return network


@transaction.atomic
def ip_block_create(
    *,
    actor: Actor,
    network: str,
    reason: str,
    expires_at: dt.datetime | None = None,
) -> IPBlock:
    """Block an IP address or CIDR range (IPv4/IPv6), optionally until a time."""
    actor.require(OPERATOR)
    errors: dict[str, str] = {}
    try:
        parsed = normalise_network(network)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        parsed = None
    if not (reason or "").strip():
        errors["reason"] = "Say why the address is blocked."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors)
    assert parsed is not None
    text = str(parsed)
    existing = IPBlock.objects.filter(
        organisation_id=actor.organisation.pk, network=text
    ).first()
    if existing is not None:
        if existing.is_active():
            raise ValidationError({"network": f"{text} is already blocked."})
        changes.policy_changed(existing.organisation_id, changes.IP_BLOCK, existing.pk)
        existing.delete()  # an expired leftover the cleanup has not reached yet
    block = IPBlock(
        organisation_id=actor.organisation.pk,
        network=text,
        version=parsed.version,
        reason=reason.strip(),
        expires_at=expires_at,
        created_by=actor.label[:200],
    )
    block.full_clean()
    block.save()
    changes.policy_changed(block.organisation_id, changes.IP_BLOCK, block.pk)
    audit_record(
        actor=actor,
        action="ip_block.create",
        target=block,
        after={"network": text, "expires_at": expires_at},
        reason=block.reason,
    )
    return block


@transaction.atomic
def ip_block_remove(*, actor: Actor, block: IPBlock, reason: str = "") -> None:
    """Lift an IP block."""
    actor.require(OPERATOR)
    audit_record(
        actor=actor,
        action="ip_block.remove",
        target=block,
        before={"network": block.network, "expires_at": block.expires_at},
        reason=reason,
    )
    changes.policy_changed(block.organisation_id, changes.IP_BLOCK, block.pk)
    block.delete()


def ip_blocks_expire_due(*, now: dt.datetime | None = None) -> int:
    """Beat: delete IP blocks whose expiry has passed (each deletion audited)."""
    now = now or timezone.now()
    removed = 0
    for block in IPBlock.objects.filter(expires_at__lte=now).select_related(
        "organisation"
    ):
        with transaction.atomic():
            actor = Actor.system_for(block.organisation, "ip block expiry")
            if not IPBlock.objects.filter(pk=block.pk).exists():
                continue
            audit_record(
                actor=actor,
                action="ip_block.expire",
                target=block,
                before={"network": block.network, "expires_at": block.expires_at},
            )
            changes.policy_changed(block.organisation_id, changes.IP_BLOCK, block.pk)
            block.delete()
            removed += 1
    return removed


# --- Blocked attempts -----------------------------------------------------------------


def blocked_attempt_record(
    *,
    visitor: Visitor | None,
    organisation_id: int,
    channel: str = Channel.CHAT,
    reason: str = BlockReason.BLACKLISTED,
    ip: str | None = None,
    ip_block: IPBlock | None = None,
    detail: dict[str, Any] | None = None,
    visitor_id: int | None = None,
    ip_block_id: int | None = None,
    explanation: dict[str, Any] | None = None,
) -> BlockedAttempt:
    """Count a refused message or call on the visitor's profile, with what decided.

    Not audited: it records something a visitor tried, not a change anyone made.
    """
    if visitor is not None:
        visitor_id = visitor.pk
    if ip_block is not None:
        ip_block_id = ip_block.pk
    attempt = BlockedAttempt.objects.create(
        organisation_id=organisation_id,
        visitor_id=visitor_id,
        channel=channel,
        reason=reason,
        ip=ip or None,
        ip_block_id=ip_block_id,
        detail=detail or {},
        explanation=explanation or {},
    )
    if visitor_id is not None:
        Visitor.objects.filter(pk=visitor_id).update(
            blocked_attempts=F("blocked_attempts") + 1
        )
    return attempt


# --- Widgets --------------------------------------------------------------------------


@transaction.atomic
def widget_create(*, actor: Actor, name: str) -> Widget:
    """A chat widget with a fresh key (admin)."""
    actor.require()
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the widget a name, e.g. the website."})
    widget = Widget(organisation_id=actor.organisation.pk, name=name[:100])
    widget.full_clean()
    widget.save()
    audit_record(
        actor=actor, action="widget.create", target=widget, after={"name": name}
    )
    return widget
