"""Browser forms of the remediation app (the services validate again)."""

from __future__ import annotations

import re

from django import forms

from remediation.choices import (
    CheckFrequency,
    GateStatus,
    Provider,
    RemediationStatus,
    SpamRisk,
)
from remediation.validation import MAX_EMAIL, MAX_PURPOSE, MAX_WEBHOOK_URL


class SubmitForm(forms.Form):
    """What goes with the selected numbers (the checkboxes are read separately)."""

    call_purpose = forms.CharField(
        max_length=MAX_PURPOSE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="How the numbers are used, e.g. appointment reminders (1–2,000 "
        "characters).",
    )
    contact_email = forms.CharField(
        required=False,
        max_length=MAX_EMAIL,
        widget=forms.EmailInput,
        help_text="Optional contact for follow-up.",
    )
    webhook_url = forms.CharField(
        required=False,
        max_length=MAX_WEBHOOK_URL,
        widget=forms.URLInput(
            attrs={"placeholder": "https://example.com/hooks/remediation"}
        ),
        help_text="Optional https:// URL that receives a signed notification on every "
        "status change.",
    )


class RequestFilterForm(forms.Form):
    """Filter the requests list by status."""

    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *RemediationStatus.choices]
    )


class EnterpriseForm(forms.Form):
    """Register an enterprise."""

    name = forms.CharField(max_length=200, label="Legal name")
    upstream_enterprise_id = forms.CharField(
        max_length=100,
        required=False,
        label="Telnyx enterprise id",
        help_text="Needed when forwarding to Telnyx; the sandbox does without.",
    )


class EnterpriseGatesForm(EnterpriseForm):
    """Change an enterprise and its two approval gates."""

    reputation_status = forms.ChoiceField(choices=GateStatus.choices)
    loa_status = forms.ChoiceField(choices=GateStatus.choices, label="LOA status")


RISK_CHOICES = [("", "No data"), *SpamRisk.choices]


class NumbersAddForm(forms.Form):
    """Add owned numbers, one per line (or separated by commas)."""

    numbers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "+12025550142"}),
        label="Numbers",
        help_text="E.164, one per line; up to 2,000 at once.",
    )
    spam_risk = forms.ChoiceField(choices=RISK_CHOICES, required=False)
    monitored = forms.BooleanField(required=False, initial=True)

    def clean_numbers(self) -> list[str]:
        raw = re.split(r"[\n,;]+", self.cleaned_data["numbers"])
        items = [p.strip() for p in raw if p.strip()]
        if len(items) > 2000:
            raise forms.ValidationError(f"At most 2,000 at once (got {len(items):,}).")
        return items


class NumberRiskForm(forms.Form):
    """Record a number's spam risk."""

    spam_risk = forms.ChoiceField(choices=RISK_CHOICES, required=False)


class SettingsForm(forms.Form):
    """The organisation's provider, API key and cooldown."""

    provider = forms.ChoiceField(choices=Provider.choices)
    api_base = forms.CharField(
        max_length=500,
        required=False,
        label="API base URL",
        help_text="Blank: the provider's default.",
    )
    api_key = forms.CharField(
        max_length=500,
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the current key.",
    )
    cooldown_days = forms.IntegerField(
        min_value=0,
        max_value=365,
        label="Cooldown (days)",
        help_text="Numbers remediated this recently are accepted as ineligible.",
    )


# --- Number reputation monitoring ---------------------------------------------------


class MonitoringEnableForm(forms.Form):
    """Enable monitoring: the signed LOA's document id and the check frequency."""

    loa_document_id = forms.CharField(
        max_length=255,
        label="LOA document id",
        help_text="The id of the signed Letter of Authorization uploaded to the "
        "provider's documents.",
    )
    check_frequency = forms.ChoiceField(
        choices=CheckFrequency.choices, initial=CheckFrequency.BUSINESS_DAILY
    )


class MonitoringFrequencyForm(forms.Form):
    """Change the check frequency (once the reputation status is approved)."""

    check_frequency = forms.ChoiceField(choices=CheckFrequency.choices)


class MonitoringRegisterForm(forms.Form):
    """Register owned numbers for monitoring, one per line (1 to 100)."""

    register_numbers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "+12025550142"}),
        label="Numbers to monitor",
        help_text="E.164, one per line; 1 to 100 per call, all or nothing. Billable.",
    )

    def clean_register_numbers(self) -> list[str]:
        raw = re.split(r"[\n,;]+", self.cleaned_data["register_numbers"])
        items = [p.strip() for p in raw if p.strip()]
        if not 1 <= len(items) <= 100:
            raise forms.ValidationError(f"Give 1 to 100 numbers (got {len(items)}).")
        return items


class MonitoringSettingsForm(forms.Form):
    """The organisation's monitoring settings."""

    review_flagged = forms.BooleanField(
        required=False,
        label="Review newly flagged numbers",
        help_text="List numbers that become elevated with a suggested remediation "
        "batch on the Remediation page.",
    )
    telnyx_public_key = forms.CharField(
        max_length=100,
        required=False,
        label="Telnyx webhook public key",
        help_text="Base64 Ed25519 key that signs the provider's webhooks (blank: "
        "the keys of your Telnyx voice connections).",
    )
    time_zone = forms.CharField(
        max_length=64,
        label="Organisation time zone",
        help_text="IANA name, e.g. America/New_York: business days and daily checks "
        "are counted in it.",
    )
