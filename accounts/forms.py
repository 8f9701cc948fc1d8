"""Browser forms of the accounts app. Services do the real validation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from accounts.choices import AccountStatus, Decision, EvidenceKind, Service

EVIDENCE_SLOTS = 3
KIND_CHOICES = [("", "—"), *EvidenceKind.choices]


class AccountFilterForm(forms.Form):
    """Filters of the accounts list."""

    q = forms.CharField(required=False, label="Search", max_length=200)
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *AccountStatus.choices]
    )
    service = forms.ChoiceField(
        required=False,
        label="Service restricted",
        choices=[("", "Any service"), *Service.choices],
    )
    overdue = forms.BooleanField(required=False, label="Overdue review")


class RestrictForm(forms.Form):
    """Restrict named services."""

    services = forms.MultipleChoiceField(
        choices=Service.choices, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(max_length=1000, help_text="Internal; audited.")


class BlockForm(forms.Form):
    """Block (case review) or permanently block."""

    reason = forms.CharField(max_length=1000, help_text="Internal; audited.")
    permanent = forms.BooleanField(
        required=False, label="Permanent block (close the account)"
    )
    confirm_permanent = forms.BooleanField(
        required=False,
        label="I confirm: a permanent block cannot be undone",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("permanent") and not data.get("confirm_permanent"):
            self.add_error(
                "confirm_permanent",
                "Tick to confirm: a permanent block cannot be undone.",
            )
        data.pop("confirm_permanent", None)
        return data


class PortAwayForm(forms.Form):
    """Grant temporary port-away access."""

    expires_at = forms.DateTimeField(
        label="Access until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    reason = forms.CharField(max_length=1000)


class RefundForm(forms.Form):
    """Record a refund request for unused funds."""

    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reason = forms.CharField(max_length=1000, required=False)


class RestoreForm(forms.Form):
    """Lift a temporary block after the case review."""

    reason = forms.CharField(
        max_length=1000,
        label="Case review outcome",
        help_text="Internal; audited. What was fixed, why the block can be lifted.",
    )


class NumbersAddForm(forms.Form):
    """Phone numbers the account owns, one per line or separated by commas."""

    numbers = forms.CharField(
        label="Numbers to add",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "+14155550100"}),
        help_text=(
            "International format (+…), one per line or comma-separated; a number "
            "without + is read in the console's default region."
        ),
    )

    def clean_numbers(self) -> list[str]:
        raw = self.cleaned_data["numbers"].replace(",", "\n")
        return [line.strip() for line in raw.splitlines() if line.strip()]


class NumberRemoveForm(forms.Form):
    """One owned number to remove."""

    number = forms.CharField(max_length=32)


class FeedbackForm(forms.Form):
    """Feedback on the block process, recorded from the customer's email."""

    ticket_id = forms.RegexField(
        regex=r"^\S+$",
        max_length=100,
        label="Chat or ticket id",
        error_messages={"invalid": "A ticket id has no spaces, e.g. T-1042."},
    )
    body = forms.CharField(
        label="Feedback",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the customer says could be improved. Not an appeal: the "
        "account's status does not change and no reply is promised.",
    )


class RefundOutcomeForm(forms.Form):
    """Record what became of a refund request."""

    status = forms.ChoiceField(
        choices=[("approved", "Approved"), ("refused", "Refused"), ("paid", "Paid")]
    )
    note = forms.CharField(max_length=1000)


class RequestForm(forms.Form):
    """A reassessment request raised by support on the customer's behalf."""

    company_name = forms.CharField(required=False)
    company_website = forms.CharField(required=False)
    use_case = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="e.g. OTP, order tracking",
    )
    services_wanted = forms.MultipleChoiceField(
        required=False, choices=Service.choices, widget=forms.CheckboxSelectMultiple
    )
    sample_message = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when SMS is wanted.",
    )
    destination_countries = forms.CharField(
        required=False, help_text="ISO codes separated by commas, e.g. GB, US"
    )
    estimated_units_per_month = forms.CharField(required=False)
    estimated_spend_per_month = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, EVIDENCE_SLOTS + 1):
            self.fields[f"evidence_kind_{n}"] = forms.ChoiceField(
                required=False, choices=KIND_CHOICES, label=f"Evidence {n}: kind"
            )
            self.fields[f"evidence_file_{n}"] = forms.FileField(
                required=False,
                label=f"Evidence {n}: file (PDF or image)",
                widget=forms.ClearableFileInput(
                    attrs={"accept": ".pdf,.png,.jpg,.jpeg,.gif,.webp"}
                ),
            )
            self.fields[f"evidence_url_{n}"] = forms.CharField(
                required=False, label=f"Evidence {n}: or a link"
            )

    def request_data(self) -> dict:
        """The fields as the service takes them."""
        data = {
            k: v for k, v in self.cleaned_data.items() if not k.startswith("evidence")
        }
        data["destination_countries"] = [
            c.strip() for c in data["destination_countries"].split(",") if c.strip()
        ]
        return data

    def evidence_slots(self) -> list[tuple[int, str, UploadedFile | None, str]]:
        """Filled evidence slots as (slot, kind, file, url)."""
        slots = []
        for n in range(1, EVIDENCE_SLOTS + 1):
            kind = self.cleaned_data.get(f"evidence_kind_{n}") or ""
            upload = self.cleaned_data.get(f"evidence_file_{n}")
            url = self.cleaned_data.get(f"evidence_url_{n}") or ""
            if kind or upload or url:
                slots.append((n, kind, upload, url))
        return slots


class DecisionForm(forms.Form):
    """Support's decision on a reassessment request."""

    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Internal, mandatory to lift, limit or keep; never sent.",
    )
    services = forms.MultipleChoiceField(
        required=False,
        choices=Service.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Services to lift (for Limit)",
    )
    message = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Message to the customer (for Ask for more information)",
    )


class AccountSettingsForm(forms.Form):
    """The organisation's signup-assessment and continuous-review thresholds."""

    hold_threshold = forms.IntegerField(
        min_value=0, help_text="Signup risk score at or above which an account is held."
    )
    high_risk_countries = forms.CharField(
        required=False,
        help_text="ISO country codes, comma-separated (e.g. NG, PK).",
    )
    review_window_days = forms.IntegerField(min_value=1, label="Review window (days)")
    numbers_min_for_usage_check = forms.IntegerField(
        min_value=0, label="Numbers before the usage check applies"
    )
    min_outbound_per_number = forms.IntegerField(
        min_value=0, label="Outbound calls+SMS expected per number in the window"
    )
    complaints_threshold = forms.IntegerField(
        min_value=0, label="Carrier complaints that restrict"
    )
    spike_factor = forms.IntegerField(
        min_value=1, label="Spike: times the account's own daily average"
    )
    spike_min_volume = forms.IntegerField(
        min_value=0, label="Spike: minimum daily volume"
    )
    spike_history_days = forms.IntegerField(min_value=1, label="Spike: history (days)")
    reason = forms.CharField(required=False, max_length=500)

    def clean_high_risk_countries(self) -> list[str]:
        raw = self.cleaned_data.get("high_risk_countries") or ""
        return [c.strip() for c in raw.replace(" ", ",").split(",") if c.strip()]
