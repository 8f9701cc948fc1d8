"""Settings → Notifications: the settings (admins change) and what was sent."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from notifications import forms, services, tasks
from notifications.models import Notification, NotificationSettings
from trustconsole.core.actor import ActorRequest
from trustconsole.lib.views import member_required, paginate


@member_required
def settings_index(request: ActorRequest) -> HttpResponse:
    """Where notifications go and when; the latest ones sent."""
    actor = request.actor
    row = services.settings_for(organisation=actor.organisation)
    initial = {name: getattr(row, name) for name in services.SETTINGS_FIELDS}
    initial["email_recipients"] = "\n".join(row.email_recipients)
    can_admin = actor.can()
    data = request.POST if request.method == "POST" and can_admin else None
    form = forms.NotificationSettingsForm(
        data, initial=initial, has_saved_webhook=bool(row.slack_webhook_url)
    )
    status = 200
    if request.method == "POST" and request.POST.get("action") == "test":
        return _send_test(request, row)
    if request.method == "POST":
        if not can_admin:
            status = 403
            messages.error(request, "Only admins change the notification settings.")
        elif form.is_valid():
            values = dict(form.cleaned_data)
            url = values.pop("slack_webhook_url")
            remove = values.pop("slack_webhook_remove")
            try:
                services.settings_update(
                    actor=actor,
                    slack_webhook_url="" if remove else (url or None),
                    **values,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Notification settings saved.")
                return redirect("notifications:settings")
        if form.errors:
            status = 400
    recent = Notification.objects.filter(
        organisation=actor.organisation, recipient__isnull=True
    )[:5]
    context = {
        "form": form,
        "row": row,
        "can_admin": can_admin,
        "recent": recent,
    }
    return render(request, "notifications/settings.html", context, status=status)


def _send_test(request: ActorRequest, row: NotificationSettings) -> HttpResponse:
    actor = request.actor
    if not actor.can():
        messages.error(request, "Only admins send test notifications.")
    elif not row.pk or not row.has_channel:
        messages.error(request, "Save an email recipient or a webhook first.")
    else:
        organisation_id, by = actor.organisation.pk, actor.label
        transaction.on_commit(lambda: tasks.send_test.delay(organisation_id, by))
        messages.success(
            request,
            "A test notification is on its way; its outcome appears under Latest sent.",
        )
    return redirect("notifications:settings")


@member_required
def notification_list(request: ActorRequest) -> HttpResponse:
    """Every notification sent for the organisation, newest first."""
    queryset = Notification.objects.filter(
        organisation=request.actor.organisation, recipient__isnull=True
    )
    page = paginate(request, queryset)
    return render(
        request,
        "notifications/list.html",
        {"page": page, "notifications": page.object_list},
    )


@member_required
def mine(request: ActorRequest) -> HttpResponse:
    """The member's own notifications (escalations to them), newest first."""
    actor = request.actor
    queryset = Notification.objects.filter(
        organisation=actor.organisation, recipient=actor.user
    )
    page = paginate(request, queryset)
    return render(
        request,
        "notifications/mine.html",
        {"page": page, "notifications": page.object_list},
    )


@member_required
def notification_open(request: ActorRequest, public_id: str) -> HttpResponse:
    """Mark one of the member's notifications read and go where it points."""
    row = services.notification_open(actor=request.actor, public_id=public_id)
    return redirect(row.link or "notifications:mine")


@member_required
@require_POST
def mark_all_read(request: ActorRequest) -> HttpResponse:
    """Mark every notification of the member read."""
    n = services.notifications_mark_read(actor=request.actor)
    messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked read.")
    return redirect("notifications:mine")
