"""Cache invalidation only: moves the version keys of the check's owned numbers.

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
    if sender._meta.model_name == "account":
        # The decision core reads the account's status again in every process.
        # (accounts.services saves the Account on every status change; once that
        # module is split, this becomes an explicit step there.)
        from trustconsole.policy import changes

        changes.policy_changed(instance.organisation_id, changes.ACCOUNT, instance.pk)


def _audited(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not kwargs.get("created"):
        return
    if instance.target_type.startswith("accounts."):
        bump(accounts_key(instance.organisation_id))


for _model in ("accounts.Account", "accounts.AccountNumber"):
    post_save.connect(
        _account_changed, sender=_model, dispatch_uid=f"policy-save-{_model}"
    )
    post_delete.connect(
        _account_changed, sender=_model, dispatch_uid=f"policy-delete-{_model}"
    )
post_save.connect(_audited, sender="core.AuditEntry", dispatch_uid="policy-audit")


def _enterprise_number_changed(sender: Any, instance: Any, **_: Any) -> None:
    from voicegate.policy.owned import enterprise_key

    bump(enterprise_key(instance.organisation_id))


post_save.connect(
    _enterprise_number_changed,
    sender="remediation.OwnedNumber",
    dispatch_uid="policy-save-enterprise-number",
)
post_delete.connect(
    _enterprise_number_changed,
    sender="remediation.OwnedNumber",
    dispatch_uid="policy-delete-enterprise-number",
)
