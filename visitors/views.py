"""Browser views: Security → Visitors, the security profile, the review queue,
the Inbox, IP blocks, weights and widgets.

Every action is a POST form that works without JavaScript (redirect back with a
message); with htmx the same URL answers with the fragment to swap in place.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet, prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from trustconsole.core.actor import ActorRequest
from trustconsole.core.selectors import audit_for_object
from trustconsole.lib.charts import Band, step_line
from trustconsole.lib.confirm import (
    REASON_MISSING,
    Confirmation,
    confirmed_reason,
)
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required, paginate
from trustconsole.workqueue.pages import queue_context
from visitors import forms, profile, selectors, services
from visitors.choices import (
    CAUTION_MAX,
    DANGER_MAX,
    SCORE_MAX,
    ConversationStatus,
    SignalSource,
)
from visitors.inbox import (
    InboxFilterForm,
    conversation_events,
    conversation_inbox,
    conversation_status_set,
    sidebar_context,
)
from visitors.models import Conversation, ReviewItem, Visitor
from visitors.rules import event_record
from visitors.score_history import trust_score_history
from visitors.widget_rules import USER_REPORT

OPERATOR = "operator"


class CappedPaginator(Paginator):
    """Counts at most `cap` + 1 rows: a million-row filter stays fast to page."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        rows = cast(QuerySet[Any], self.object_list)
        return rows[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        """More rows match than were counted."""
        return self.count > self.cap


def _run(request: ActorRequest, act: Callable[[], Any], done: str) -> bool:
    """Call a service; report its outcome as a message."""
    try:
        act()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    messages.success(request, done)
    return True


def _reason(request: ActorRequest) -> str:
    form = forms.ReasonForm(request.POST)
    return form.cleaned_data["reason"] if form.is_valid() else ""


def _confirm_removal(
    request: ActorRequest,
    *,
    question: str,
    consequence: str,
    cancel: str,
    hidden: list[tuple[str, str]] | None = None,
) -> tuple[str, HttpResponse | None]:
    """(reason, None) once a removal carries its reason; else the confirmation
    page (again with the error), nothing changed (trustconsole/lib/confirm.py)."""
    request.actor.require(OPERATOR)
    return confirmed_reason(
        request,
        Confirmation(
            question=question,
            consequence=consequence,
            button="Remove",
            action=request.path,
            cancel=cancel,
            hidden=hidden or [],
        ),
    )


SIGNAL_REMOVED = "It stops counting and the trust score is recomputed."
IDENTIFIER_REMOVED = "The visitor is no longer recognised by it."
IP_BLOCK_REMOVED = "Requests from it are no longer refused."


# --- The one Blacklist confirmation ----------------------------------------------


def _blacklist_reason(request: ActorRequest) -> str | None:
    """The reason of a confirmed Blacklist; None while the step must be shown."""
    if request.method != "POST" or "confirmed" not in request.POST:
        return None
    form = forms.BlacklistConfirmForm(request.POST)
    return form.cleaned_data["reason"] if form.is_valid() else None


def _blacklist_confirm(
    request: ActorRequest,
    *,
    names: list[str],
    post_url: str,
    area: str,
    cancel_url: str,
    hidden: list[tuple[str, str]] | None = None,
) -> HttpResponse:
    """The confirmation step (again with errors if a confirmation was incomplete),
    as a fragment into `#area` or as a page of its own."""
    request.actor.require(OPERATOR)
    posted = request.method == "POST" and "confirmed" in request.POST
    form = (
        forms.BlacklistConfirmForm(request.POST)
        if posted
        else forms.BlacklistConfirmForm(initial={"reason": request.POST.get("reason")})
    )
    if posted:
        form.is_valid()
    context = {
        "form": form,
        "confirm": {
            "names": names,
            "post_url": post_url,
            "area": area,
            "cancel_url": cancel_url,
            "hidden": hidden or [],
        },
    }
    if htmx_partial(request):
        response = render(request, "visitors/partials/_blacklist_confirm.html", context)
        response["HX-Retarget"] = f"#{area}"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "visitors/blacklist_confirm.html", context)


def _retarget(response: HttpResponse, selector: str) -> HttpResponse:
    """Swap a successful answer into the region it belongs to, not the form."""
    response["HX-Retarget"] = selector
    response["HX-Reswap"] = "outerHTML"
    return response


def _with_messages(events: list[Any]) -> list[Any]:
    selectors.events_attach_messages(events)
    return events


def _query(request: ActorRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- Security → Visitors -------------------------------------------------------------


@member_required
def visitor_list(request: ActorRequest) -> HttpResponse:
    """Security → Visitors: search, filter by status and score, sort, paginate."""
    form = forms.VisitorFilterForm(request.GET or None)
    visitors = selectors.visitor_list(actor=request.actor, **form.filters())
    page = CappedPaginator(visitors, 50).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    prefetch_related_objects(page.object_list, "identifiers")
    context = {
        "form": form,
        "page": page,
        "query": _query(request),
        "counts": selectors.status_counts(actor=request.actor),
    }
    if htmx_partial(request):
        return render(request, "visitors/partials/_visitor_table.html", context)
    return render(request, "visitors/list.html", context)


def _profile_context(request: ActorRequest, visitor: Visitor) -> dict[str, Any]:
    actor = request.actor
    weights = selectors.signal_weights(organisation_id=actor.organisation.pk)
    return {
        "visitor": visitor,
        "identifiers": selectors.visitor_identifiers(visitor=visitor),
        "explanation": selectors.score_explanation(visitor=visitor),
        **_score_chart(visitor),
        "signals": list(selectors.visitor_signals(visitor=visitor)[:100]),
        "events": _with_messages(list(selectors.visitor_events(visitor=visitor)[:50])),
        "conversations": list(selectors.visitor_conversations(visitor=visitor)[:20]),
        "attempts": list(selectors.visitor_blocked_attempts(visitor=visitor)[:20]),
        "review_items": list(selectors.visitor_review_items(visitor=visitor)[:20]),
        "entries": list(audit_for_object(actor=actor, obj=visitor)[:50]),
        "panels": profile.panels_render(visitor=visitor, request=request),
        "can_act": actor.can(OPERATOR),
        "can_delete": actor.can(),
        "signal_form": forms.SignalAddForm(weights=weights),
        "identifier_form": forms.IdentifierAddForm(),
        "weights": weights,
    }


def _score_chart(visitor: Visitor) -> dict[str, Any]:
    """The trust score over time: the points and their picture."""
    points = trust_score_history(visitor=visitor)
    chart = step_line(
        points=points,
        title=f"Trust score of {visitor.display_name} over time",
        bands=[
            Band(0, DANGER_MAX, "#b3261e", "Danger 0–30"),
            Band(DANGER_MAX, CAUTION_MAX, "#9a6700", "Caution 31–69"),
            Band(CAUTION_MAX, SCORE_MAX, "#1a7f37", "Safe 70–100"),
        ],
    )
    return {"score_points": points[:-1][-12:], "score_chart": chart}


@member_required
def visitor_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """The visitor's security profile."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    context = _profile_context(request, visitor)
    if htmx_partial(request):
        return render(request, "visitors/partials/_profile.html", context)
    return render(request, "visitors/detail.html", context)


def _profile_answer(request: ActorRequest, visitor: Visitor) -> HttpResponse:
    if htmx_partial(request):
        visitor.refresh_from_db()
        context = _profile_context(request, visitor)
        return render(request, "visitors/partials/_profile.html", context)
    return redirect("visitors:visitor_detail", public_id=visitor.public_id)


@member_required
def visitor_blacklist(request: ActorRequest, public_id: str) -> HttpResponse:
    """GET: the confirmation; POST: Blacklist (status and Extreme signal at once)."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    reason = _blacklist_reason(request)
    if reason is None:
        url = reverse("visitors:visitor_blacklist", args=[visitor.public_id])
        return _blacklist_confirm(
            request,
            names=[visitor.display_name],
            post_url=url,
            area="status-actions",
            cancel_url=reverse("visitors:visitor_detail", args=[visitor.public_id]),
        )
    _run(
        request,
        lambda: services.visitor_blacklist(
            actor=request.actor, visitor=visitor, reason=reason
        ),
        f"{visitor.display_name} is Blacklisted.",
    )
    return _retarget(_profile_answer(request, visitor), "#profile")


@member_required
@require_POST
def visitor_whitelist(request: ActorRequest, public_id: str) -> HttpResponse:
    """Whitelist: trusted; never auto-flagged again."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    _run(
        request,
        lambda: services.visitor_whitelist(
            actor=request.actor, visitor=visitor, reason=_reason(request)
        ),
        f"{visitor.display_name} is Whitelisted.",
    )
    return _profile_answer(request, visitor)


@member_required
@require_POST
def visitor_clear_status(request: ActorRequest, public_id: str) -> HttpResponse:
    """Clear status: no status; the blacklist signal is removed."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    _run(
        request,
        lambda: services.visitor_clear_status(
            actor=request.actor, visitor=visitor, reason=_reason(request)
        ),
        f"Status of {visitor.display_name} cleared.",
    )
    return _profile_answer(request, visitor)


@member_required
@require_POST
def visitor_signal_add(request: ActorRequest, public_id: str) -> HttpResponse:
    """Add a risk signal by hand."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    request.actor.require(OPERATOR)
    form = forms.SignalAddForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            text = " ".join(str(error) for error in errors)
            messages.error(request, f"{form.fields[field].label}: {text}")
    else:
        _run(
            request,
            lambda: services.risk_signal_add(
                actor=request.actor,
                visitor=visitor,
                source=SignalSource.CONSOLE,
                **form.cleaned_data,
            ),
            "Risk signal added.",
        )
    return _profile_answer(request, visitor)


@member_required
@require_POST
def signal_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Remove a risk signal (the score is recomputed), with the reason the
    confirmation asks."""
    signal = selectors.signal_get(actor=request.actor, public_id=public_id)
    visitor = signal.visitor
    reason, again = _confirm_removal(
        request,
        question=f"Remove the {signal.type_label} signal of {visitor.display_name}?",
        consequence=SIGNAL_REMOVED,
        cancel=reverse("visitors:visitor_detail", args=[visitor.public_id]),
    )
    if again:
        return again
    _run(
        request,
        lambda: services.risk_signal_remove(
            actor=request.actor, signal=signal, reason=reason
        ),
        f"{signal.type_label} removed.",
    )
    return _profile_answer(request, signal.visitor)


@member_required
@require_POST
def visitor_identifier_add(request: ActorRequest, public_id: str) -> HttpResponse:
    """Add an email, phone, IP or widget id to the visitor's record."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    request.actor.require(OPERATOR)
    form = forms.IdentifierAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a kind and give a value.")
    else:
        _run(
            request,
            lambda: services.visitor_identifier_add(
                actor=request.actor, visitor=visitor, **form.cleaned_data
            ),
            "Identifier added.",
        )
    return _profile_answer(request, visitor)


@member_required
@require_POST
def visitor_identifier_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Take an identifier off the visitor's record, with the reason the
    confirmation asks."""
    visitor = selectors.visitor_get(actor=request.actor, public_id=public_id)
    kind = request.POST.get("kind", "")
    value = request.POST.get("value", "")
    reason, again = _confirm_removal(
        request,
        question=f"Remove {value} from {visitor.display_name}?",
        consequence=IDENTIFIER_REMOVED,
        cancel=reverse("visitors:visitor_detail", args=[visitor.public_id]),
        hidden=[("kind", kind), ("value", value)],
    )
    if again:
        return again
    _run(
        request,
        lambda: services.visitor_identifier_remove(
            actor=request.actor, visitor=visitor, kind=kind, value=value, reason=reason
        ),
        "Identifier removed.",
    )
    return _profile_answer(request, visitor)


@member_required
def visitor_merge(request: ActorRequest, public_id: str) -> HttpResponse:
    """GET: confirm merging another visitor into this one; POST: merge."""
    target = selectors.visitor_get(actor=request.actor, public_id=public_id)
    request.actor.require(OPERATOR)
    if request.method == "POST":
        source = selectors.visitor_get(
            actor=request.actor, public_id=request.POST.get("source", "")
        )
        _run(
            request,
            lambda: services.visitor_merge(
                actor=request.actor,
                target=target,
                source=source,
                reason=_reason(request),
            ),
            f"{source.display_name} merged into {target.display_name}.",
        )
        return redirect("visitors:visitor_detail", public_id=target.public_id)
    candidate = selectors.visitor_find(
        actor=request.actor, text=request.GET.get("other", "")
    )
    if candidate is None or candidate.pk == target.pk:
        messages.error(
            request,
            "No other visitor has that email, phone number, IP address, widget id "
            "or profile id.",
        )
        return redirect("visitors:visitor_detail", public_id=target.public_id)
    context = {
        "target": target,
        "source": candidate,
        "source_ids": selectors.visitor_identifiers(visitor=candidate),
    }
    return render(request, "visitors/merge_confirm.html", context)


# --- Review queue ---------------------------------------------------------------------


@member_required
def review_queue(
    request: ActorRequest, bulk_errors: list[str] | None = None
) -> HttpResponse:
    """Flagged conversations and events, oldest first, with the Actions column."""
    page = paginate(request, selectors.review_queue(actor=request.actor), per_page=50)
    _with_messages([item.event for item in page.object_list if item.event])
    context = {
        "page": page,
        "can_act": request.actor.can(OPERATOR),
        "bulk_errors": bulk_errors or [],
        **queue_context(request, queue="visitors", items=page.object_list),
    }
    if htmx_partial(request):
        # htmx swaps only 2xx answers: the error must reach the page to be read.
        return render(request, "visitors/partials/_queue_table.html", context)
    status = 400 if bulk_errors else 200
    return render(request, "visitors/review_queue.html", context, status=status)


_ACTION_DONE = {
    "blacklist": "{name} is Blacklisted.",
    "whitelist": "{name} is Whitelisted.",
    "dismiss": "Dismissed the review of {name}.",
}


@member_required
@require_POST
def review_item_act(request: ActorRequest, public_id: str) -> HttpResponse:
    """One item's Blacklist, Whitelist or Dismiss."""
    item = selectors.review_item_get(actor=request.actor, public_id=public_id)
    action = request.POST.get("action", "")
    if action == "blacklist":
        return review_item_blacklist(request, public_id)
    _run(
        request,
        lambda: services.review_item_act(
            actor=request.actor, item=item, action=action, reason=_reason(request)
        ),
        _ACTION_DONE.get(action, "Done.").format(name=item.visitor.display_name),
    )
    if htmx_partial(request):
        item = ReviewItem.objects.select_related("visitor", "event").get(pk=item.pk)
        _with_messages([item.event] if item.event else [])
        context = {
            "item": item,
            "can_act": True,
            **queue_context(request, queue="visitors", items=[item]),
        }
        return render(request, "visitors/partials/_queue_row.html", context)
    return redirect("visitors:review_queue")


@member_required
def review_item_blacklist(request: ActorRequest, public_id: str) -> HttpResponse:
    """A queue row's Blacklist: GET the confirmation, POST the confirmed action."""
    item = selectors.review_item_get(actor=request.actor, public_id=public_id)
    reason = _blacklist_reason(request)
    if reason is None:
        return _blacklist_confirm(
            request,
            names=[item.visitor.display_name],
            post_url=reverse("visitors:review_item_blacklist", args=[item.public_id]),
            area="queue-confirm",
            cancel_url=reverse("visitors:review_queue"),
        )
    _run(
        request,
        lambda: services.review_item_act(
            actor=request.actor, item=item, action="blacklist", reason=reason
        ),
        _ACTION_DONE["blacklist"].format(name=item.visitor.display_name),
    )
    return _queue_answer(request)


def _queue_answer(
    request: ActorRequest, bulk_errors: list[str] | None = None
) -> HttpResponse:
    if htmx_partial(request):
        return _retarget(review_queue(request, bulk_errors), "#queue-table")
    if bulk_errors:
        return review_queue(request, bulk_errors)
    return redirect("visitors:review_queue")


@member_required
@require_POST
def review_bulk(request: ActorRequest) -> HttpResponse:
    """The same action on every selected item; Blacklist after its confirmation."""
    request.actor.require(OPERATOR)
    form = forms.ReviewBulkForm(request.POST, actor=request.actor)
    if not form.is_valid():
        messages.error(request, "Select at least one item and an action.")
        return _queue_answer(request)
    items = form.selected_items()
    action = form.cleaned_data["action"]
    reason = form.cleaned_data["reason"].strip()
    if action != "blacklist" and not reason:
        # A bulk action is confirmed like every organisation-wide one: with a reason.
        return _queue_answer(request, [REASON_MISSING])
    if action == "blacklist":
        reason = _blacklist_reason(request)
        if reason is None:
            return _blacklist_confirm(
                request,
                names=[item.visitor.display_name for item in items],
                post_url=reverse("visitors:review_bulk"),
                area="queue-confirm",
                cancel_url=reverse("visitors:review_queue"),
                hidden=[("action", "blacklist")]
                + [("items", str(item.public_id)) for item in items],
            )
    _run(
        request,
        lambda: services.review_items_act_bulk(
            actor=request.actor, items=items, action=action, reason=reason
        ),
        f"{action.capitalize()}: {len(items)} item(s).",
    )
    return _queue_answer(request)


# --- Inbox ----------------------------------------------------------------------------


@member_required
def inbox(request: ActorRequest) -> HttpResponse:
    """Conversations, latest activity first; filters report a bad value."""
    form = InboxFilterForm(request.GET or None)
    valid = form.is_valid() or not form.is_bound
    filters = form.filters() if form.is_bound and valid else {}
    conversations = (
        conversation_inbox(actor=request.actor, **filters)
        if valid
        else Conversation.objects.none()
    )
    context = {
        "form": form,
        "page": paginate(request, conversations, per_page=50),
        "status": filters.get("status", ""),
        "query": _query(request),
    }
    return render(request, "visitors/inbox.html", context, status=200 if valid else 400)


def _conversation_context(
    request: ActorRequest, conversation: Conversation, *, panel_open: bool = False
) -> dict[str, Any]:
    visitor = conversation.visitor
    return {
        "conversation": conversation,
        "visitor": visitor,
        "chat": list(selectors.conversation_messages(conversation=conversation)[:500]),
        "events": conversation_events(conversation=conversation),
        "identifiers": selectors.visitor_identifiers(visitor=visitor),
        **sidebar_context(conversation=conversation),
        "can_act": request.actor.can(OPERATOR),
        "panel_open": panel_open,
    }


@member_required
def conversation_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """A conversation with the visitor sidebar (profile panel, Blacklist visitor)."""
    conversation = selectors.conversation_get(actor=request.actor, public_id=public_id)
    context = _conversation_context(request, conversation)
    return render(request, "visitors/conversation.html", context)


def _sidebar_answer(request: ActorRequest, conversation: Conversation) -> HttpResponse:
    if htmx_partial(request):
        conversation.visitor.refresh_from_db()
        context = _conversation_context(request, conversation, panel_open=True)
        return render(request, "visitors/partials/_visitor_sidebar.html", context)
    return redirect("visitors:conversation_detail", public_id=conversation.public_id)


@member_required
def conversation_blacklist(request: ActorRequest, public_id: str) -> HttpResponse:
    """The sidebar's "Blacklist visitor": GET the confirmation, POST it confirmed."""
    conversation = selectors.conversation_get(actor=request.actor, public_id=public_id)
    visitor = conversation.visitor
    reason = _blacklist_reason(request)
    if reason is None:
        return _blacklist_confirm(
            request,
            names=[visitor.display_name],
            post_url=reverse(
                "visitors:conversation_blacklist", args=[conversation.public_id]
            ),
            area="sidebar-blacklist",
            cancel_url=reverse(
                "visitors:conversation_detail", args=[conversation.public_id]
            ),
        )
    _run(
        request,
        lambda: services.visitor_blacklist(
            actor=request.actor, visitor=visitor, reason=reason
        ),
        f"{visitor.display_name} is Blacklisted.",
    )
    return _retarget(_sidebar_answer(request, conversation), "#visitor-sidebar")


@member_required
@require_POST
def conversation_status(request: ActorRequest, public_id: str) -> HttpResponse:
    """Resolve or reopen a conversation."""
    conversation = selectors.conversation_get(actor=request.actor, public_id=public_id)
    status = request.POST.get("status", "")
    _run(
        request,
        lambda: conversation_status_set(
            actor=request.actor,
            conversation=conversation,
            status=status,
            reason=_reason(request),
        ),
        "Conversation resolved."
        if status == ConversationStatus.CLOSED
        else "Conversation reopened.",
    )
    return redirect("visitors:conversation_detail", public_id=conversation.public_id)


@member_required
@require_POST
def conversation_report(request: ActorRequest, public_id: str) -> HttpResponse:
    """Report the visitor of a conversation (a "user report" event)."""
    conversation = selectors.conversation_get(actor=request.actor, public_id=public_id)
    reason = _reason(request)
    _run(
        request,
        lambda: event_record(
            actor=request.actor,
            visitor=conversation.visitor,
            kind=USER_REPORT.kind,
            detail={"reason": reason} if reason else {},
            source=SignalSource.CONSOLE,
            conversation=conversation,
        ),
        "Report recorded.",
    )
    return _sidebar_answer(request, conversation)


# --- IP blocks, weights, widgets ------------------------------------------------------


@member_required
def ip_block_list(request: ActorRequest) -> HttpResponse:
    """IP blocks: list and add (operators)."""
    form = forms.IPBlockForm(request.POST or None)
    if request.method == "POST":
        request.actor.require(OPERATOR)
        if form.is_valid():
            try:
                block = services.ip_block_create(
                    actor=request.actor, **form.cleaned_data
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"{block.display} is blocked.")
                return redirect("visitors:ip_block_list")
    context = {
        "form": form,
        "page": paginate(request, selectors.ip_block_list(actor=request.actor)),
        "can_act": request.actor.can(OPERATOR),
    }
    status = 400 if form.errors else 200
    return render(request, "visitors/ip_blocks.html", context, status=status)


@member_required
@require_POST
def ip_block_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Lift an IP block, with the reason the confirmation asks."""
    block = selectors.ip_block_get(actor=request.actor, public_id=public_id)
    reason, again = _confirm_removal(
        request,
        question=f"Remove the block of {block.display}?",
        consequence=IP_BLOCK_REMOVED,
        cancel=reverse("visitors:ip_block_list"),
    )
    if again:
        return again
    _run(
        request,
        lambda: services.ip_block_remove(
            actor=request.actor, block=block, reason=reason
        ),
        f"{block.display} is no longer blocked.",
    )
    if htmx_partial(request):
        return HttpResponse("")
    return redirect("visitors:ip_block_list")


@member_required
def signal_weights(request: ActorRequest) -> HttpResponse:
    """Weight levels: admins override them for the organisation."""
    if request.method == "POST":
        request.actor.require()
        form = forms.WeightForm(request.POST)
        if not form.is_valid():
            messages.error(request, "A weight is a whole number from 0 to 100.")
        else:
            _run(
                request,
                lambda: services.signal_weight_set(
                    actor=request.actor, reason=_reason(request), **form.cleaned_data
                ),
                "Weight saved; it applies to signals added from now on.",
            )
        return redirect("visitors:signal_weights")
    context = {
        "rows": selectors.signal_weight_rows(actor=request.actor),
        "can_edit": request.actor.can(),
    }
    return render(request, "visitors/weights.html", context)


@member_required
def widget_list(request: ActorRequest) -> HttpResponse:
    """Chat widgets and their keys; admins add them."""
    form = forms.WidgetForm(request.POST or None)
    if request.method == "POST":
        request.actor.require()
        if form.is_valid() and _run(
            request,
            lambda: services.widget_create(actor=request.actor, **form.cleaned_data),
            "Widget created.",
        ):
            return redirect("visitors:widget_list")
    context = {
        "form": form,
        "widgets": selectors.widget_list(actor=request.actor),
        "can_edit": request.actor.can(),
    }
    return render(request, "visitors/widgets.html", context)
