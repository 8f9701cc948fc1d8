"""The shared queues and the records that carry notes, and how to reach each.

Each app keeps its own queue selector (what is open, oldest first); this registry
only names them, so claims, escalations and notes work the same on every queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.http import Http404

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role


@dataclass(frozen=True)
class Queue:
    """A queue that a team works through together."""

    key: str
    label: str
    # Who works it (admins always may); viewers only read.
    role: str
    url_name: str
    open_items: Callable[[Actor], QuerySet[Any]]
    get_item: Callable[[Actor, object], models.Model]
    subject_of: Callable[[Any], models.Model]
    item_label: Callable[[Any], str]


@dataclass(frozen=True)
class NoteTarget:
    """A kind of record that carries internal notes."""

    key: str
    role: str
    get: Callable[[Actor, object], models.Model]
    label: Callable[[Any], str]


def _visitor_items(actor: Actor) -> QuerySet[Any]:
    from visitors.selectors import review_queue

    return review_queue(actor=actor)


def _visitor_item(actor: Actor, public_id: object) -> models.Model:
    from visitors.selectors import review_item_get

    return review_item_get(actor=actor, public_id=public_id)


def _account_items(actor: Actor) -> QuerySet[Any]:
    from accounts.selectors import request_queue

    return request_queue(actor=actor)


def _account_item(actor: Actor, public_id: object) -> models.Model:
    from accounts.selectors import request_get

    return request_get(actor=actor, public_id=public_id)


def _visitor(actor: Actor, public_id: object) -> models.Model:
    from visitors.selectors import visitor_get

    return visitor_get(actor=actor, public_id=public_id)


def _account(actor: Actor, public_id: object) -> models.Model:
    from accounts.selectors import account_get

    return account_get(actor=actor, public_id=public_id)


def _review_label(item: Any) -> str:
    return f"the review of {item.visitor.display_name}"


def _request_label(item: Any) -> str:
    return f"the reassessment request of {item.company_name}"


QUEUES: dict[str, Queue] = {
    "visitors": Queue(
        key="visitors",
        label="visitor review",
        role=Role.OPERATOR,
        url_name="visitors:review_queue",
        open_items=_visitor_items,
        get_item=_visitor_item,
        subject_of=lambda item: item.visitor,
        item_label=_review_label,
    ),
    "accounts": Queue(
        key="accounts",
        label="account review",
        role=Role.SUPPORT,
        url_name="accounts:review_queue",
        open_items=_account_items,
        get_item=_account_item,
        subject_of=lambda item: item.account,
        item_label=_request_label,
    ),
}

NOTE_TARGETS: dict[str, NoteTarget] = {
    "visitor": NoteTarget(
        key="visitor",
        role=Role.OPERATOR,
        get=_visitor,
        label=lambda v: f"the visitor {v.display_name}",
    ),
    "account": NoteTarget(
        key="account",
        role=Role.SUPPORT,
        get=_account,
        label=lambda a: f"the customer account {a}",
    ),
    "review_item": NoteTarget(
        key="review_item", role=Role.OPERATOR, get=_visitor_item, label=_review_label
    ),
    "reassessment_request": NoteTarget(
        key="reassessment_request",
        role=Role.SUPPORT,
        get=_account_item,
        label=_request_label,
    ),
}


def queue_get(key: str) -> Queue:
    """A queue by its key (404 for any other)."""
    try:
        return QUEUES[key]
    except KeyError:
        raise Http404("No such queue.") from None


def queue_for(item: models.Model) -> Queue:
    """The queue an item belongs to."""
    label = item._meta.label_lower
    return QUEUES["visitors" if label == "visitors.reviewitem" else "accounts"]


def note_target_get(key: str) -> NoteTarget:
    """A kind of note target by its key (404 for any other)."""
    try:
        return NOTE_TARGETS[key]
    except KeyError:
        raise Http404("Notes cannot be kept on that.") from None


def note_target_for(obj: models.Model) -> NoteTarget:
    """The note target kind of a record."""
    keys = {
        "visitors.visitor": "visitor",
        "accounts.account": "account",
        "visitors.reviewitem": "review_item",
        "accounts.reassessmentrequest": "reassessment_request",
    }
    return NOTE_TARGETS[keys[obj._meta.label_lower]]


def item_path(queue: Queue, item: Any) -> str:
    """Where an item is worked: its request page, or its row on the queue page."""
    from django.urls import reverse

    if queue.key == "accounts":
        return reverse("accounts:request_detail", kwargs={"public_id": item.public_id})
    return f"{reverse(queue.url_name)}?item={item.public_id}#item-{item.public_id}"
