"""Cache invalidation only: moves the accounts version key of the check.

The check keeps each customer account's status and owned numbers in memory. The
accounts app writes through its own services, which save the Account (status changes)
or bulk-create numbers and audit the change, so these receivers watch the Account and
AccountNumber rows and the accounts audit entries, and never do any other work.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from voicegate.policy.keys import accounts_key, bump


def _account_changed(sender: Any, instance: Any, **_: Any) -> None:
    bump(accounts_key(instance.organisation_id))


def _audited(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("created") and instance.target_type.startswith("accounts."):
        bump(accounts_key(instance.organisation_id))


for _model in ("accounts.Account", "accounts.AccountNumber"):
    post_save.connect(
        _account_changed, sender=_model, dispatch_uid=f"policy-save-{_model}"
    )
    post_delete.connect(
        _account_changed, sender=_model, dispatch_uid=f"policy-delete-{_model}"
    )
post_save.connect(_audited, sender="core.AuditEntry", dispatch_uid="policy-audit")
