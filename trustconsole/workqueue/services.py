"""Writes of the shared queues: claim, release, assign, escalate, Next item, notes.

Every change is one audit entry on the queue item (or on the noted record), with
the holder and escalation before and after.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Membership
from trustconsole.core.services import audit_record
from trustconsole.workqueue.models import Assignment, Note
from trustconsole.workqueue.queues import (
    Queue,
    item_path,
    note_target_for,
    queue_for,
)

NOTE_MAX = 5000
ESCALATION_ROLES = (Role.ADMIN, Role.OPERATOR, Role.SUPPORT)
ROLE_WORDS: dict[str, str] = {
    Role.ADMIN: "the admins",
    Role.OPERATOR: "the operators",
    Role.SUPPORT: "support",
}


def _user_label(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _state(assignment: Assignment) -> dict[str, Any]:
    escalated_to = ""
    if assignment.escalated_at is not None:
        if assignment.escalated_to_role:
            escalated_to = Role(assignment.escalated_to_role).label
        else:
            escalated_to = _user_label(assignment.assignee)
    return {"assignee": _user_label(assignment.assignee), "escalated_to": escalated_to}


def _assignment(*, queue: Queue, item: Any) -> Assignment:
    """The item's row, locked for this transaction (created when missing)."""
    content_type = ContentType.objects.get_for_model(item)
    assignment, _ = Assignment.objects.get_or_create(
        content_type=content_type,
        object_id=item.pk,
        defaults={"organisation": item.organisation, "queue": queue.key},
    )
    return (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("assignee")
        .get(pk=assignment.pk)
    )


def _audit(
    *,
    actor: Actor,
    action: str,
    queue: Queue,
    item: Any,
    before: dict[str, Any],
    assignment: Assignment,
    reason: str = "",
) -> None:
    context = {"item": queue.item_label(item), "queue": queue.label}
    audit_record(
        actor=actor,
        action=action,
        target=item,
        before={**context, **before},
        after={**context, **_state(assignment)},
        reason=reason,
    )


def _require_open(*, queue: Queue, item: Any) -> None:
    if not queue.open_items(_SystemActor.of(item)).filter(pk=item.pk).exists():
        raise ValidationError("This item is no longer waiting in the queue.")


class _SystemActor:
    """Reads a queue on behalf of the item's own organisation."""

    @staticmethod
    def of(item: Any) -> Actor:
        return Actor.system_for(item.organisation, "work queue")


def _member_user(*, actor: Actor, queue: Queue, user: Any) -> Any:
    """`user` if they are a member who may work the queue (else a field error)."""
    membership = (
        Membership.objects.filter(organisation=actor.organisation, user=user)
        .only("role")
        .first()
    )
    if membership is None:
        raise ValidationError({"assignee": "Not a member of this organisation."})
    if membership.role not in (Role.ADMIN, queue.role):
        raise ValidationError(
            {
                "assignee": f"{user.get_username()} is a {membership.role} and cannot "
                f"work the {queue.label} queue."
            }
        )
    return user


def member_by_email(*, actor: Actor, email: str) -> Any:
    """The organisation member with this email (a field error otherwise)."""
    user = (
        get_user_model()
        .objects.filter(
            email__iexact=email.strip(), memberships__organisation=actor.organisation
        )
        .first()
    )
    if user is None:
        raise ValidationError({"assignee": "No member of this organisation has it."})
    return user


def _actor_user(actor: Actor) -> Any:
    if actor.user is None:
        raise ValidationError(
            {"assignee": "Only a signed-in member can claim; name the assignee."}
        )
    return actor.user


@transaction.atomic
def item_claim(*, actor: Actor, item: Any) -> Assignment:
    """Claim an item for the actor: others then see who holds it."""
    queue = queue_for(item)
    actor.require(queue.role)
    user = _actor_user(actor)
    _require_open(queue=queue, item=item)
    assignment = _assignment(queue=queue, item=item)
    if assignment.assignee_id == user.pk:
        return assignment
    if assignment.assignee_id is not None and not actor.can():
        raise ValidationError(
            f"{_user_label(assignment.assignee)} holds this item; ask them or an "
            "admin to hand it over."
        )
    role = assignment.escalated_to_role
    if role and not actor.can(role):
        raise PermissionDenied(f"This item is escalated to the {Role(role).label}s.")
    before = _state(assignment)
    assignment.assignee = user
    assignment.claimed_at = assignment.updated_at = timezone.now()
    assignment.save()
    _audit(
        actor=actor,
        action="queue.claim",
        queue=queue,
        item=item,
        before=before,
        assignment=assignment,
    )
    return assignment


@transaction.atomic
def item_release(*, actor: Actor, item: Any, reason: str = "") -> Assignment:
    """Give an item back to the queue (its holder, or an admin)."""
    queue = queue_for(item)
    actor.require(queue.role)
    assignment = _assignment(queue=queue, item=item)
    if assignment.assignee_id is None:
        raise ValidationError("Nobody holds this item.")
    if actor.user is None or assignment.assignee_id != actor.user.pk:
        actor.require()  # only an admin releases someone else's item
    before = _state(assignment)
    assignment.assignee = None
    assignment.claimed_at = None
    assignment.updated_at = timezone.now()
    assignment.save()
    _audit(
        actor=actor,
        action="queue.release",
        queue=queue,
        item=item,
        before=before,
        assignment=assignment,
        reason=reason,
    )
    return assignment


@transaction.atomic
def item_assign(
    *, actor: Actor, item: Any, assignee: Any, reason: str = ""
) -> Assignment:
    """An admin hands an item to a member who works the queue."""
    queue = queue_for(item)
    actor.require()
    _require_open(queue=queue, item=item)
    user = _member_user(actor=actor, queue=queue, user=assignee)
    assignment = _assignment(queue=queue, item=item)
    before = _state(assignment)
    assignment.assignee = user
    assignment.claimed_at = assignment.updated_at = timezone.now()
    assignment.save()
    _audit(
        actor=actor,
        action="queue.assign",
        queue=queue,
        item=item,
        before=before,
        assignment=assignment,
        reason=reason,
    )
    return assignment


@transaction.atomic
def item_escalate(
    *,
    actor: Actor,
    item: Any,
    reason: str,
    to_user: Any = None,
    to_role: str = "",
) -> Assignment:
    """Hand an item to a named colleague (who then holds it) or to a role (then it
    waits for any member of that role)."""
    queue = queue_for(item)
    actor.require(queue.role)
    reason = reason.strip()
    errors: dict[str, str] = {}
    if (to_user is None) == (not to_role):
        errors["to"] = "Escalate to one colleague or one role."
    if to_role and to_role not in ESCALATION_ROLES:
        errors["to_role"] = "Escalate to admins, operators or support."
    if not reason:
        errors["reason"] = "Say why; your colleague reads it first."
    if errors:
        raise ValidationError(errors)
    _require_open(queue=queue, item=item)
    if to_user is not None:
        _member_user(actor=actor, queue=queue, user=to_user)
    assignment = _assignment(queue=queue, item=item)
    held_by_other = assignment.assignee_id is not None and (
        actor.user is None or assignment.assignee_id != actor.user.pk
    )
    if held_by_other:
        actor.require()  # someone else's item: only an admin moves it
    before = _state(assignment)
    now = timezone.now()
    assignment.assignee = to_user
    assignment.claimed_at = now if to_user is not None else None
    assignment.escalated_to_role = to_role
    assignment.escalated_at = assignment.updated_at = now
    assignment.escalated_by = actor.label[:200]
    assignment.escalation_reason = reason
    assignment.save()
    _audit(
        actor=actor,
        action="queue.escalate",
        queue=queue,
        item=item,
        before=before,
        assignment=assignment,
        reason=reason,
    )
    _notify_escalation(
        actor=actor, queue=queue, item=item, to_user=to_user, to_role=to_role,
        reason=reason,
    )  # fmt: skip
    return assignment


def _notify_escalation(
    *, actor: Actor, queue: Queue, item: Any, to_user: Any, to_role: str, reason: str
) -> None:
    """Tell the people an item was escalated to: the colleague, or every member
    of the role (not the one escalating), in the console and by email."""
    from notifications import services as notifications
    from notifications.choices import Trigger

    if to_user is not None:
        users = [to_user]
        whom = "you"
    else:
        users = [
            m.user
            for m in Membership.objects.filter(
                organisation=actor.organisation, role=to_role
            ).select_related("user")
        ]
        whom = ROLE_WORDS[to_role]
    users = [u for u in users if actor.user is None or u.pk != actor.user.pk]
    label = queue.item_label(item)
    notifications.notify_members(
        organisation=actor.organisation,
        users=users,
        trigger=Trigger.ESCALATED,
        subject=f"[trustconsole] {actor.organisation.name}: {actor.label} escalated "
        f"{label} to {whom}",
        body=f"{actor.label} escalated {label} in the {queue.label} queue to "
        f"{whom}.\n\nWhy: {reason}",
        path=item_path(queue, item),
    )


def item_next(*, actor: Actor, queue: Queue) -> Any:
    """Claim the oldest unclaimed item the actor may work; None when none waits."""
    from trustconsole.workqueue.selectors import unclaimed_items

    actor.require(queue.role)
    _actor_user(actor)
    for item in unclaimed_items(actor=actor, queue=queue)[:20]:
        try:
            assignment = item_claim(actor=actor, item=item)
        except (ValidationError, PermissionDenied):
            continue  # someone else was quicker; try the next one
        if actor.user is not None and assignment.assignee_id == actor.user.pk:
            return item
    return None


def _note_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write the note."})
    if len(body) > NOTE_MAX:
        raise ValidationError({"body": f"At most {NOTE_MAX:,} characters."})
    return body


@transaction.atomic
def note_add(*, actor: Actor, target: Any, body: str) -> Note:
    """Keep an internal note on a queue item, a visitor or an account."""
    kind = note_target_for(target)
    actor.require(kind.role)
    body = _note_body(body)
    note = Note(
        organisation=actor.organisation,
        content_type=ContentType.objects.get_for_model(target),
        object_id=target.pk,
        author=actor.user,
        author_label=actor.label[:200],
        body=body,
    )
    note.full_clean()
    note.save()
    audit_record(
        actor=actor,
        action="note.add",
        target=target,
        after={"about": kind.label(target), "note": body},
    )
    return note


@transaction.atomic
def note_edit(*, actor: Actor, note: Note, body: str) -> Note:
    """Its author rewrites a note; audited on the noted record with both texts."""
    note = Note.objects.select_for_update().get(pk=note.pk)
    if actor.user is None or note.author_id != actor.user.pk:
        raise PermissionDenied("Only its author can edit a note.")
    target = note.target
    if target is None:  # the record is gone; its notes go with it
        raise ValidationError("The note's record no longer exists.")
    kind = note_target_for(target)
    actor.require(kind.role)
    body = _note_body(body)
    if body == note.body:
        return note
    before = note.body
    note.body = body
    note.edited_at = timezone.now()
    note.full_clean()
    note.save(update_fields=["body", "edited_at"])
    about = kind.label(target)
    audit_record(
        actor=actor,
        action="note.edit",
        target=target,
        before={"about": about, "note": before},
        after={"about": about, "note": body},
    )
    return note
