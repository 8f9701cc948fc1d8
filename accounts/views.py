"""Browser views of the accounts app: list, account page, review queue, requests."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import forms, selectors, services
from accounts.api.views import evidence_file_response
from accounts.choices import ALL_SERVICES, Service
from accounts.services import EvidenceInput
from accounts.services.common import ACT
from trustconsole.core.actor import ActorRequest
from trustconsole.core.selectors import audit_for_object
from trustconsole.lib.confirm import Confirmation, confirmed_reason
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required, paginate
from trustconsole.workqueue.pages import queue_context
from trustconsole.workqueue.panels import notes_context

NUMBER_REMOVED = "It is no longer counted as a number the account owns."


def _add_errors(form: Any, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        target = _form_field(field) if _form_field(field) in form.fields else None
        for error in errors:
            form.add_error(target, error)


def _form_field(service_field: str) -> str:
    # evidence.0.file -> evidence_file_1 (slot numbers follow the form's order)
    parts = service_field.split(".")
    if parts[0] == "evidence" and len(parts) >= 2 and parts[1].isdigit():
        part = parts[2] if len(parts) > 2 else "file"
        return f"evidence_{part}_{int(parts[1]) + 1}"
    if parts[0] == "evidence":
        return "evidence_kind_1"
    return service_field


def _can_act(request: ActorRequest) -> bool:
    return request.actor.can("support")


@member_required
def index(request: ActorRequest) -> HttpResponse:
    """Customer accounts with filters (status, service restricted, overdue review)."""
    form = forms.AccountFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    accounts = selectors.account_list(
        actor=request.actor,
        status=filters.get("status", ""),
        service=filters.get("service", ""),
        overdue=filters.get("overdue", False),
        search=filters.get("q", ""),
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": paginate(request, accounts),
        "query": query.urlencode(),
        "counts": selectors.queue_counts(actor=request.actor),
    }
    return render(request, "accounts/index.html", context)


# The account page's forms: each has its own ids, so several can show errors.
DETAIL_FORMS: dict[str, type] = {
    "restrict_form": forms.RestrictForm,
    "block_form": forms.BlockForm,
    "restore_form": forms.RestoreForm,
    "port_away_form": forms.PortAwayForm,
    "refund_form": forms.RefundForm,
    "numbers_form": forms.NumbersAddForm,
    "feedback_form": forms.FeedbackForm,
}
# Service error keys that belong to a differently named form field.
SERVICE_FIELDS = {"subject": "ticket_id"}


def _detail_form(key: str, data: Any = None) -> Any:
    return DETAIL_FORMS[key](data, auto_id=f"{key[:-5]}_%s")


def _detail_context(
    request: ActorRequest, account: Any, bound: dict[str, Any] | None = None
) -> dict[str, Any]:
    actor = request.actor
    numbers = sorted(selectors.account_owned_numbers(account=account))
    context = {
        "account": account,
        "signals": selectors.account_signals(account=account),
        "expired_signals": selectors.account_signals_expired(account=account),
        "numbers": numbers,
        "requests": selectors.request_list(actor=actor, account=account),
        "timeline": selectors.account_timeline(actor=actor, account=account),
        "grants": selectors.port_away_list(actor=actor, account=account),
        "refunds": selectors.refund_list(actor=actor, account=account),
        "feedback": selectors.feedback_list(actor=actor, account=account),
        "customer_status": selectors.account_customer_status(account=account),
        "status_explanation": selectors.account_status_explanation(account=account),
        "feedback_subject": services.feedback_subject(account),
        "can_act": _can_act(request),
        "refund_outcome_form": forms.RefundOutcomeForm(),
        "service_labels": dict(Service.choices),
        "now": timezone.now(),
    }
    context.update({key: _detail_form(key) for key in DETAIL_FORMS})
    context.update(
        notes_context(request=request, target=account, related=account.requests.all())
    )
    context.update(bound or {})
    return context


@member_required
def account_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """An account: status, signals (the explanation), numbers, timeline, actions."""
    account = selectors.account_get(actor=request.actor, public_id=public_id)
    return render(request, "accounts/detail.html", _detail_context(request, account))


def _service_errors(form: Any, exc: ValidationError) -> None:
    """Each service error beside its field; the rest above the form."""
    for key, errors in exc.message_dict.items():
        field = SERVICE_FIELDS.get(key, key.split(".")[0])
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _account_action(
    request: ActorRequest, public_id: str, key: str, act: Any, done: str
) -> HttpResponse:
    """Validate one of the account page's forms and call its service; on any error
    the page comes back with every error of that form next to its field."""
    account = selectors.account_get(actor=request.actor, public_id=public_id)
    form = _detail_form(key, request.POST)
    if form.is_valid():
        try:
            act(account, form.cleaned_data)
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("accounts:account_detail", public_id=account.public_id)
    account.refresh_from_db()
    context = _detail_context(request, account, {key: form, "open_form": key})
    return render(request, "accounts/detail.html", context, status=400)


@member_required
@require_POST
def account_restrict(request: ActorRequest, public_id: str) -> HttpResponse:
    """Restrict named services (support)."""
    return _account_action(
        request,
        public_id,
        "restrict_form",
        lambda account, data: services.account_restrict(
            actor=request.actor, account=account, **data
        ),
        "Services restricted; the customer was emailed.",
    )


@member_required
@require_POST
def account_block(request: ActorRequest, public_id: str) -> HttpResponse:
    """Block, or permanently block, an account (support)."""
    return _account_action(
        request,
        public_id,
        "block_form",
        lambda account, data: services.account_block(
            actor=request.actor, account=account, **data
        ),
        "Account blocked; the customer was emailed.",
    )


@member_required
@require_POST
def account_restore(request: ActorRequest, public_id: str) -> HttpResponse:
    """Restore an account blocked for case review (support)."""
    return _account_action(
        request,
        public_id,
        "restore_form",
        lambda account, data: services.account_restore(
            actor=request.actor, account=account, **data
        ),
        "Account restored; the customer was emailed.",
    )


@member_required
@require_POST
def account_numbers_add(request: ActorRequest, public_id: str) -> HttpResponse:
    """Add phone numbers the account owns (support)."""
    return _account_action(
        request,
        public_id,
        "numbers_form",
        lambda account, data: services.account_numbers_add(
            actor=request.actor, account=account, **data
        ),
        "Numbers added.",
    )


@member_required
@require_POST
def account_number_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Remove one of the account's numbers (support), with the reason the
    confirmation asks (trustconsole/lib/confirm.py)."""
    account = selectors.account_get(actor=request.actor, public_id=public_id)
    request.actor.require(*ACT)
    form = forms.NumberRemoveForm(request.POST)
    number = form.cleaned_data["number"] if form.is_valid() else ""
    reason, again = confirmed_reason(
        request,
        Confirmation(
            question=f"Remove {number or 'the number'} from {account.company_name}?",
            consequence=NUMBER_REMOVED,
            button="Remove",
            action=request.path,
            cancel=reverse("accounts:account_detail", args=[account.public_id]),
            hidden=[("number", number)],
        ),
    )
    if again:
        return again
    try:
        services.account_numbers_remove(
            actor=request.actor,
            account=account,
            numbers=[number] if number else [],
            reason=reason,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{number} removed.")
    return redirect("accounts:account_detail", public_id=account.public_id)


@member_required
@require_POST
def feedback_record(request: ActorRequest, public_id: str) -> HttpResponse:
    """Record feedback a blocked customer sent (support). Never an appeal."""
    return _account_action(
        request,
        public_id,
        "feedback_form",
        lambda account, data: services.feedback_receive(
            actor=request.actor,
            subject=services.feedback_subject(account, data["ticket_id"]),
            body=data["body"],
        ),
        "Feedback recorded. It is not an appeal: the account's status is unchanged.",
    )


@member_required
@require_POST
def port_away_grant(request: ActorRequest, public_id: str) -> HttpResponse:
    """Grant port-away access to a closed account's numbers (support)."""
    return _account_action(
        request,
        public_id,
        "port_away_form",
        lambda account, data: services.port_away_grant(
            actor=request.actor, account=account, **data
        ),
        "Port-away access granted; the port-out fee is waived.",
    )


@member_required
@require_POST
def refund_create(request: ActorRequest, public_id: str) -> HttpResponse:
    """Record a refund request (support)."""
    return _account_action(
        request,
        public_id,
        "refund_form",
        lambda account, data: services.refund_request_create(
            actor=request.actor, account=account, **data
        ),
        "Refund request recorded.",
    )


@member_required
@require_POST
def refund_outcome(request: ActorRequest, public_id: str) -> HttpResponse:
    """Record a refund's outcome (support)."""
    refund = selectors.refund_get(actor=request.actor, public_id=public_id)
    form = forms.RefundOutcomeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Choose an outcome and write a note.")
        services.refund_outcome_record(
            actor=request.actor, refund=refund, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Refund outcome recorded.")
    return redirect("accounts:account_detail", public_id=refund.account.public_id)


@member_required
def request_create(request: ActorRequest, public_id: str) -> HttpResponse:
    """Raise a reassessment request on the customer's behalf (support)."""
    account = selectors.account_get(actor=request.actor, public_id=public_id)
    initial = {"company_name": account.company_name, "company_website": account.website}
    form = forms.RequestForm(
        request.POST or None, request.FILES or None, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        evidence = [
            EvidenceInput(kind=kind, file=upload, url=url)
            for _, kind, upload, url in form.evidence_slots()
        ]
        try:
            created = services.reassessment_submit(
                actor=request.actor,
                account=account,
                data=form.request_data(),
                evidence=evidence,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Request submitted; due {created.due_on}.")
            return redirect("accounts:request_detail", public_id=created.public_id)
    status = 400 if form.errors else 200
    context = {"account": account, "form": form}
    return render(request, "accounts/request_form.html", context, status=status)


@member_required
def review_queue(request: ActorRequest) -> HttpResponse:
    """Open reassessment requests, oldest first; overdue rows highlighted."""
    page = paginate(request, selectors.request_queue(actor=request.actor), per_page=25)
    context = {
        "page": page,
        "today": timezone.localdate(),
        "counts": selectors.queue_counts(actor=request.actor),
        **queue_context(request, queue="accounts", items=page.object_list),
    }
    if htmx_partial(request):
        return render(request, "accounts/partials/_queue_table.html", context)
    return render(request, "accounts/review_queue.html", context)


@member_required
def request_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """A request beside its account, history, signals and evidence; support decides."""
    actor = request.actor
    obj = selectors.request_get(actor=actor, public_id=public_id)
    form = forms.DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.reassessment_decide(actor=actor, request=obj, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Decision recorded: {obj.get_status_display()}.")
            return redirect("accounts:request_detail", public_id=obj.public_id)
    account = obj.account
    context = {
        "req": obj,
        "account": account,
        "signals": selectors.account_signals(account=account),
        "timeline": selectors.account_timeline(actor=actor, account=account),
        "entries": audit_for_object(actor=actor, obj=obj),
        "form": form,
        "can_act": _can_act(request) and obj.is_open,
        "all_services": ALL_SERVICES,
        "service_labels": dict(Service.choices),
        **notes_context(request=request, target=obj),
        **queue_context(request, queue="accounts", items=[obj], back=request.path),
        "work_items": [obj],
    }
    status = 400 if form.errors else 200
    return render(request, "accounts/request_detail.html", context, status=status)


@member_required
def evidence_file(request: ActorRequest, public_id: str) -> FileResponse:
    """An uploaded evidence file, for members of the organisation only."""
    evidence = selectors.evidence_get(actor=request.actor, public_id=public_id)
    return evidence_file_response(evidence)


@member_required
def account_settings(request: ActorRequest) -> HttpResponse:
    """Thresholds of the signup assessment and continuous review (admins change)."""
    row = selectors.account_settings_for(organisation=request.actor.organisation)
    initial = {name: getattr(row, name) for name in services.SETTINGS_FIELDS}
    initial["high_risk_countries"] = ", ".join(row.high_risk_countries)
    form = forms.AccountSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.account_settings_update(actor=request.actor, **data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Account settings saved.")
            return redirect("accounts:settings")
    context = {"form": form, "can_admin": request.actor.can()}
    return render(request, "accounts/settings.html", context)
