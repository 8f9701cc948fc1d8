"""Chat widgets."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from visitors.models import Widget


@transaction.atomic
def widget_create(*, actor: Actor, name: str) -> Widget:
    """A chat widget with a fresh key (admin)."""
    actor.require()
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the widget a name, e.g. the website."})
    widget = Widget(organisation_id=actor.organisation.pk, name=name[:100])
    widget.full_clean()
    widget.save()
    audit_record(
        actor=actor, action="widget.create", target=widget, after={"name": name}
    )
    return widget
