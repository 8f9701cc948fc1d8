"""Forms of the visitors pages: they validate input; services decide."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import QueryDict

from trustconsole.lib.confirm import REASON_MISSING
from visitors import selectors
from visitors.choices import (
    MANUAL_SIGNAL_TYPES,
    Band,
    IdentifierKind,
    ReviewAction,
    VisitorStatus,
    WeightLevel,
    signal_type_label,
)

SORT_CHOICES = [
    ("-last_seen", "Last seen (newest)"),
    ("last_seen", "Last seen (oldest)"),
    ("score", "Trust score (lowest)"),
    ("-score", "Trust score (highest)"),
]


class VisitorFilterForm(forms.Form):
    """Search and filters of Security → Visitors."""

    q = forms.CharField(label="Search", required=False, max_length=200, strip=True)
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), *VisitorStatus.choices],
    )
    band = forms.ChoiceField(
        label="Band", required=False, choices=[("", "Any band"), *Band.choices]
    )
    score_min = forms.IntegerField(
        label="Score from", required=False, min_value=0, max_value=100
    )
    score_max = forms.IntegerField(
        label="Score to", required=False, min_value=0, max_value=100
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        low, high = data.get("score_min"), data.get("score_max")
        if low is not None and high is not None and low > high:
            self.add_error("score_max", "Must be at least the lower bound.")
        return data

    def filters(self) -> dict[str, Any]:
        """The selector's keyword arguments (empty when the form is invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "q": data.get("q") or "",
            "status": data.get("status") or "",
            "band": data.get("band") or "",
            "score_min": data.get("score_min"),
            "score_max": data.get("score_max"),
            "sort": data.get("sort") or "",
        }


class ReasonForm(forms.Form):
    """An optional reason, recorded in the audit trail."""

    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "Why (kept in the audit trail)"}),
    )


class BlacklistConfirmForm(forms.Form):
    """The one confirmation step of every Blacklist in the browser: a reason is
    required and the step must have been shown (`confirmed`)."""

    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        error_messages={"required": REASON_MISSING},
    )
    confirmed = forms.CharField(widget=forms.HiddenInput)

    def clean_confirmed(self) -> str:
        if self.cleaned_data["confirmed"] != "yes":
            raise forms.ValidationError("Confirm the Blacklist.")
        return "yes"


class SignalAddForm(forms.Form):
    """A risk signal added by an operator."""

    signal_type = forms.ChoiceField(
        label="Signal",
        choices=[(t, signal_type_label(t)) for t in MANUAL_SIGNAL_TYPES],
    )
    level = forms.ChoiceField(
        label="Weight",
        choices=[(level, f"{label}") for level, label in WeightLevel.choices],
    )
    note = forms.CharField(label="Note", required=False, max_length=2000)
    expires_at = forms.DateTimeField(
        label="Expires",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )

    def __init__(self, *args: Any, weights: dict[str, int] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        if weights:
            cast(forms.ChoiceField, self.fields["level"]).choices = [
                (level, f"{label} (+{weights[level]})")
                for level, label in WeightLevel.choices
            ]


class IdentifierAddForm(forms.Form):
    """One more identifier for a visitor."""

    kind = forms.ChoiceField(label="Kind", choices=IdentifierKind.choices)
    value = forms.CharField(label="Value", max_length=254)


class IPBlockForm(forms.Form):
    """Block an IP address or CIDR range."""

    network = forms.CharField(
        label="IP address or CIDR range",
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "203.0.113.7 or 2001:db8::/48"}),
    )
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        error_messages={"required": "Say why the address is blocked."},
    )
    expires_at = forms.DateTimeField(
        label="Expires (optional)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )

    # Every field is checked here, so all mistakes are shown together; the service
    # checks the same rules again for the API.
    def clean_network(self) -> str:
        from django.core.exceptions import ValidationError

        from visitors.services import normalise_network

        try:
            normalise_network(self.cleaned_data["network"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["network"]) from None
        return self.cleaned_data["network"]

    def clean_expires_at(self) -> Any:
        from django.utils import timezone

        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value


class WeightForm(forms.Form):
    """An organisation's weight for one level."""

    level = forms.ChoiceField(choices=WeightLevel.choices, widget=forms.HiddenInput)
    weight = forms.IntegerField(label="Weight", min_value=0, max_value=100)


class WidgetForm(forms.Form):
    """A new chat widget."""

    name = forms.CharField(label="Name", max_length=100)


class ReviewBulkForm(forms.Form):
    """Bulk selection of the review queue."""

    items = forms.MultipleChoiceField(required=True, choices=())
    action = forms.ChoiceField(choices=ReviewAction.choices)
    reason = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, actor: Any = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        # Any id may be posted; the selector keeps only the organisation's items.
        posted = cast(QueryDict, self.data)
        cast(forms.ChoiceField, self.fields["items"]).choices = [
            (v, v) for v in (posted.getlist("items") if posted else [])
        ]
        self.actor = actor

    def selected_items(self) -> list[Any]:
        """The selected items of the actor's organisation."""
        return selectors.review_items_get(
            actor=self.actor, public_ids=self.cleaned_data["items"]
        )
