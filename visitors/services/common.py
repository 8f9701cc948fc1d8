"""What every visitors use case shares: the operator role, locking a visitor's
row and telling the decision core it changed."""

from __future__ import annotations

from trustconsole.policy import changes
from visitors.models import Visitor

OPERATOR = "operator"


def policy_changed(visitor: Visitor, *, pk: int | None = None) -> None:
    """The decision core reads this visitor again in every process (its status or
    identifiers changed), once the current transaction commits."""
    changes.policy_changed(
        visitor.organisation_id, changes.VISITOR, pk if pk is not None else visitor.pk
    )


def lock_visitor(visitor: Visitor) -> Visitor:
    """Lock the visitor's row for this transaction and reload it."""
    Visitor.objects.select_for_update().filter(pk=visitor.pk).values_list("pk").first()
    visitor.refresh_from_db()
    return visitor
