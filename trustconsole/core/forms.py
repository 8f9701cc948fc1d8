"""Browser forms of the core app."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from trustconsole.core import loginguard
from trustconsole.core.choices import Role
from trustconsole.lib.clientip import client_ip


class MemberAddForm(forms.Form):
    """Add a member by email; a password creates the login when it is new."""

    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)
    password = forms.CharField(
        required=False,
        min_length=8,
        widget=forms.PasswordInput,
        help_text="Only for a new login; existing users keep their password.",
    )


class MemberRoleForm(forms.Form):
    """Change a member's role."""

    role = forms.ChoiceField(choices=Role.choices)
    reason = forms.CharField(required=False, max_length=500)


class TokenCreateForm(forms.Form):
    """Create an API token."""

    name = forms.CharField(max_length=100, help_text="Where the token is used.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class ReasonForm(forms.Form):
    """An optional reason for the audit trail."""

    reason = forms.CharField(required=False, max_length=500)


class ThrottledLoginMixin:
    """Refuse log-ins while the account or the client IP is locked out, and count
    each failure (`trustconsole.core.loginguard`)."""

    request: Any
    cleaned_data: dict[str, Any]

    def _locked(self, lock: loginguard.Lockout) -> ValidationError:
        if lock.kind == loginguard.ACCOUNT:
            what = "this account"
            ask = ", or ask an admin of your organisation to clear the lockout"
        else:
            what = "your network address"
            ask = ""
        return ValidationError(
            f"Too many failed log-ins for {what}. Log-in is locked until "
            f"{timezone.localtime(lock.until):%H:%M %Z} (about {lock.minutes_left} "
            f"min); try again then{ask}.",
            code="locked",
        )

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request.META) if self.request is not None else None
        lock = loginguard.lockout_get(username=username, ip=ip)
        if lock is not None:
            raise self._locked(lock)
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                caused = loginguard.failure_record(username=username, ip=ip)
                if caused is not None:
                    raise self._locked(caused) from None
            raise
        loginguard.success_record(username=username)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    """The console's log-in form."""


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The Django admin's log-in form, throttled the same way."""
