"""Voice → Policy pages: lists, imports with progress, records, denials, settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from trustconsole.core.actor import ActorRequest
from trustconsole.lib.confirm import (
    Confirmation,
    ConfirmReasonForm,
    confirmed_reason,
)
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required, paginate
from voicegate.policy import forms, selectors, services
from voicegate.policy.choices import Violation
from voicegate.policy.export import csv_lines

ACCOUNT_CHOICES_LIMIT = 500
CALLER_ID_WITHDRAWN = "Outbound calls showing it are refused unless it is owned."
CONSENT_WITHDRAWN = "Calls to it are checked against the Do-Not-Call lists again."


class _KnownCountPaginator(Paginator):
    """A paginator told the total instead of counting the rows."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known = count

    @property
    def count(self) -> int:  # type: ignore[override]
        return self._known


def _can_act(request: ActorRequest) -> bool:
    return request.actor.can(*services.ACT)


def _accounts(request: ActorRequest) -> Any:
    from accounts.selectors import account_list

    return account_list(actor=request.actor).order_by("company_name")[
        :ACCOUNT_CHOICES_LIMIT
    ]


def _errors(request: ActorRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label or field if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errors)}" if label else errors[0])


def _act(request: ActorRequest, form: Any, act: Callable[[dict], str]) -> None:
    """Check the role, validate, call the service, and tell the user what happened."""
    request.actor.require(*services.ACT)
    if not form.is_valid():
        _errors(request, form)
        return
    try:
        done = act(form.cleaned_data)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            prefix = f"{field}: " if field and field != "__all__" else ""
            messages.error(request, prefix + " ".join(errors))
    else:
        messages.success(request, done)


@member_required
def overview(request: ActorRequest) -> HttpResponse:
    """Voice → Policy: counts, lists with their last import, recent denials."""
    actor = request.actor
    lists = list(selectors.dnc_list_list(actor=actor))
    last = selectors.dnc_last_imports(lists=lists)
    context = {
        "lists": [(item, last.get(item.pk)) for item in lists],
        "counts": selectors.policy_counts(actor=actor),
        "denials": selectors.denial_list(actor=actor)[:20],
        "by_account": selectors.denial_counts_by_account(actor=actor)[:20],
        "freshness": {
            uuid.UUID(row["list"]): row
            for row in selectors.dnc_list_freshness(actor=actor, lists=lists)
        },
        "list_form": forms.DncListForm(),
        "can_act": _can_act(request),
        "section": "policy",
        "policy_section": "overview",
    }
    return render(request, "voicegate/policy/overview.html", context)


@member_required
@require_POST
def dnc_list_create(request: ActorRequest) -> HttpResponse:
    """Create a list (operators, support)."""
    form = forms.DncListForm(request.POST)
    created: list[Any] = []

    def act(data: dict) -> str:
        created.append(services.dnc_list_create(actor=request.actor, **data))
        return f"List “{created[0].name}” created."

    _act(request, form, act)
    if created:
        return redirect("voicegate:policy_dnc_list", public_id=created[0].public_id)
    return redirect("voicegate:policy")


@member_required
def dnc_list_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """One list: find, add and remove numbers, import, export, imports so far."""
    dnc_list = selectors.dnc_list_get(actor=request.actor, public_id=public_id)
    return _dnc_list_page(request, dnc_list)


def _dnc_list_page(
    request: ActorRequest, dnc_list: Any, *, number_form: Any = None, status: int = 200
) -> HttpResponse:
    actor = request.actor
    search = forms.DncSearchForm(request.GET or None)
    number = search.cleaned_data["number"] if search.is_valid() else ""
    entries = selectors.dnc_entry_list(dnc_list=dnc_list, number=number)
    if number:
        page = paginate(request, entries, per_page=100)
    else:  # a registry list can hold millions: use the kept count, not COUNT(*)
        paginator = _KnownCountPaginator(entries, 100, count=dnc_list.entry_count)
        page = paginator.get_page(request.GET.get("page"))
    context = {
        "dnc_list": dnc_list,
        "search": search,
        "number": number,
        "page": page,
        "query": f"number={number}" if number else "",
        "imports": selectors.dnc_import_list(actor=actor, dnc_list=dnc_list)[:10],
        "number_form": number_form or forms.DncNumberForm(auto_id="add-%s"),
        "import_form": forms.DncImportForm(),
        "reason_form": forms.ReasonForm(),
        "can_act": _can_act(request),
        "section": "policy",
        "policy_section": "overview",
    }
    return render(request, "voicegate/policy/dnc_list.html", context, status=status)


@member_required
@require_POST
def dnc_number_add(request: ActorRequest, public_id: str) -> HttpResponse:
    """Put one number on the list; a bad number comes back beside the field."""
    request.actor.require(*services.ACT)
    dnc_list = selectors.dnc_list_get(actor=request.actor, public_id=public_id)
    form = forms.DncNumberForm(request.POST, auto_id="add-%s")
    if form.is_valid():
        try:
            e164 = services.dnc_number_add(
                actor=request.actor, dnc_list=dnc_list, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"{e164} is on the list.")
            return redirect("voicegate:policy_dnc_list", public_id=dnc_list.public_id)
    dnc_list.refresh_from_db()
    return _dnc_list_page(request, dnc_list, number_form=form, status=400)


@member_required
@require_POST
def dnc_number_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Take one number off the list, with the reason the confirmation asks."""
    actor = request.actor
    dnc_list = selectors.dnc_list_get(actor=actor, public_id=public_id)
    number = request.POST.get("number", "")[:64]
    again = _confirm(
        request,
        dnc_list,
        "Remove",
        "Calls to it are no longer refused by this list.",
        subject=f"{number or 'the number'} from {dnc_list.name}",
        hidden=[("number", number)],
    )
    if again:
        return again
    _act(
        request,
        forms.DncNumberRemoveForm(request.POST),
        lambda data: (
            f"{services.dnc_number_remove(actor=actor, dnc_list=dnc_list, **data)}"
            " was taken off the list."
        ),
    )
    return redirect("voicegate:policy_dnc_list", public_id=dnc_list.public_id)


@member_required
@require_POST
def dnc_import_start(request: ActorRequest, public_id: str) -> HttpResponse:
    """Upload a CSV; the import runs on a worker and its page shows progress."""
    dnc_list = selectors.dnc_list_get(actor=request.actor, public_id=public_id)
    form = forms.DncImportForm(request.POST, request.FILES)
    started: list[Any] = []

    def act(data: dict) -> str:
        upload = data["file"]
        started.append(
            services.dnc_import_start(
                actor=request.actor,
                dnc_list=dnc_list,
                upload=upload,
                file_name=upload.name,
                region=data["region"],
                mode=data["mode"] or "full",
                as_of=data["as_of"],
            )
        )
        return f"{upload.name} uploaded; the import has started."

    _act(request, form, act)
    if started:
        return redirect("voicegate:policy_import", public_id=started[0].public_id)
    return redirect("voicegate:policy_dnc_list", public_id=dnc_list.public_id)


@member_required
def dnc_import_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """An import's progress; htmx polls the progress fragment while it runs."""
    job = selectors.dnc_import_get(actor=request.actor, public_id=public_id)
    context = {"job": job, "section": "policy", "policy_section": "overview"}
    if htmx_partial(request):
        return render(
            request, "voicegate/policy/partials/_import_progress.html", context
        )
    return render(request, "voicegate/policy/import.html", context)


@member_required
def dnc_export(request: ActorRequest, public_id: str) -> StreamingHttpResponse:
    """Download the list as CSV."""
    dnc_list = selectors.dnc_list_get(actor=request.actor, public_id=public_id)
    return csv_lines(dnc_list)


def _confirm(
    request: ActorRequest,
    dnc_list: Any,
    verb: str,
    consequence: str,
    subject: str = "",
    hidden: list[tuple[str, str]] | None = None,
) -> HttpResponse | None:
    """The confirmation page again (with its error) unless a reason was given."""
    request.actor.require(*services.ACT)
    _, again = confirmed_reason(
        request,
        Confirmation(
            question=f"{verb} {subject or dnc_list.name}?",
            consequence=consequence,
            button=verb,
            action=request.path,
            cancel=reverse("voicegate:policy_dnc_list", args=[dnc_list.public_id]),
            hidden=hidden or [],
        ),
    )
    return again


@member_required
@require_POST
def dnc_list_empty(request: ActorRequest, public_id: str) -> HttpResponse:
    """Remove every number of the list."""
    actor = request.actor
    dnc_list = selectors.dnc_list_get(actor=actor, public_id=public_id)
    again = _confirm(request, dnc_list, "Empty", "Every number is taken off the list.")
    if again:
        return again

    def empty(data: dict[str, Any]) -> str:
        services.dnc_list_empty(actor=actor, dnc_list=dnc_list, **data)
        return "The list is empty."

    _act(
        request,
        forms.ReasonForm(request.POST),
        empty,
    )
    return redirect("voicegate:policy_dnc_list", public_id=dnc_list.public_id)


@member_required
@require_POST
def dnc_list_delete(request: ActorRequest, public_id: str) -> HttpResponse:
    """Delete the list and its numbers."""
    actor = request.actor
    dnc_list = selectors.dnc_list_get(actor=actor, public_id=public_id)
    name = dnc_list.name
    again = _confirm(
        request, dnc_list, "Delete", "The list and all its numbers are deleted."
    )
    if again:
        return again
    deleted: list[bool] = []

    def act(data: dict) -> str:
        services.dnc_list_delete(actor=actor, dnc_list=dnc_list, **data)
        deleted.append(True)
        return f"List “{name}” deleted."

    _act(request, forms.ReasonForm(request.POST), act)
    if deleted:
        return redirect("voicegate:policy")
    return redirect("voicegate:policy_dnc_list", public_id=dnc_list.public_id)


@member_required
def caller_ids(request: ActorRequest) -> HttpResponse:
    """Verified caller IDs; POST records one."""
    actor = request.actor
    accounts = _accounts(request)
    form = forms.CallerIdForm(request.POST or None, accounts=accounts)
    if request.method == "POST":
        _act(
            request,
            form,
            lambda data: (
                f"{services.caller_id_verify(actor=actor, **data).number} "
                "recorded as verified."
            ),
        )
        return redirect("voicegate:policy_caller_ids")
    context = {
        "page": paginate(request, selectors.caller_id_list(actor=actor)),
        "form": form,
        "can_act": _can_act(request),
        "withdrawn": CALLER_ID_WITHDRAWN,
        "section": "policy",
        "policy_section": "caller_ids",
    }
    return render(request, "voicegate/policy/caller_ids.html", context)


def _confirm_withdraw(
    request: ActorRequest, subject: str, consequence: str, cancel: str
) -> tuple[str, HttpResponse | None]:
    """(reason, None) once the withdrawal carries its reason; else the
    confirmation page again with the error (trustconsole/lib/confirm.py)."""
    request.actor.require(*services.ACT)
    return confirmed_reason(
        request,
        Confirmation(
            question=f"Withdraw {subject}?",
            consequence=consequence,
            button="Withdraw",
            action=request.path,
            cancel=reverse(cancel),
        ),
    )


@member_required
@require_POST
def caller_id_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Withdraw a verified caller ID, with the reason the confirmation asks."""
    actor = request.actor
    row = selectors.caller_id_get(actor=actor, public_id=public_id)
    _, again = _confirm_withdraw(
        request,
        row.number,
        CALLER_ID_WITHDRAWN,
        "voicegate:policy_caller_ids",
    )
    if again:
        return again
    _act(
        request,
        ConfirmReasonForm(request.POST),
        lambda data: (
            services.caller_id_remove(actor=actor, caller_id=row, **data)
            or f"{row.number} is no longer a verified caller ID."
        ),
    )
    return redirect("voicegate:policy_caller_ids")


@member_required
def consents(request: ActorRequest) -> HttpResponse:
    """Consent records; POST records one."""
    actor = request.actor
    accounts = _accounts(request)
    form = forms.ConsentForm(request.POST or None, accounts=accounts)
    if request.method == "POST":
        _act(
            request,
            form,
            lambda data: (
                f"Consent of {services.consent_record(actor=actor, **data).number} "
                "recorded."
            ),
        )
        return redirect("voicegate:policy_consents")
    context = {
        "page": paginate(request, selectors.consent_list(actor=actor)),
        "form": form,
        "can_act": _can_act(request),
        "withdrawn": CONSENT_WITHDRAWN,
        "section": "policy",
        "policy_section": "consents",
    }
    return render(request, "voicegate/policy/consents.html", context)


@member_required
@require_POST
def consent_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Withdraw a consent record, with the reason the confirmation asks."""
    actor = request.actor
    row = selectors.consent_get(actor=actor, public_id=public_id)
    _, again = _confirm_withdraw(
        request,
        f"the consent of {row.number}",
        CONSENT_WITHDRAWN,
        "voicegate:policy_consents",
    )
    if again:
        return again
    _act(
        request,
        ConfirmReasonForm(request.POST),
        lambda data: (
            services.consent_remove(actor=actor, consent=row, **data)
            or f"Consent of {row.number} withdrawn."
        ),
    )
    return redirect("voicegate:policy_consents")


@member_required
def denials(request: ActorRequest) -> HttpResponse:
    """Every refused outbound call with its violations, filterable by violation."""
    code = request.GET.get("code", "")
    if code not in Violation.values:
        code = ""
    rows = selectors.denial_list(actor=request.actor, code=code)
    context = {
        "page": paginate(request, rows),
        "query": f"code={code}" if code else "",
        "code": code,
        "codes": Violation.choices,
        "by_account": selectors.denial_counts_by_account(actor=request.actor)[:50],
        "section": "policy",
        "policy_section": "denials",
    }
    return render(request, "voicegate/policy/denials.html", context)


@member_required
def policy_settings(request: ActorRequest) -> HttpResponse:
    """The organisation's settings; admins change them."""
    actor = request.actor
    row = selectors.policy_settings_get(actor=actor)
    initial = {name: getattr(row, name) for name in services.SETTINGS_FIELDS}
    form = forms.PolicySettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and not actor.can():
        raise PermissionDenied("Only admins change the outbound policy settings.")
    if request.method == "POST" and form.is_valid():
        try:
            # Choices left empty (an older form) keep their current value.
            changes = {k: v for k, v in form.cleaned_data.items() if v != ""}
            services.policy_settings_update(actor=actor, **changes)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Settings saved.")
            return redirect("voicegate:policy_settings")
    context = {
        "form": form,
        "can_edit": actor.can(),
        "section": "policy",
        "policy_section": "settings",
    }
    return render(request, "voicegate/policy/settings.html", context)
