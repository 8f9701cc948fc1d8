"""Deletions the services do not see (cascades from an organisation, the admin)
still reach the decision core's change log."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from trustconsole.policy import changes
from visitors.models import VisitorIdentifier


@receiver(post_delete, sender=VisitorIdentifier)
def _identifier_deleted(sender: type, instance: VisitorIdentifier, **_: Any) -> None:
    changes.policy_changed(
        instance.organisation_id, changes.VISITOR, instance.visitor_id
    )
