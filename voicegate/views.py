"""Browser views of Voice: Calls, Connections, Block list, Settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from trustconsole.core.actor import ActorRequest
from trustconsole.core.selectors import audit_for_object
from trustconsole.lib.confirm import Confirmation, confirmed_reason
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required, paginate
from voicegate import forms, gate, selectors, services
from voicegate.charts import calls_per_day
from voicegate.choices import Provider
from voicegate.models import VoiceConnection


def _add_errors(form: Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def webhook_url(request: HttpRequest, connection: VoiceConnection) -> str:
    """The address a provider must call for this connection."""
    path = reverse("voicegate_hooks:hook", args=[connection.webhook_token])
    base = settings.VOICEGATE_PUBLIC_BASE_URL
    return base.rstrip("/") + path if base else request.build_absolute_uri(path)


@member_required
def index(request: ActorRequest) -> HttpResponse:
    """Voice opens on the call log."""
    return redirect("voicegate:calls")


@member_required
def calls(request: ActorRequest) -> HttpResponse:
    """Every decision of the gate, with filters."""
    gate.decisions_flush_quietly()
    form = forms.CallFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = selectors.call_list(actor=request.actor, **filters)
    page = paginate(request, rows)
    visitors = selectors.visitors_by_id(
        {row.visitor_id for row in page.object_list if row.visitor_id}
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "visitors": visitors,
        "query": query.urlencode(),
        "section": "calls",
        "per_day": calls_per_day(
            rows, date_from=filters.get("date_from"), date_to=filters.get("date_to")
        ),
    }
    template = "voicegate/calls.html"
    if htmx_partial(request):
        template = "voicegate/partials/_calls_table.html"
    return render(request, template, context)


@member_required
def connections(request: ActorRequest) -> HttpResponse:
    """Connections, and the form to add one (admins)."""
    form = forms.ConnectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(
                actor=request.actor, **form.cleaned_data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Connection {connection.name} added.")
            return redirect("voicegate:connection_detail", connection.public_id)
    context = {
        "form": form,
        "connections": selectors.connection_list(actor=request.actor),
        "can_admin": request.actor.can(),
        "section": "connections",
    }
    return render(request, "voicegate/connections.html", context)


def _setup_steps(provider: str, url: str) -> list[str]:
    steps: dict[str, list[str]] = {
        Provider.TELNYX_CALL_CONTROL: [
            "In the Mission Control Portal, open your Call Control Application.",
            f"Set the webhook URL to {url} and the webhook API version to 2.",
            "Copy the account's public key (Keys & Credentials → Public Key) into "
            "this connection's verification secret.",
            "Put an API key that may control calls into the Telnyx API key field.",
            "Optional: set a downstream URL here; allowed calls and every other event "
            "are handed on to it unchanged, with Telnyx's signature headers.",
        ],
        Provider.TELNYX_TEXML: [
            "In the Mission Control Portal, open your TeXML Application.",
            f"Set the voice URL to {url} with method POST.",
            "Copy the account's public key into the verification secret.",
            "Optional: a downstream URL receives allowed calls through <Redirect>.",
        ],
        Provider.TWILIO: [
            "In the Twilio Console, open the phone number (or TwiML App).",
            f"Under 'A call comes in', choose Webhook, {url}, HTTP POST.",
            "Put the account's auth token into the verification secret.",
            "If the console sits behind a proxy, set VOICEGATE_PUBLIC_BASE_URL to the "
            "address Twilio calls: the signature covers the full URL.",
        ],
        Provider.PLIVO: [
            "In the Plivo console, open the Application of your numbers.",
            f"Set the Answer URL to {url}, method POST.",
            "Put the account's auth token into the verification secret.",
        ],
        Provider.GENERIC: [
            f"From your PBX (Asterisk, FreeSWITCH, FreePBX), POST {url} with a JSON "
            'body {"from": caller, "to": callee, "call_id": optional id}.',
            "Send the shared token as 'Authorization: Bearer <token>'.",
            'Reject the call when the answer\'s "action" is "reject".',
        ],
    }
    return steps.get(provider, [])


@member_required
def connection_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """A connection: its webhook URL, setup steps, settings and history."""
    connection = selectors.connection_get(actor=request.actor, public_id=public_id)
    initial = {
        "name": connection.name,
        "provider": connection.provider,
        "downstream_url": connection.downstream_url,
        "fail_mode": connection.fail_mode,
    }
    form = forms.ConnectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_update(
                actor=request.actor, connection=connection, **form.cleaned_data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Connection saved.")
            return redirect("voicegate:connection_detail", connection.public_id)
    url = webhook_url(request, connection)
    context: dict[str, Any] = {
        "connection": connection,
        "form": form,
        "url": url,
        "steps": _setup_steps(connection.provider, url),
        "audit": audit_for_object(actor=request.actor, obj=connection),
        "can_admin": request.actor.can(),
        "section": "connections",
    }
    return render(request, "voicegate/connection_detail.html", context)


@member_required
@require_POST
def connection_delete(request: ActorRequest, public_id: str) -> HttpResponse:
    """Remove a connection (admins)."""
    connection = selectors.connection_get(actor=request.actor, public_id=public_id)
    request.actor.require()
    reason, again = confirmed_reason(
        request,
        Confirmation(
            question=f"Remove {connection.name}?",
            consequence="Its webhook URL stops answering.",
            button="Remove",
            action=request.path,
            cancel=reverse("voicegate:connection_detail", args=[connection.public_id]),
        ),
    )
    if again:
        return again
    services.connection_delete(
        actor=request.actor, connection=connection, reason=reason
    )
    messages.success(request, f"Connection {connection.name} removed.")
    return redirect("voicegate:connections")


@member_required
def block_list(request: ActorRequest) -> HttpResponse:
    """The organisation block list, and the form to add a number (operators)."""
    form = forms.BlockNumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            blocked = services.blocked_number_add(
                actor=request.actor, **form.cleaned_data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"{blocked.number} is on the block list.")
            return redirect("voicegate:block_list")
    search = request.GET.get("q", "")
    page = paginate(
        request, selectors.blocked_number_list(actor=request.actor, search=search)
    )
    context = {
        "form": form,
        "page": page,
        "q": search,
        "query": urlencode({"q": search}) if search else "",
        "can_act": request.actor.can("operator"),
        "section": "block_list",
    }
    return render(request, "voicegate/block_list.html", context)


@member_required
@require_POST
def block_remove(request: ActorRequest, public_id: str) -> HttpResponse:
    """Take a number off the block list (operators)."""
    blocked = selectors.blocked_number_get(actor=request.actor, public_id=public_id)
    request.actor.require("operator")
    reason, again = confirmed_reason(
        request,
        Confirmation(
            question=f"Remove {blocked.number}?",
            consequence="Calls from it are no longer refused by the block list.",
            button="Remove",
            action=request.path,
            cancel=reverse("voicegate:block_list"),
        ),
    )
    if again:
        return again
    services.blocked_number_remove(actor=request.actor, blocked=blocked, reason=reason)
    if htmx_partial(request):
        return HttpResponse("")
    messages.success(request, f"{blocked.number} removed from the block list.")
    return redirect("voicegate:block_list")


@member_required
@require_POST
def block_mode(request: ActorRequest, public_id: str) -> HttpResponse:
    """Put a block-list entry live, or back into shadow (operators)."""
    blocked = selectors.blocked_number_get(actor=request.actor, public_id=public_id)
    request.actor.require("operator")
    shadow = request.POST.get("shadow") == "1"
    services.blocked_number_set_shadow(
        actor=request.actor, blocked=blocked, shadow=shadow
    )
    messages.success(
        request,
        f"{blocked.number} is in shadow: its calls are only logged."
        if shadow
        else f"{blocked.number} is live: its calls are rejected.",
    )
    return redirect("voicegate:block_list")


@member_required
def voice_settings(request: ActorRequest) -> HttpResponse:
    """The gate settings of the organisation (admins change them)."""
    row = selectors.voice_settings_for(request.actor.organisation.pk)
    initial = {name: getattr(row, name) for name in services.SETTINGS_FIELDS}
    form = forms.VoiceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason", "")
        try:
            services.voice_settings_update(actor=request.actor, reason=reason, **data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Voice settings saved.")
            return redirect("voicegate:settings")
    context = {"form": form, "can_admin": request.actor.can(), "section": "settings"}
    return render(request, "voicegate/settings.html", context)
