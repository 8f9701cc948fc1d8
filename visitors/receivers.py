"""Cache invalidation only: deletions the services do not see (cascades from an
organisation, the admin) still move the call gate's phone-map version."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from trustconsole.lib.versioned import version_bump
from visitors.choices import IdentifierKind
from visitors.models import VisitorIdentifier
from visitors.selectors import phone_map_version_key


@receiver(post_delete, sender=VisitorIdentifier)
def _phone_identifier_deleted(
    sender: type, instance: VisitorIdentifier, **_: Any
) -> None:
    if instance.kind == IdentifierKind.PHONE:
        key = phone_map_version_key(instance.organisation_id)
        transaction.on_commit(lambda: version_bump(key))
