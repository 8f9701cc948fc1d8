"""Forms of the shared queues: escalate, assign, note. Services decide the rules."""

from __future__ import annotations

from django import forms

from trustconsole.core.choices import Role

ROLE_CHOICES = [
    ("", "— or a role —"),
    (Role.ADMIN.value, "Admins"),
    (Role.OPERATOR.value, "Operators"),
    (Role.SUPPORT.value, "Support"),
]


class EscalateForm(forms.Form):
    """Escalate to a named colleague (email) or to a role, saying why."""

    to_user = forms.EmailField(label="Colleague", required=False)
    to_role = forms.ChoiceField(label="Role", required=False, choices=ROLE_CHOICES)
    reason = forms.CharField(label="Why", max_length=2000, required=False)


class AssignForm(forms.Form):
    """An admin hands the item to a member (email)."""

    assignee = forms.EmailField(label="Assign to")


class NoteForm(forms.Form):
    """An internal note."""

    body = forms.CharField(label="Internal note", max_length=5000, required=False)
