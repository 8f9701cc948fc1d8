"""After a permanent block: port-away access, refunds of the unused balance, and
feedback on the block process."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import emails
from accounts.choices import AccountStatus, EmailKind, RefundStatus
from accounts.models import Account, Feedback, PortAwayGrant, RefundRequest
from accounts.services.common import ACT, email_customer, require_reason
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record, audit_snapshot, audited_save


def feedback_subject(account: Account, ticket_id: str = "<ticket id>") -> str:
    """The subject line the feedback channel expects for an account."""
    return f"Feedback: {account.email} {ticket_id} Blocked Account"


def _require_closed(account: Account, what: str) -> None:
    if account.status != AccountStatus.CLOSED:
        raise ValidationError(
            {"account": f"{what} is only for permanently blocked (closed) accounts."}
        )


@transaction.atomic
def port_away_grant(
    *, actor: Actor, account: Account, expires_at: dt.datetime, reason: str
) -> PortAwayGrant:
    """Grant temporary access to port a closed account's numbers away, fee waived."""
    actor.require(*ACT)
    _require_closed(account, "Port-away access")
    reason = require_reason(reason)
    if expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    numbers = sorted(account.numbers.values_list("e164", flat=True))
    if not numbers:
        raise ValidationError({"account": "The account owns no numbers to port."})
    grant = PortAwayGrant(
        organisation=account.organisation,
        account=account,
        numbers=numbers,
        expires_at=expires_at,
        port_out_fee_waived=True,
        granted_by=actor.label[:200],
    )
    audited_save(
        grant,
        actor=actor,
        action="port_away.grant",
        after={
            "account": account.public_id,
            "numbers": numbers,
            "expires_at": expires_at,
            "port_out_fee_waived": True,
        },
        reason=reason,
    )
    email_customer(
        account=account,
        kind=EmailKind.PORT_AWAY,
        message=emails.port_away(
            org_name=account.organisation.name,
            company=account.company_name,
            numbers=numbers,
            expires=f"{expires_at:%Y-%m-%d %H:%M}",
        ),
    )
    return grant


def port_away_expire_due(*, now: dt.datetime | None = None) -> int:
    """Mark grants past their expiry as expired (audited); returns how many."""
    now = now or timezone.now()
    count = 0
    due = PortAwayGrant.objects.filter(
        expired_at__isnull=True, expires_at__lte=now
    ).select_related("organisation")
    for grant in due:
        with transaction.atomic():
            claimed = PortAwayGrant.objects.filter(
                pk=grant.pk, expired_at__isnull=True
            ).update(expired_at=now)
            if claimed != 1:
                continue
            audit_record(
                actor=Actor.system_for(grant.organisation, "port-away expiry"),
                action="port_away.expire",
                target=grant,
                before={"expired_at": None},
                after={"expired_at": now},
                reason="Port-away access expired.",
            )
            count += 1
    return count


@transaction.atomic
def refund_request_create(
    *, actor: Actor, account: Account, amount: Decimal, reason: str = ""
) -> RefundRequest:
    """Record a refund request for a closed account's unused balance."""
    actor.require(*ACT)
    _require_closed(account, "A refund")
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be more than 0."})
    if amount > account.balance:
        raise ValidationError(
            {"amount": f"The unused balance is {account.balance}; ask for no more."}
        )
    if account.refunds.filter(status=RefundStatus.REQUESTED).exists():
        raise ValidationError({"account": "A refund request is already open."})
    refund = RefundRequest(
        organisation=account.organisation, account=account, amount=amount
    )
    audited_save(
        refund,
        actor=actor,
        action="refund.request",
        after={"account": account.public_id, "amount": amount, "status": refund.status},
        reason=reason,
    )
    return refund


@transaction.atomic
def refund_outcome_record(
    *, actor: Actor, refund: RefundRequest, status: str, note: str
) -> RefundRequest:
    """Record what became of a refund request (approved, refused, paid)."""
    actor.require(*ACT)
    allowed: dict[str, set[str]] = {
        RefundStatus.REQUESTED: {RefundStatus.APPROVED, RefundStatus.REFUSED},
        RefundStatus.APPROVED: {RefundStatus.PAID},
    }
    if status not in allowed.get(refund.status, set()):
        raise ValidationError(
            {"status": f"A {refund.status} refund cannot become {status}."}
        )
    note = require_reason(note, "note")
    before = audit_snapshot(refund, ["status"])
    refund.status = status
    refund.outcome_note = note
    refund.decided_at = timezone.now()
    refund.save()
    account = refund.account
    if status == RefundStatus.PAID:
        before_balance = account.balance
        account.balance = max(Decimal("0"), account.balance - refund.amount)
        account.save(update_fields=["balance"])
        audit_record(
            actor=actor,
            action="account.balance_refund",
            target=account,
            before={"balance": before_balance},
            after={"balance": account.balance},
            reason=note,
        )
    audit_record(
        actor=actor,
        action="refund.outcome",
        target=refund,
        before=before,
        after={"status": status},
        reason=note,
    )
    email_customer(
        account=account,
        kind=EmailKind.REFUND,
        message=emails.refund(
            org_name=account.organisation.name,
            company=account.company_name,
            amount=str(refund.amount),
            outcome=refund.get_status_display().lower(),
        ),
    )
    return refund


FEEDBACK_SUBJECT = re.compile(
    r"^\s*Feedback:\s+(?P<email>\S+@\S+)\s+(?P<ticket>\S+)\s+Blocked Account\s*$",
    re.IGNORECASE,
)


@transaction.atomic
def feedback_receive(*, actor: Actor, subject: str, body: str) -> Feedback:
    """Store feedback on the block process; never an appeal, so nothing else moves."""
    actor.require(*ACT)
    match = FEEDBACK_SUBJECT.match(subject or "")
    if match is None:
        raise ValidationError(
            {"subject": "The subject must be 'Feedback: <account email> <ticket id> "
             "Blocked Account'."}
        )  # fmt: skip
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "List the feedback in the body."})
    email = match["email"].lower()
    account = (
        Account.objects.filter(organisation=actor.organisation, email__iexact=email)
        .filter(status__in=(AccountStatus.BLOCKED, AccountStatus.CLOSED))
        .order_by("-status_changed_at")
        .first()
    )
    if account is None:
        raise ValidationError(
            {"subject": f"No blocked account with the email {email}."}
        )
    feedback = Feedback(
        organisation=actor.organisation,
        account=account,
        subject=subject.strip()[:300],
        ticket_id=match["ticket"][:100],
        body=body,
    )
    audited_save(
        feedback,
        actor=actor,
        action="feedback.receive",
        after={"account": account.public_id, "ticket_id": feedback.ticket_id},
    )
    return feedback
