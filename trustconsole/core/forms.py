"""Browser forms of the core app."""

from __future__ import annotations

from django import forms

from trustconsole.core.choices import Role


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
