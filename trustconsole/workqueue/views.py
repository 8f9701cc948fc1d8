"""Browser views of the shared queues: claim, release, assign, escalate, Next item
and notes. Each is a POST that redirects back to the page it came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from trustconsole.core.actor import ActorRequest
from trustconsole.lib.views import member_required
from trustconsole.workqueue import forms, selectors, services
from trustconsole.workqueue.queues import note_target_get, queue_get


def _back(request: ActorRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _run(request: ActorRequest, act: Callable[[], Any], done: str) -> bool:
    try:
        act()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    messages.success(request, done)
    return True


def _item(request: ActorRequest, queue_key: str, public_id: str) -> tuple[Any, Any]:
    queue = queue_get(queue_key)
    return queue, queue.get_item(request.actor, public_id)


@member_required
@require_POST
def item_claim(request: ActorRequest, queue: str, public_id: str) -> HttpResponse:
    """Claim a queue item: it is mine; others see who holds it."""
    q, item = _item(request, queue, public_id)
    _run(
        request,
        lambda: services.item_claim(actor=request.actor, item=item),
        f"You hold {q.item_label(item)}.",
    )
    return _back(request, reverse(q.url_name))


@member_required
@require_POST
def item_release(request: ActorRequest, queue: str, public_id: str) -> HttpResponse:
    """Give a queue item back (its holder, or an admin)."""
    q, item = _item(request, queue, public_id)
    _run(
        request,
        lambda: services.item_release(actor=request.actor, item=item),
        f"Released {q.item_label(item)}.",
    )
    return _back(request, reverse(q.url_name))


@member_required
@require_POST
def item_assign(request: ActorRequest, queue: str, public_id: str) -> HttpResponse:
    """An admin hands a queue item to a member."""
    q, item = _item(request, queue, public_id)
    request.actor.require()
    form = forms.AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Assign to: give a member's email address.")
        return _back(request, reverse(q.url_name))

    def act() -> None:
        user = services.member_by_email(
            actor=request.actor, email=form.cleaned_data["assignee"]
        )
        services.item_assign(actor=request.actor, item=item, assignee=user)

    _run(request, act, f"Assigned {q.item_label(item)}.")
    return _back(request, reverse(q.url_name))


@member_required
@require_POST
def item_escalate(request: ActorRequest, queue: str, public_id: str) -> HttpResponse:
    """Escalate a queue item to a named colleague or to a role."""
    q, item = _item(request, queue, public_id)
    form = forms.EscalateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Escalate to: give a member's email address.")
        return _back(request, reverse(q.url_name))
    data = form.cleaned_data

    def act() -> None:
        email = data["to_user"]
        user = (
            services.member_by_email(actor=request.actor, email=email)
            if email
            else None
        )
        services.item_escalate(
            actor=request.actor,
            item=item,
            to_user=user,
            to_role=data["to_role"],
            reason=data["reason"],
        )

    _run(request, act, f"Escalated {q.item_label(item)}.")
    return _back(request, reverse(q.url_name))


@member_required
@require_POST
def item_next(request: ActorRequest, queue: str) -> HttpResponse:
    """Next item: claim the oldest unclaimed item and open it."""
    q = queue_get(queue)
    try:
        item = services.item_next(actor=request.actor, queue=q)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(q.url_name)
    if item is None:
        messages.info(request, "Nothing is waiting unclaimed; well done.")
        return redirect(q.url_name)
    messages.success(request, f"You hold {q.item_label(item)}.")
    if q.key == "accounts":
        return redirect("accounts:request_detail", public_id=item.public_id)
    return redirect(
        f"{reverse(q.url_name)}?item={item.public_id}#item-{item.public_id}"
    )


@member_required
@require_POST
def note_add(request: ActorRequest, kind: str, public_id: str) -> HttpResponse:
    """Keep an internal note on a queue item, a visitor or an account."""
    target_kind = note_target_get(kind)
    target = target_kind.get(request.actor, public_id)
    form = forms.NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A note is at most 5,000 characters.")
    else:
        _run(
            request,
            lambda: services.note_add(
                actor=request.actor, target=target, body=form.cleaned_data["body"]
            ),
            "Note added.",
        )
    return _back(request, _page_of(kind, target))


@member_required
@require_POST
def note_edit(request: ActorRequest, public_id: str) -> HttpResponse:
    """Its author rewrites a note (others: 403)."""
    note = selectors.note_get(actor=request.actor, public_id=public_id)
    form = forms.NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A note is at most 5,000 characters.")
    else:
        _run(
            request,
            lambda: services.note_edit(
                actor=request.actor, note=note, body=form.cleaned_data["body"]
            ),
            "Note saved.",
        )
    return _back(request, reverse("visitors:review_queue"))


def _page_of(kind: str, target: Any) -> str:
    if kind == "visitor":
        return reverse("visitors:visitor_detail", args=[target.public_id])
    if kind == "account":
        return reverse("accounts:account_detail", args=[target.public_id])
    if kind == "reassessment_request":
        return reverse("accounts:request_detail", args=[target.public_id])
    return reverse("visitors:review_queue")
