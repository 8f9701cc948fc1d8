"""Forms of the voicegate pages (validation proper is in the services)."""

from __future__ import annotations

from django import forms

from voicegate.choices import CallerPolicy, Decision, FailMode, Provider


class ConnectionForm(forms.Form):
    """Add or change a voice connection."""

    name = forms.CharField(max_length=120)
    provider = forms.ChoiceField(choices=Provider.choices)
    secret = forms.CharField(
        label="Verification secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=(
            "Telnyx: public key from the Mission Control Portal. Twilio, Plivo: auth "
            "token. Generic: a shared token of 16+ characters. Leave blank when "
            "editing to keep the current one."
        ),
    )
    api_key = forms.CharField(
        label="Telnyx API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Telnyx Call Control only: used to send the reject command.",
    )
    downstream_url = forms.CharField(
        label="Downstream URL",
        required=False,
        max_length=2048,
        help_text="Your voice application; allowed calls are handed on to it.",
    )
    fail_mode = forms.ChoiceField(choices=FailMode.choices, initial=FailMode.OPEN)


class BlockNumberForm(forms.Form):
    """Add a number to the block list."""

    number = forms.CharField(
        max_length=40, help_text="International format, e.g. +14155550123"
    )
    reason = forms.CharField(max_length=500, required=False)
    shadow = forms.BooleanField(
        label="Shadow (log only)",
        required=False,
        help_text="Calls are logged as “would have been rejected” and let through: "
        "try a block before it acts.",
    )


class VoiceSettingsForm(forms.Form):
    """The organisation's gate settings."""

    anonymous_policy = forms.ChoiceField(
        label="Anonymous or withheld caller ID", choices=CallerPolicy.choices
    )
    unparseable_policy = forms.ChoiceField(
        label="Unparseable caller ID", choices=CallerPolicy.choices
    )
    repeated_call_threshold = forms.IntegerField(
        label="Repeated calls threshold",
        min_value=1,
        max_value=10_000,
        help_text="More calls than this from one number in the window: a risk signal.",
    )
    repeated_call_window_seconds = forms.IntegerField(
        label="Window (seconds)", min_value=10, max_value=7 * 24 * 3600
    )
    reason = forms.CharField(max_length=500, required=False)


class CallFilterForm(forms.Form):
    """Filters of the Calls page."""

    decision = forms.ChoiceField(
        choices=[("", "Any decision"), *Decision.choices], required=False
    )
    number = forms.CharField(required=False, max_length=40)
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
