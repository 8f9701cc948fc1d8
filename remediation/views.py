"""Browser views: flagged numbers and submission, requests, settings for admins."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from remediation import charts, forms, monitoring, selectors, services
from remediation.choices import Bucket
from remediation.errors import RemediationError
from remediation.models import Enterprise
from trustconsole.core.actor import ActorRequest
from trustconsole.core.selectors import audit_for_object
from trustconsole.lib.confirm import Confirmation, confirmed_reason
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required, paginate

CAVEAT = (
    "A remediated number was re-evaluated and cleared by the call-analytics "
    "networks. That does not guarantee it is removed from every spam list: "
    "downstream carriers and spam filters may still block or label calls from it."
)

# The same words in the page's question (data-confirm) and the confirmation page.
ROTATE_CONSEQUENCE = (
    "Receivers must be updated: status webhooks are signed with the new secret from "
    "now on."
)
DISABLE_CONSEQUENCE = "The provider stops monitoring every number of this enterprise."
TERMS_WITHDRAWN = (
    "Its numbers cannot be sent for remediation until they are accepted again."
)
NUMBER_REMOVED = "It is no longer an owned number of this enterprise."


def _can_submit(request: ActorRequest) -> bool:
    return request.actor.can(*services.SUBMIT_ROLES)


def _chosen_enterprise(request: ActorRequest) -> Enterprise | None:
    wanted = request.GET.get("enterprise") or request.POST.get("enterprise")
    if wanted:
        return selectors.enterprise_get(actor=request.actor, public_id=wanted)
    return selectors.enterprise_default(actor=request.actor)


def _index_context(
    request: ActorRequest, enterprise: Enterprise | None, form: forms.SubmitForm
) -> dict[str, Any]:
    actor = request.actor
    context: dict[str, Any] = {
        "enterprises": selectors.enterprise_list(actor=actor),
        "enterprise": enterprise,
        "form": form,
        "can_submit": _can_submit(request),
        "selected": set(request.POST.getlist("phone_numbers")),
    }
    if enterprise is not None:
        org_settings = selectors.settings_for(organisation=actor.organisation)
        flagged = selectors.flagged_numbers(
            actor=actor, enterprise=enterprise, cooldown_days=org_settings.cooldown_days
        )
        review = (
            selectors.review_numbers(
                actor=actor,
                enterprise=enterprise,
                cooldown_days=org_settings.cooldown_days,
            )
            if org_settings.review_flagged
            else []
        )
        if request.method == "GET" and request.GET.get("suggest"):
            context["selected"] = {n.e164 for n in review if n.suggested}
        context.update(
            page=paginate(request, flagged, per_page=200),
            cooldown_days=org_settings.cooldown_days,
            recent=selectors.request_list(actor=actor, enterprise=enterprise)[:5],
            query=f"enterprise={enterprise.public_id}",
            review=review,
            review_enabled=org_settings.review_flagged,
            newly_flagged={n.e164 for n in review},
            suggested=[n.e164 for n in review if n.suggested],
            can_refresh=request.actor.can(*monitoring.REFRESH_ROLES)
            and enterprise.monitoring_approved,
            refreshes=selectors.refresh_list(actor=actor, enterprise=enterprise)[:5],
        )
    return context


@member_required
def index(request: ActorRequest) -> HttpResponse:
    """Remediation: flagged numbers to pick and submit, and recent requests."""
    enterprise = _chosen_enterprise(request)
    context = _index_context(request, enterprise, forms.SubmitForm())
    return render(request, "remediation/index.html", context)


@member_required
@require_POST
def request_create(request: ActorRequest) -> HttpResponse:
    """Submit the checked numbers for remediation."""
    enterprise = _chosen_enterprise(request)
    if enterprise is None:
        raise Http404("No enterprise.")
    form = forms.SubmitForm(request.POST)
    numbers = request.POST.getlist("phone_numbers")
    if form.is_valid():
        try:
            remediation = services.remediation_submit(
                actor=request.actor,
                enterprise=enterprise,
                phone_numbers=numbers,
                **form.cleaned_data,
            )
        except RemediationError as exc:
            for p in exc.problems:
                field = (p.pointer or "").strip("/").split("/")[0]
                form.add_error(field if field in form.fields else None, p.detail)
        else:
            messages.success(
                request,
                f"{remediation.phone_numbers_count} number(s) submitted for "
                "remediation.",
            )
            return redirect("remediation:request_detail", remediation.public_id)
    context = _index_context(request, enterprise, form)
    return render(request, "remediation/index.html", context, status=400)


@member_required
def request_list(request: ActorRequest) -> HttpResponse:
    """Remediation requests of the organisation, filtered by status."""
    form = forms.RequestFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    queryset = selectors.request_list(actor=request.actor, status=status)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": paginate(request, queryset),
        "query": query.urlencode(),
    }
    template = (
        "remediation/partials/_requests_table.html"
        if htmx_partial(request)
        else "remediation/requests.html"
    )
    return render(request, template, context)


@member_required
def request_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """A request: status, progress, buckets, tiers, webhook attempts, history."""
    actor = request.actor
    remediation = selectors.request_get(actor=actor, public_id=public_id)
    context = {
        "req": remediation,
        "progress": selectors.request_progress(request=remediation),
        "results": selectors.request_results(request=remediation),
        "bucket_labels": dict(Bucket.choices),
        "deliveries": selectors.request_deliveries(request=remediation),
        "caveat": CAVEAT,
        "can_submit": _can_submit(request),
    }
    if htmx_partial(request):
        return render(request, "remediation/partials/_live.html", context)
    context.update(
        numbers=selectors.request_numbers(request=remediation),
        history=audit_for_object(actor=actor, obj=remediation)[:50],
        effects=selectors.request_effects(request=remediation),
    )
    return render(request, "remediation/request_detail.html", context)


@member_required
@require_POST
def request_cancel(request: ActorRequest, public_id: str) -> HttpResponse:
    """Cancel a pending request."""
    remediation = selectors.request_get(actor=request.actor, public_id=public_id)
    reason, again = confirmed_reason(
        request,
        Confirmation(
            question="Cancel this remediation request?",
            consequence="Its numbers are not re-evaluated.",
            button="Cancel",
            action=request.path,
            cancel=reverse("remediation:request_detail", args=[remediation.public_id]),
        ),
    )
    if again:
        return again
    try:
        services.remediation_cancel(
            actor=request.actor, request=remediation, reason=reason
        )
    except RemediationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Remediation request cancelled.")
    return redirect("remediation:request_detail", remediation.public_id)


# --- Settings → Remediation (admins change; members read) -------------------------


def _form_errors(form: Any, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        target = field if field in form.fields else None
        for error in errors:
            form.add_error(target, error)


def _rotate_confirmation() -> Confirmation:
    settings_url = reverse("remediation:settings")
    return Confirmation(
        question="Rotate the webhook signing secret?",
        consequence=ROTATE_CONSEQUENCE,
        button="Rotate secret",
        action=settings_url,
        cancel=settings_url,
        hidden=[("action", "rotate")],
    )


def _disable_confirmation(
    request: ActorRequest, enterprise: Enterprise
) -> HttpResponse | None:
    """The confirmation again (400) unless disabling monitoring has a reason."""
    request.actor.require()  # admins only, asked before the reason
    _, again = confirmed_reason(
        request,
        Confirmation(
            question=f"Disable monitoring of {enterprise.name}?",
            consequence=DISABLE_CONSEQUENCE,
            button="Disable monitoring",
            action=request.path,
            cancel=request.path,
            hidden=[("action", "monitoring_disable")],
        ),
    )
    return again


@member_required
def settings_index(request: ActorRequest) -> HttpResponse:
    """Enterprises, provider settings, webhook secret."""
    actor = request.actor
    row = selectors.settings_for(organisation=actor.organisation)
    context = {
        "enterprises": selectors.enterprise_list(actor=actor),
        "enterprise_form": forms.EnterpriseForm(),
        "settings_form": forms.SettingsForm(
            initial={
                "provider": row.provider,
                "api_base": row.api_base,
                "cooldown_days": row.cooldown_days,
            }
        ),
        "org_settings": row,
        "rotate_consequence": ROTATE_CONSEQUENCE,
        "monitoring_form": forms.MonitoringSettingsForm(
            initial={
                "review_flagged": row.review_flagged,
                "telnyx_public_key": row.telnyx_public_key,
                "time_zone": actor.organisation.time_zone,
            }
        ),
        "reputation_webhook_url": request.build_absolute_uri(
            reverse("reputation_webhook", args=[actor.organisation.public_id])
        ),
    }
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "enterprise":
            form = forms.EnterpriseForm(request.POST)
            context["enterprise_form"] = form
            if form.is_valid():
                try:
                    enterprise = services.enterprise_create(
                        actor=actor, **form.cleaned_data
                    )
                except ValidationError as exc:
                    _form_errors(form, exc)
                else:
                    messages.success(request, f"Enterprise {enterprise.name} added.")
                    return redirect("remediation:enterprise", enterprise.public_id)
        elif action == "settings":
            settings_form = forms.SettingsForm(request.POST)
            context["settings_form"] = settings_form
            if settings_form.is_valid():
                try:
                    services.settings_update(actor=actor, **settings_form.cleaned_data)
                except ValidationError as exc:
                    _form_errors(settings_form, exc)
                else:
                    messages.success(request, "Remediation settings saved.")
                    return redirect("remediation:settings")
        elif action == "monitoring":
            monitoring_form = forms.MonitoringSettingsForm(request.POST)
            context["monitoring_form"] = monitoring_form
            if monitoring_form.is_valid():
                try:
                    monitoring.monitoring_settings_update(
                        actor=actor, **monitoring_form.cleaned_data
                    )
                except ValidationError as exc:
                    _form_errors(monitoring_form, exc)
                else:
                    messages.success(request, "Monitoring settings saved.")
                    return redirect("remediation:settings")
        elif action == "rotate":
            actor.require()  # admins only, asked before the reason
            reason, again = confirmed_reason(request, _rotate_confirmation())
            if again:
                return again
            # Shown in this answer only: it is stored encrypted and never shown again.
            row = services.webhook_secret_rotate(actor=actor, reason=reason)
            context["org_settings"] = row
            context["new_webhook_secret"] = row.webhook_secret
            return render(request, "remediation/settings.html", context)
    status = 400 if request.method == "POST" else 200
    return render(request, "remediation/settings.html", context, status=status)


@member_required
def enterprise_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """An enterprise: gates, terms and owned numbers."""
    actor = request.actor
    enterprise = selectors.enterprise_get(actor=actor, public_id=public_id)
    gates_form = forms.EnterpriseGatesForm(
        initial={
            "name": enterprise.name,
            "upstream_enterprise_id": enterprise.upstream_enterprise_id,
            "reputation_status": enterprise.reputation_status,
            "loa_status": enterprise.loa_status,
        }
    )
    add_form = forms.NumbersAddForm()
    monitor_forms = {
        "enable": forms.MonitoringEnableForm(),
        "frequency": forms.MonitoringFrequencyForm(
            initial={"check_frequency": enterprise.check_frequency}
        ),
        "register": forms.MonitoringRegisterForm(),
    }
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "gates":
                gates_form = forms.EnterpriseGatesForm(request.POST)
                if gates_form.is_valid():
                    services.enterprise_update(
                        actor=actor, enterprise=enterprise, **gates_form.cleaned_data
                    )
                    messages.success(request, "Enterprise saved.")
                    return redirect("remediation:enterprise", enterprise.public_id)
            elif action == "accept_terms":
                services.enterprise_update(
                    actor=actor, enterprise=enterprise, terms_accepted=True
                )
                messages.success(request, "Terms of Service acceptance recorded.")
                return redirect("remediation:enterprise", enterprise.public_id)
            elif action == "revoke_terms":
                actor.require()
                reason, again = confirmed_reason(
                    request,
                    Confirmation(
                        question="Withdraw the Terms of Service acceptance of "
                        f"{enterprise.name}?",
                        consequence=TERMS_WITHDRAWN,
                        button="Withdraw",
                        action=request.path,
                        cancel=request.path,
                        hidden=[("action", "revoke_terms")],
                    ),
                )
                if again:
                    return again
                services.enterprise_update(
                    actor=actor,
                    enterprise=enterprise,
                    terms_accepted=False,
                    reason=reason,
                )
                messages.success(request, "Terms of Service acceptance withdrawn.")
                return redirect("remediation:enterprise", enterprise.public_id)
            elif action == "add_numbers":
                add_form = forms.NumbersAddForm(request.POST)
                if add_form.is_valid():
                    data = add_form.cleaned_data
                    rows = services.numbers_add(
                        actor=actor,
                        enterprise=enterprise,
                        phone_numbers=data["numbers"],
                        spam_risk=data["spam_risk"] or None,
                        monitored=data["monitored"],
                    )
                    messages.success(request, f"{len(rows)} number(s) added.")
                    return redirect("remediation:enterprise", enterprise.public_id)
            elif action == "delete":
                reason, again = confirmed_reason(
                    request,
                    Confirmation(
                        question=f"Remove {enterprise.name}?",
                        consequence="The enterprise and its numbers are deleted.",
                        button="Remove",
                        action=request.path,
                        cancel=request.path,
                        hidden=[("action", "delete")],
                    ),
                )
                if again:
                    return again
                services.enterprise_delete(
                    actor=actor, enterprise=enterprise, reason=reason
                )
                messages.success(request, f"Enterprise {enterprise.name} removed.")
                return redirect("remediation:settings")
            elif action == "monitoring_disable" and (
                again := _disable_confirmation(request, enterprise)
            ):
                return again
            elif action and action.startswith("monitoring_"):
                done = _monitoring_action(request, enterprise, action, monitor_forms)
                if done:
                    messages.success(request, done)
                    return redirect("remediation:enterprise", enterprise.public_id)
        except ValidationError as exc:
            if action == "add_numbers":
                for error in exc.messages:
                    add_form.add_error("numbers", error)
            elif action == "gates":
                _form_errors(gates_form, exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect("remediation:enterprise", enterprise.public_id)
    numbers = selectors.number_list(
        actor=actor,
        enterprise=enterprise,
        spam_risk=request.GET.get("spam_risk", ""),
        search=request.GET.get("q", ""),
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "enterprise": enterprise,
        "disable_consequence": DISABLE_CONSEQUENCE,
        "terms_withdrawn": TERMS_WITHDRAWN,
        "gates_form": gates_form,
        "add_form": add_form,
        "page": paginate(request, numbers, per_page=100),
        "query": query.urlencode(),
        "risk_choices": forms.RISK_CHOICES,
        "history": audit_for_object(actor=actor, obj=enterprise)[:30],
        "monitor_forms": monitor_forms,
        "webhook_url": monitoring.webhook_url_for(enterprise),
        "refreshes": selectors.refresh_list(actor=actor, enterprise=enterprise)[:10],
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "remediation/enterprise.html", context, status=status)


@member_required
@require_POST
def number_change(request: ActorRequest, public_id: str, e164: str) -> HttpResponse:
    """Set a number's spam risk, or remove it (admin)."""
    actor = request.actor
    enterprise = selectors.enterprise_get(actor=actor, public_id=public_id)
    number = selectors.number_get(actor=actor, enterprise=enterprise, e164=e164)
    back = reverse("remediation:enterprise", args=[enterprise.public_id])
    try:
        if request.POST.get("action") == "remove":
            actor.require()
            reason, again = confirmed_reason(
                request,
                Confirmation(
                    question=f"Remove {e164} from {enterprise.name}?",
                    consequence=NUMBER_REMOVED,
                    button="Remove",
                    action=request.path,
                    cancel=back,
                    hidden=[("action", "remove")],
                ),
            )
            if again:
                return again
            services.number_remove(actor=actor, number=number, reason=reason)
            messages.success(request, f"{e164} removed.")
        elif request.POST.get("action") == "deregister":
            monitoring.reputation_number_deregister(actor=actor, number=number)
            messages.success(request, f"{e164} is no longer monitored.")
        else:
            form = forms.NumberRiskForm(request.POST)
            if form.is_valid():
                services.number_update(
                    actor=actor,
                    number=number,
                    spam_risk=form.cleaned_data["spam_risk"] or None,
                )
                messages.success(request, f"Spam risk of {e164} saved.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except RemediationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(back)


# --- Number reputation monitoring -------------------------------------------------


def _monitoring_action(
    request: ActorRequest,
    enterprise: Enterprise,
    action: str,
    monitor_forms: dict[str, Any],
) -> str | None:
    """Run one monitoring action of the enterprise page; a message when done.

    Refusals (the actor's role, the provider's answer) land on the form.
    """
    actor = request.actor
    name = action.removeprefix("monitoring_")
    if name == "disable":
        try:
            monitoring.reputation_disable(
                actor=actor,
                enterprise=enterprise,
                reason=request.POST.get("reason", ""),
            )
        except RemediationError as exc:
            raise ValidationError(exc.messages) from None
        return "Monitoring disabled; the provider stopped monitoring every number."
    form_class = {
        "enable": forms.MonitoringEnableForm,
        "frequency": forms.MonitoringFrequencyForm,
        "register": forms.MonitoringRegisterForm,
    }.get(name)
    if form_class is None:
        return None
    form = monitor_forms[name] = form_class(request.POST)
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        if name == "enable":
            monitoring.reputation_enable(actor=actor, enterprise=enterprise, **data)
            return "Monitoring enabled: the provider is vetting the enterprise."
        if name == "frequency":
            monitoring.reputation_frequency_update(
                actor=actor, enterprise=enterprise, **data
            )
            return "Check frequency saved."
        rows = monitoring.reputation_numbers_register(
            actor=actor, enterprise=enterprise, phone_numbers=data["register_numbers"]
        )
        return f"{len(rows)} number(s) registered for monitoring."
    except RemediationError as exc:
        for p in exc.problems:
            form.add_error(None, p.detail)
    return None


@member_required
@require_POST
def reputation_refresh(request: ActorRequest) -> HttpResponse:
    """Refresh the checked numbers now (billable; the page asks to confirm)."""
    enterprise = _chosen_enterprise(request)
    if enterprise is None:
        raise Http404("No enterprise.")
    back = reverse("remediation:index") + f"?enterprise={enterprise.public_id}"
    if request.POST.get("confirm_billable") != "on":
        messages.error(
            request, "Confirm that a refresh is billable (one lookup per number)."
        )
        return redirect(back)
    try:
        job = monitoring.reputation_refresh_request(
            actor=request.actor,
            enterprise=enterprise,
            phone_numbers=request.POST.getlist("phone_numbers"),
        )
    except RemediationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Refresh of {len(job.phone_numbers)} number(s) queued (billable).",
        )
    return redirect(back)


@member_required
def number_detail(request: ActorRequest, public_id: str, e164: str) -> HttpResponse:
    """One number: its spam risk over time, every observation, its remediations."""
    actor = request.actor
    enterprise = selectors.enterprise_get(actor=actor, public_id=public_id)
    number = selectors.number_get(actor=actor, enterprise=enterprise, e164=e164)
    observations = list(selectors.observation_list(number=number))
    remediations = list(selectors.number_remediations(number=number))
    chart = charts.risk_chart_svg(
        [(o.observed_at, o.spam_risk) for o in observations],
        marks=[
            (r.outcome_at, f"remediation: {r.get_outcome_display()}")
            for r in remediations
            if r.outcome_at
        ],
        title=f"Spam risk of {number.e164} over time",
    )
    context = {
        "enterprise": enterprise,
        "number": number,
        "observations": observations[::-1][:200],
        "remediations": remediations,
        "chart": chart,
    }
    return render(request, "remediation/number_detail.html", context)
