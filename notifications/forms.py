"""The notification settings form: every error at once, next to its field."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_RECIPIENTS = 20


class NotificationSettingsForm(forms.Form):
    """Where notifications go and when they are sent."""

    email_recipients = forms.CharField(
        label="Email recipients",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One address per line (or separated by commas); at most 20.",
    )
    slack_webhook_url = forms.CharField(
        label="Slack-compatible incoming webhook URL",
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="https:// address of a Slack, Mattermost or Rocket.Chat incoming "
        "webhook. Leave blank to keep the saved one.",
    )
    slack_webhook_remove = forms.BooleanField(
        label="Remove the saved webhook", required=False
    )
    queue_size_threshold = forms.IntegerField(
        label="Notify when the visitor review queue holds this many items",
        min_value=0,
        max_value=100_000,
        help_text="0 turns it off.",
    )
    queue_age_hours = forms.IntegerField(
        label="Notify when a visitor review has waited this many hours",
        min_value=0,
        max_value=24 * 90,
        help_text="0 turns it off.",
    )
    notify_account_overdue = forms.BooleanField(
        label="Notify when an account review becomes overdue", required=False
    )
    notify_remediation = forms.BooleanField(
        label="Notify when a remediation request completes or fails", required=False
    )
    notify_fail_mode = forms.BooleanField(
        label="Notify when the call gate decides in a fail mode", required=False
    )

    def __init__(self, *args: Any, has_saved_webhook: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.has_saved_webhook = has_saved_webhook

    def clean_email_recipients(self) -> list[str]:
        raw = self.cleaned_data.get("email_recipients") or ""
        addresses = [a.strip() for a in re.split(r"[,;\s]+", raw) if a.strip()]
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                "Not an email address: " + ", ".join(bad[:5]) + "."
                if len(bad) < 6
                else f"{len(bad)} entries are not email addresses, e.g. {bad[0]}."
            )
        unique = list(dict.fromkeys(a.lower() for a in addresses))
        if len(unique) > MAX_RECIPIENTS:
            raise ValidationError(
                f"At most {MAX_RECIPIENTS} recipients ({len(unique)} given)."
            )
        return unique

    def clean_slack_webhook_url(self) -> str:
        from notifications.services import slack_url_check

        url = (self.cleaned_data.get("slack_webhook_url") or "").strip()
        if url:
            try:
                slack_url_check(url)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["slack_webhook_url"]) from exc
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "email_recipients" in self.errors or "slack_webhook_url" in self.errors:
            return data
        removing = data.get("slack_webhook_remove")
        if removing and data.get("slack_webhook_url"):
            self.add_error(
                "slack_webhook_remove",
                "Either enter a new webhook or remove the saved one, not both.",
            )
            return data
        webhook = data.get("slack_webhook_url") or (
            self.has_saved_webhook and not removing
        )
        triggers_on = (
            data.get("queue_size_threshold")
            or data.get("queue_age_hours")
            or data.get("notify_account_overdue")
            or data.get("notify_remediation")
            or data.get("notify_fail_mode")
        )
        if triggers_on and not data.get("email_recipients") and not webhook:
            raise ValidationError(
                "Add an email recipient or a webhook, or turn every trigger off."
            )
        return data
