"""The one confirmation policy of irreversible and organisation-wide actions.

Every such form (remove a member, revoke a token, delete a voice connection or a
Do-Not-Call list, take a number off a list, bulk actions) is the same include,
`core/partials/_confirm.html`: a required reason with the same words everywhere,
and `static/js/console.js` asks the form's `data-confirm` question before it is
sent. The server requires the reason too: without one nothing changes and the
confirmation comes back with the error beside the field (`confirmed_reason`).
Blacklist uses the same reason field inside its own confirmation step.

The API of such an action requires the reason too: `ConfirmReasonInput` in the
view (400 `{"field": "reason", "reason": …}` before anything happens) and
`reason_required` in the service, so no caller can skip it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import serializers

REASON_LABEL = "Reason (required, kept in the audit trail)"
REASON_MISSING = "Give the reason; it is kept in the audit trail."


class ConfirmReasonForm(forms.Form):
    """The reason every confirmed action requires."""

    reason = forms.CharField(
        label=REASON_LABEL,
        max_length=2000,
        error_messages={"required": REASON_MISSING},
    )


class ConfirmReasonInput(serializers.Serializer[Any]):
    """The API's half of the policy: the reason the action requires."""

    reason = serializers.CharField(
        max_length=2000,
        help_text="Why; kept in the audit trail (required).",
        error_messages={"required": REASON_MISSING, "blank": REASON_MISSING},
    )


def reason_required(reason: str) -> str:
    """The stripped reason; a ValidationError on `reason` when there is none."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REASON_MISSING})
    return reason


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation asks, what happens, and where it goes."""

    question: str
    consequence: str
    button: str
    action: str
    cancel: str
    hidden: list[tuple[str, str]] = field(default_factory=list)


def confirmed_reason(
    request: HttpRequest, confirmation: Confirmation
) -> tuple[str, HttpResponse | None]:
    """(reason, None) when the POST carries a reason; else ("", the confirmation
    page again with the error beside the field, status 400)."""
    form = ConfirmReasonForm(request.POST)
    if form.is_valid():
        return form.cleaned_data["reason"], None
    context = {"form": form, "confirm": confirmation}
    return "", render(request, "core/confirm.html", context, status=400)
