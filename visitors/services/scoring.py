"""Risk signals and the trust score: add, remove and expire signals, recompute the
score, flag a visitor who falls into the danger band, and the weights per level."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.core.services import audit_record
from trustconsole.lib.confirm import reason_required
from visitors import selectors
from visitors.choices import (
    BLACKLISTED_SIGNAL,
    SIGNAL_TYPE_LABELS,
    Band,
    SignalEnd,
    SignalSource,
    VisitorStatus,
    WeightLevel,
    band_for,
)
from visitors.models import (
    Conversation,
    Event,
    ReviewItem,
    RiskSignal,
    SignalWeightOverride,
    Visitor,
)
from visitors.services.common import OPERATOR, lock_visitor


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


def flag_if_danger(
    *,
    actor: Actor,
    visitor: Visitor,
    event: Event | None,
    conversation: Conversation | None,
    cause: str,
) -> ReviewItem | None:
    """Flag a visitor that fell into the danger band (never a whitelisted one)."""
    if visitor.band != Band.DANGER:
        return None
    return visitor_flag(
        actor=actor,
        visitor=visitor,
        event=event,
        conversation=conversation,
        cause=cause,
    )


def visitor_flag(
    *,
    actor: Actor,
    visitor: Visitor,
    cause: str,
    event: Event | None = None,
    conversation: Conversation | None = None,
) -> ReviewItem | None:
    """Flag a visitor with no status for review and open its review item (None
    for a whitelisted, blacklisted or already flagged visitor)."""
    if visitor.status != VisitorStatus.NONE:
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


def signal_create(
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
    """Store one signal with the organisation's weight for its level (no score
    recompute, no audit: the caller does both)."""
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
    visitor = lock_visitor(visitor)
    before = {"trust_score": visitor.trust_score, "band": visitor.band}
    signal = signal_create(
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
    flag_if_danger(
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


def signals_end(
    signals: Iterable[RiskSignal], *, actor: Actor, reason: str
) -> list[RiskSignal]:
    """End the signals still active (claimed one by one, so a concurrent end
    counts once); returns those this call ended."""
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
def risk_signal_remove(*, actor: Actor, signal: RiskSignal, reason: str) -> RiskSignal:
    """Stop a signal counting and recompute the score; the reason is required
    (trustconsole/lib/confirm.py)."""
    actor.require(OPERATOR)
    reason = reason_required(reason)
    visitor = lock_visitor(signal.visitor)
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
    if not signals_end([signal], actor=actor, reason=SignalEnd.REMOVED):
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
