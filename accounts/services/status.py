"""Status changes support makes by hand: restrict, hold, block (or close), restore."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import emails
from accounts.choices import (
    ALL_SERVICES,
    OPEN_REQUEST_STATUSES,
    AccountStatus,
    Decision,
    EmailKind,
    RequestStatus,
)
from accounts.models import Account
from accounts.services.closure import feedback_subject
from accounts.services.common import (
    ACT,
    clean_services,
    email_customer,
    request_close,
    require_reason,
    status_set,
)
from trustconsole.core.actor import Actor


@transaction.atomic
def account_restrict(
    *,
    actor: Actor,
    account: Account,
    services: Sequence[str],
    reason: str,
    notify_customer: bool = True,
    decided_by: str = "",
) -> Account:
    """Restrict named services of an active or restricted account; email them.

    `decided_by` names the automatic rule that decided (default: the actor)."""
    actor.require(*ACT)
    services = clean_services(services)
    reason = require_reason(reason)
    if account.status not in (AccountStatus.ACTIVE, AccountStatus.RESTRICTED):
        raise ValidationError(
            {"status": f"The account is {account.get_status_display().lower()}; "
             "it is already restricted for every service."}
        )  # fmt: skip
    merged = set(account.restricted_services) | set(services)
    if account.status == AccountStatus.RESTRICTED and merged == set(
        account.restricted_services
    ):
        return account
    status_set(
        actor=actor,
        account=account,
        action="account.restrict",
        status=AccountStatus.RESTRICTED,
        services=merged,
        reason=reason,
        decided_by=decided_by,
    )
    if notify_customer:
        email_customer(
            account=account,
            kind=EmailKind.RESTRICTED,
            message=emails.restricted(
                org_name=account.organisation.name,
                company=account.company_name,
                services=sorted(merged),
            ),
        )
    return account


@transaction.atomic
def account_hold(
    *,
    actor: Actor,
    account: Account,
    reason: str,
    notify_customer: bool = True,
    decided_by: str = "",
) -> Account:
    """Put an account on the hold list: no service at all until a review lifts it.

    `decided_by` names the automatic rule that decided (default: the actor)."""
    actor.require(*ACT)
    reason = require_reason(reason)
    if account.status == AccountStatus.CLOSED:
        raise ValidationError({"status": "A closed account cannot be put on hold."})
    status_set(
        actor=actor,
        account=account,
        action="account.hold",
        status=AccountStatus.ON_HOLD,
        services=ALL_SERVICES,
        reason=reason,
        decided_by=decided_by,
    )
    if notify_customer:
        email_customer(
            account=account,
            kind=EmailKind.HOLD,
            message=emails.hold(
                org_name=account.organisation.name, company=account.company_name
            ),
        )
    return account


@transaction.atomic
def account_block(
    *, actor: Actor, account: Account, reason: str, permanent: bool = False
) -> Account:
    """Block an account: temporarily under case review, or permanently (closed)."""
    actor.require(*ACT)
    reason = require_reason(reason)
    if account.status == AccountStatus.CLOSED:
        raise ValidationError({"status": "The account is already permanently blocked."})
    if not permanent and account.status == AccountStatus.BLOCKED:
        raise ValidationError({"status": "The account is already blocked."})
    status = AccountStatus.CLOSED if permanent else AccountStatus.BLOCKED
    status_set(
        actor=actor,
        account=account,
        action="account.close" if permanent else "account.block",
        status=status,
        services=ALL_SERVICES,
        reason=reason,
    )
    # Nothing is waiting for review once the account is closed.
    if permanent:
        for request in account.requests.filter(status__in=OPEN_REQUEST_STATUSES):
            request_close(
                actor=actor,
                request=request,
                status=RequestStatus.KEPT,
                decision=Decision.KEEP,
                reason=f"Account permanently blocked: {reason}",
            )
    org = account.organisation.name
    message = (
        emails.closed(
            org_name=org,
            company=account.company_name,
            feedback_subject=feedback_subject(account),
        )
        if permanent
        else emails.blocked(org_name=org, company=account.company_name)
    )
    email_customer(
        account=account,
        kind=EmailKind.CLOSED if permanent else EmailKind.BLOCKED,
        message=message,
    )
    return account


@transaction.atomic
def account_restore(*, actor: Actor, account: Account, reason: str) -> Account:
    """Lift a temporary block after the case review cleared the account: active
    again, every service back, the customer emailed."""
    actor.require(*ACT)
    reason = require_reason(reason)
    if account.status != AccountStatus.BLOCKED:
        raise ValidationError(
            {
                "status": "Only an account blocked for case review can be restored; "
                f"this one is {account.get_status_display().lower()}."
            }
        )
    status_set(
        actor=actor,
        account=account,
        action="account.restore",
        status=AccountStatus.ACTIVE,
        services=(),
        reason=reason,
    )
    email_customer(
        account=account,
        kind=EmailKind.RESTORED,
        message=emails.restored(
            org_name=account.organisation.name, company=account.company_name
        ),
    )
    return account
