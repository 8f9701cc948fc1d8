"""Notifications API: what was sent (every member), the settings (admins)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from notifications import forms, services
from notifications.choices import Outcome, Trigger
from notifications.models import Notification
from trustconsole.core.api.views import ActorAPIView


class NotificationOutput(serializers.Serializer):
    """One notification as it was sent."""

    id = serializers.UUIDField(source="public_id")
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    trigger_label = serializers.CharField(source="get_trigger_display")
    subject = serializers.CharField()
    body = serializers.CharField()
    link = serializers.CharField()
    email_recipients = serializers.ListField(child=serializers.CharField())
    email_status = serializers.ChoiceField(choices=Outcome.choices)
    email_detail = serializers.CharField()
    webhook_status = serializers.ChoiceField(
        choices=Outcome.choices, source="slack_status"
    )
    webhook_detail = serializers.CharField(source="slack_detail")
    status = serializers.ChoiceField(choices=Outcome.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class NotificationListParams(serializers.Serializer):
    """Filters of the list."""

    trigger = serializers.ChoiceField(choices=Trigger.choices, required=False)
    status = serializers.ChoiceField(choices=Outcome.choices, required=False)


class NotificationListApi(ActorAPIView):
    """Every notification sent for the organisation, newest first."""

    @extend_schema(
        parameters=[NotificationListParams],
        responses=NotificationOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        params = self.query(NotificationListParams)
        queryset = Notification.objects.filter(
            organisation=self.actor.organisation, recipient__isnull=True
        )
        if params.get("trigger"):
            queryset = queryset.filter(trigger=params["trigger"])
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        return self.paginate(queryset, NotificationOutput)


class SettingsOutput(serializers.Serializer):
    """The settings; the webhook only as its hint."""

    email_recipients = serializers.ListField(child=serializers.EmailField())
    slack_webhook = serializers.CharField(source="slack_webhook_hint")
    queue_size_threshold = serializers.IntegerField()
    queue_age_hours = serializers.IntegerField()
    notify_account_overdue = serializers.BooleanField()
    notify_remediation = serializers.BooleanField()
    notify_fail_mode = serializers.BooleanField()


class SettingsInput(serializers.Serializer):
    """Fields to change; `slack_webhook_url` "" removes the saved webhook."""

    email_recipients = serializers.ListField(
        child=serializers.EmailField(), max_length=forms.MAX_RECIPIENTS, required=False
    )
    slack_webhook_url = serializers.CharField(
        required=False, allow_blank=True, max_length=2000
    )
    queue_size_threshold = serializers.IntegerField(
        min_value=0, max_value=100_000, required=False
    )
    queue_age_hours = serializers.IntegerField(
        min_value=0, max_value=24 * 90, required=False
    )
    notify_account_overdue = serializers.BooleanField(required=False)
    notify_remediation = serializers.BooleanField(required=False)
    notify_fail_mode = serializers.BooleanField(required=False)


class NotificationSettingsApi(ActorAPIView):
    """The organisation's notification settings: admins read and change them."""

    @extend_schema(responses=SettingsOutput)
    def get(self, request: Request) -> Response:
        self.actor.require()
        row = services.settings_for(organisation=self.actor.organisation)
        return Response(SettingsOutput(row).data)

    @extend_schema(request=SettingsInput, responses=SettingsOutput)
    def patch(self, request: Request) -> Response:
        data = SettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = dict(data.validated_data)
        if "email_recipients" in values:
            values["email_recipients"] = list(
                dict.fromkeys(a.lower() for a in values["email_recipients"])
            )
        try:
            row = services.settings_update(actor=self.actor, **values)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from exc
        return Response(SettingsOutput(row).data)
