"""Deletions the services do not see (cascades from an organisation, the admin)
still reach the decision core's change log; any change to a chat widget reaches
every process's widget cache."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from trustconsole.policy import changes
from visitors.models import VisitorIdentifier, Widget
from visitors.selectors import widget_cache


@receiver(post_delete, sender=VisitorIdentifier)
def _identifier_deleted(sender: type, instance: VisitorIdentifier, **_: Any) -> None:
    changes.policy_changed(
        instance.organisation_id, changes.VISITOR, instance.visitor_id
    )


@receiver(post_save, sender=Widget)
@receiver(post_delete, sender=Widget)
def _widget_changed(sender: type, **_: Any) -> None:
    widget_cache.clear()  # this process at once, the others within a second
    transaction.on_commit(widget_cache.bump)
