"""The review queue: act on one item or a selection."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from visitors.choices import ReviewAction, ReviewStatus, VisitorStatus
from visitors.models import ReviewItem
from visitors.services.common import OPERATOR, lock_visitor
from visitors.services.status import status_set, visitor_blacklist, visitor_whitelist


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
    visitor = lock_visitor(item.visitor)
    still_open = ReviewItem.objects.filter(
        visitor=visitor, status=ReviewStatus.OPEN
    ).exists()
    before = {"status": visitor.status}
    if visitor.status == VisitorStatus.FLAGGED and not still_open:
        status_set(
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
