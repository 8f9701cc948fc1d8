"""Browser views of the core app: dashboard, organisation switch, settings, health."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.db import connection
from django.forms import BaseForm
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from trustconsole.core import forms, loginguard, selectors, services
from trustconsole.core.actor import ActorRequest
from trustconsole.core.dashboard import dashboard_charts, dashboard_data
from trustconsole.core.health import broker_status
from trustconsole.core.middleware import SESSION_KEY
from trustconsole.core.models import Membership
from trustconsole.lib.confirm import Confirmation, confirmed_reason
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required, paginate


def _add_errors(form: BaseForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        target = field if field in form.fields else None
        for error in errors:
            form.add_error(target, error)


class LoginView(auth_views.LoginView):
    """Django's login, plus the demo logins when the demo data is loaded."""

    redirect_authenticated_user = True
    authentication_form = forms.LoginForm  # throttled (core.loginguard)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "demo": selectors.demo_logins()}


@member_required
def dashboard(request: ActorRequest) -> HttpResponse:
    """The landing page: the organisation at a glance, worker health, activity."""
    actor = request.actor
    data = dashboard_data(actor=actor)
    context = {
        "data": data,
        "charts": dashboard_charts(data),
        "heartbeat_age": selectors.heartbeat_age_seconds(),
        "recent_audit": selectors.audit_list(actor=actor)[:10],
        "member_count": selectors.membership_list(actor=actor).count(),
    }
    return render(request, "core/dashboard.html", context)


@member_required
@require_POST
def organisation_switch(request: ActorRequest) -> HttpResponse:
    """Make another of the user's organisations the current one."""
    membership = (
        Membership.objects.filter(
            user=request.user,  # type: ignore[misc]  # member_required: logged in
            organisation__slug=request.POST.get("organisation", ""),
        )
        .select_related("organisation")
        .first()
    )
    if membership is None:
        raise Http404("No such organisation.")
    request.session[SESSION_KEY] = membership.organisation_id
    messages.success(request, f"Now working in {membership.organisation.name}.")
    return redirect("core:dashboard")


@member_required
def members(request: ActorRequest) -> HttpResponse:
    """Settings → Members: list; admins add members."""
    form = forms.MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.membership_add(
                actor=request.actor, **form.cleaned_data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request, f"{membership.user.email} added as {membership.role}."
            )
            return redirect("core:members")
    memberships = list(selectors.membership_list(actor=request.actor))
    locks = loginguard.lockouts_for(m.user.get_username() for m in memberships)
    for m in memberships:
        key = loginguard.normalise_username(m.user.get_username())
        m.lockout = locks.get(key)  # type: ignore[attr-defined]
    context = {
        "memberships": memberships,
        "form": form,
        "role_form": forms.MemberRoleForm(),
    }
    return render(request, "core/members.html", context)


@member_required
@require_POST
def member_unlock(request: ActorRequest, public_id: str) -> HttpResponse:
    """Clear a member's log-in lockout (admin)."""
    membership = selectors.membership_get(actor=request.actor, public_id=public_id)
    form = forms.ReasonForm(request.POST)
    form.is_valid()
    cleared = services.membership_unlock(
        actor=request.actor,
        membership=membership,
        reason=form.cleaned_data.get("reason", ""),
    )
    if cleared:
        messages.success(request, f"{membership.user.email} can log in again.")
    else:
        messages.info(request, f"{membership.user.email} was not locked out.")
    return redirect("core:members")


@member_required
@require_POST
def member_role(request: ActorRequest, public_id: str) -> HttpResponse:
    """Change a member's role (admin)."""
    membership = selectors.membership_get(actor=request.actor, public_id=public_id)
    form = forms.MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("core:members")
    try:
        services.membership_change_role(
            actor=request.actor, membership=membership, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.email} is now {membership.role}.")
    return redirect("core:members")


@member_required
@require_POST
def member_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Remove a member (admin)."""
    membership = selectors.membership_get(actor=request.actor, public_id=public_id)
    request.actor.require()
    reason, again = confirmed_reason(
        request,
        Confirmation(
            question=f"Remove {membership.user.email}?",
            consequence="They lose access to this organisation at once.",
            button="Remove",
            action=request.path,
            cancel=reverse("core:members"),
        ),
    )
    if again:
        return again
    try:
        services.membership_remove(
            actor=request.actor, membership=membership, reason=reason
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.email} removed.")
    return redirect("core:members")


@member_required
def tokens(request: ActorRequest) -> HttpResponse:
    """Settings → API tokens: list; admins create (value shown once) and revoke."""
    form = forms.TokenCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.token_create(actor=request.actor, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            created = {"token": token, "raw": raw}
            form = forms.TokenCreateForm()
    context = {
        "tokens": selectors.token_list(actor=request.actor),
        "form": form,
        "created": created,
    }
    return render(request, "core/tokens.html", context)


@member_required
@require_POST
def token_revoke(request: ActorRequest, public_id: str) -> HttpResponse:
    """Revoke an API token (admin)."""
    token = selectors.token_get(actor=request.actor, public_id=public_id)
    request.actor.require()
    reason, again = confirmed_reason(
        request,
        Confirmation(
            question=f"Revoke {token.name}?",
            consequence="Clients using it stop working at once.",
            button="Revoke",
            action=request.path,
            cancel=reverse("core:tokens"),
        ),
    )
    if again:
        return again
    services.token_revoke(actor=request.actor, token=token, reason=reason)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("core:tokens")


@member_required
def audit_log(request: ActorRequest) -> HttpResponse:
    """Settings → Audit log: every change in the organisation, newest first."""
    queryset = selectors.audit_list(
        actor=request.actor,
        action=request.GET.get("action", "").strip(),
        target_type=request.GET.get("target_type", "").strip(),
        target_id=request.GET.get("target_id", "").strip(),
    )
    page = paginate(request, queryset)
    template = (
        "core/partials/_audit_table.html"
        if htmx_partial(request)
        else "core/audit_log.html"
    )
    return render(request, template, {"page": page, "entries": page.object_list})


@require_GET
def healthz(request: ActorRequest) -> JsonResponse:
    """Database and broker reachability: 200 when both answer, else 503."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        checks["database"] = f"error: {exc.__class__.__name__}"
    checks["broker"] = broker_status()
    healthy = all(value == "ok" for value in checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", **checks}
    try:
        age = selectors.heartbeat_age_seconds()
    except Exception:  # noqa: BLE001 - the database check above already reports it
        age = None
    body["housekeeping_age_seconds"] = None if age is None else round(age, 1)
    return JsonResponse(body, status=200 if healthy else 503)
