"""The visitor statuses set by hand: Blacklist, Whitelist, Clear status."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from visitors.choices import (
    BLACKLISTED_SIGNAL,
    MAPPED_STATUSES,
    ReviewStatus,
    SignalEnd,
    SignalSource,
    VisitorStatus,
    WeightLevel,
)
from visitors.models import ReviewItem, RiskSignal, Visitor, active_signals_q
from visitors.services.common import OPERATOR, lock_visitor, policy_changed
from visitors.services.scoring import score_recompute, signal_create, signals_end


def review_items_resolve(
    *, actor: Actor, visitor: Visitor, status: str, note: str
) -> int:
    """Resolve the visitor's open review items with this status; returns how many."""
    return ReviewItem.objects.filter(visitor=visitor, status=ReviewStatus.OPEN).update(
        status=status,
        resolved_at=timezone.now(),
        resolved_by=actor.label[:200],
        resolution_note=note,
    )


def status_set(
    *, actor: Actor, visitor: Visitor, status: str, reason: str, action: str
) -> dict[str, Any]:
    """Write the status with its reason, who and when; returns the before snapshot
    (no audit: the caller writes it)."""
    before = {
        "status": visitor.status,
        "trust_score": visitor.trust_score,
        "band": visitor.band,
    }
    visitor.status = status
    visitor.status_reason = reason
    visitor.status_changed_at = timezone.now()
    visitor.status_changed_by = actor.label[:200]
    fields = ["status", "status_reason", "status_changed_at", "status_changed_by"]
    if status in MAPPED_STATUSES and visitor.shadow_blacklisted_at is not None:
        # A real list status ends a trial blacklist (it never comes back after).
        before["shadow"] = True
        visitor.shadow_blacklisted_at = None
        visitor.shadow_blacklisted_by = visitor.shadow_blacklist_reason = ""
        fields += SHADOW_FIELDS
    visitor.full_clean()
    visitor.save(update_fields=fields)
    policy_changed(visitor)
    return before


def blacklist_signals_active(visitor: Visitor) -> list[RiskSignal]:
    """The visitor's active "Blacklisted visitor" signals."""
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
    visitor = lock_visitor(visitor)
    if visitor.status == VisitorStatus.BLACKLISTED and blacklist_signals_active(
        visitor
    ):
        return visitor
    before = status_set(
        actor=actor,
        visitor=visitor,
        status=VisitorStatus.BLACKLISTED,
        reason=reason,
        action="visitor.blacklist",
    )
    if not blacklist_signals_active(visitor):
        signal_create(
            actor=actor,
            visitor=visitor,
            signal_type=BLACKLISTED_SIGNAL,
            level=WeightLevel.EXTREME,
            source=SignalSource.API if actor.token else SignalSource.CONSOLE,
            note=reason,
            expires_at=None,
            event=None,
        )
    return _status_finish(
        actor=actor,
        visitor=visitor,
        before=before,
        review=ReviewStatus.BLACKLISTED,
        action="visitor.blacklist",
        reason=reason,
    )


def _status_finish(
    *,
    actor: Actor,
    visitor: Visitor,
    before: dict[str, Any],
    review: str,
    action: str,
    reason: str,
) -> Visitor:
    """After a status change: recompute the score, resolve the open review items
    with `review`, and audit the change."""
    score_recompute(visitor=visitor)
    resolved = review_items_resolve(
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
    before = status_set(
        actor=actor, visitor=visitor, status=status, reason=reason, action=action
    )
    signals_end(
        blacklist_signals_active(visitor), actor=actor, reason=SignalEnd.CLEARED
    )
    return _status_finish(
        actor=actor,
        visitor=visitor,
        before=before,
        review=review,
        action=action,
        reason=reason,
    )


@transaction.atomic
def visitor_whitelist(*, actor: Actor, visitor: Visitor, reason: str) -> Visitor:
    """Trusted: never auto-flagged again; lifts a blacklist and its signal."""
    actor.require(OPERATOR)
    visitor = lock_visitor(visitor)
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
    visitor = lock_visitor(visitor)
    if visitor.status == VisitorStatus.NONE and not blacklist_signals_active(visitor):
        return visitor
    return _lift(
        actor=actor,
        visitor=visitor,
        status=VisitorStatus.NONE,
        review=ReviewStatus.DISMISSED,
        action="visitor.clear_status",
        reason=reason,
    )


@transaction.atomic
def visitor_shadow_blacklist(*, actor: Actor, visitor: Visitor, reason: str) -> Visitor:
    """A trial blacklist for the voice gate: calls from the visitor's numbers are
    let through and logged as "would have been rejected"; chat, outbound checks,
    the status and the score are untouched. Refused on a blacklisted or
    whitelisted visitor (the real status decides)."""
    from django.core.exceptions import ValidationError

    actor.require(OPERATOR)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why (it is kept in the audit trail)."})
    visitor = lock_visitor(visitor)
    if visitor.status in MAPPED_STATUSES:
        raise ValidationError(
            {"status": f"The visitor is {visitor.get_status_display().lower()}; "
             "a shadow blacklist only applies to a visitor with no list status."}
        )  # fmt: skip
    return _shadow_write(actor=actor, visitor=visitor, shadow=True, reason=reason)


@transaction.atomic
def visitor_shadow_clear(
    *, actor: Actor, visitor: Visitor, reason: str = ""
) -> Visitor:
    """End a visitor's shadow blacklist."""
    actor.require(OPERATOR)
    visitor = lock_visitor(visitor)
    if visitor.shadow_blacklisted_at is None:
        return visitor
    return _shadow_write(
        actor=actor, visitor=visitor, shadow=False, reason=(reason or "").strip()
    )


SHADOW_FIELDS = [
    "shadow_blacklisted_at", "shadow_blacklisted_by", "shadow_blacklist_reason",
]  # fmt: skip


def _shadow_write(
    *, actor: Actor, visitor: Visitor, shadow: bool, reason: str
) -> Visitor:
    """Start or end the shadow blacklist: save, audit, tell the decision state."""
    visitor.shadow_blacklisted_at = timezone.now() if shadow else None
    visitor.shadow_blacklisted_by = actor.label[:200] if shadow else ""
    visitor.shadow_blacklist_reason = reason if shadow else ""
    visitor.save(update_fields=SHADOW_FIELDS)
    audit_record(
        actor=actor,
        action="visitor.shadow_blacklist" if shadow else "visitor.shadow_clear",
        target=visitor,
        before={"shadow": not shadow},
        after={"shadow": shadow},
        reason=reason,
    )
    policy_changed(visitor)
    return visitor
