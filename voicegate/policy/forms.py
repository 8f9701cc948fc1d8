"""Forms of the Voice → Policy pages (validation only; services do the work)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from voicegate.policy.choices import (
    DncKind,
    DncProblemMode,
    ImportMode,
    SignalWeight,
    VerificationMethod,
)


class DncListForm(forms.Form):
    """A new Do-Not-Call list."""

    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=DncKind.choices, initial=DncKind.INTERNAL)
    country = forms.CharField(
        max_length=2,
        required=False,
        help_text="ISO code, e.g. US: numbers without + are read in this country.",
    )
    description = forms.CharField(max_length=500, required=False)


class DncNumberForm(forms.Form):
    """One number to add to or remove from a list."""

    number = forms.CharField(max_length=64, label="Number")


class DncNumberRemoveForm(DncNumberForm):
    """One number to take off a list, and why (trustconsole/lib/confirm.py)."""

    reason = forms.CharField(max_length=2000)


class DncSearchForm(forms.Form):
    """Find a number on a list."""

    number = forms.CharField(max_length=64, required=False, label="Find a number")


class DncImportForm(forms.Form):
    """A CSV upload."""

    file = forms.FileField(
        label="File",
        help_text="One number per row (or the registry's `area code,number`); a "
        "header row naming a “number” column (and optionally “country”) is "
        "recognised; other columns are ignored. National lists also take gzip or "
        "zip files.",
    )
    mode = forms.ChoiceField(
        choices=ImportMode.choices,
        initial=ImportMode.FULL,
        required=False,
        label="The file is",
        help_text="Change lists apply to national lists without a full rebuild.",
    )
    as_of = forms.DateField(
        required=False,
        label="Registry file date",
        help_text="Empty: a date in the file name, else today.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    region = forms.CharField(
        max_length=2,
        required=False,
        label="Country of numbers without +",
        help_text="ISO code; empty: the list's country.",
    )


class ReasonForm(forms.Form):
    """An optional reason for the audit trail."""

    reason = forms.CharField(max_length=500, required=False)


def _account_choices(accounts: Any) -> list[tuple[str, str]]:
    return [("", "— the organisation itself —")] + [
        (str(a.public_id), f"{a.company_name} <{a.email}>") for a in accounts
    ]


class CallerIdForm(forms.Form):
    """A caller ID to record as verified."""

    number = forms.CharField(max_length=64)
    account = forms.ChoiceField(required=False)
    method = forms.ChoiceField(choices=VerificationMethod.choices)
    note = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: Any, accounts: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = cast(forms.ChoiceField, self.fields["account"])
        account.choices = _account_choices(accounts)


class ConsentForm(forms.Form):
    """A destination's consent."""

    number = forms.CharField(max_length=64, label="Destination number")
    account = forms.ChoiceField(required=False, label="Consent given to")
    evidence = forms.CharField(
        max_length=500, help_text="How and where consent was given."
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, accounts: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = cast(forms.ChoiceField, self.fields["account"])
        account.choices = _account_choices(accounts)
        account.choices[0] = ("", "— any caller of the organisation —")


class PolicySettingsForm(forms.Form):
    """The organisation's outbound policy settings."""

    harassment_limit = forms.IntegerField(
        min_value=1,
        label="Calls allowed to one destination",
        help_text="From one account (or the organisation) in the window below.",
    )
    harassment_window_seconds = forms.IntegerField(
        min_value=60, max_value=90 * 86400, label="Harassment window (seconds)"
    )
    blacklisted_do_not_contact = forms.BooleanField(
        required=False, label="Blacklisted visitors are not to be contacted"
    )
    denial_threshold = forms.IntegerField(
        min_value=1, label="Denials that add a risk signal to the account"
    )
    denial_window_seconds = forms.IntegerField(
        min_value=60, max_value=90 * 86400, label="Denial window (seconds)"
    )
    denial_signal_weight = forms.TypedChoiceField(
        choices=SignalWeight.choices, coerce=int, label="Weight of that signal"
    )
    auto_restrict_voice = forms.BooleanField(
        required=False,
        label="Restrict voice automatically when the signals add up (customer emailed)",
    )
    dnc_stale_mode = forms.ChoiceField(
        choices=DncProblemMode.choices,
        required=False,
        label="When a national Do-Not-Call list is older than 31 days",
        help_text="The FTC safe harbour needs a registry version at most 31 days old.",
    )
    dnc_unavailable_mode = forms.ChoiceField(
        choices=DncProblemMode.choices,
        required=False,
        label="When a Do-Not-Call list file cannot be read on this server",
        help_text="Refuse: fail closed. Warn: fail open, the answer says so.",
    )
