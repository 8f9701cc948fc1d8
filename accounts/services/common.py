"""Pieces every accounts use case shares: who may act, input cleaning, the
status write, closing a request, and customer emails."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from accounts import emails
from accounts.choices import ALL_SERVICES, RequestStatus
from accounts.models import Account, CustomerEmail, ReassessmentRequest
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.services import audit_record, audit_snapshot, audited_save
from trustconsole.policy import changes

logger = logging.getLogger(__name__)

ACT = (Role.SUPPORT,)


STATUS_FIELDS = ["status", "restricted_services", "status_reason", "status_by"]


def require_reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({field: "Give the internal reason; it is audited."})
    return reason


def clean_services(services: Iterable[str], field: str = "services") -> list[str]:
    chosen = sorted(set(services))
    if not chosen:
        raise ValidationError({field: "Choose at least one service."})
    unknown = [s for s in chosen if s not in ALL_SERVICES]
    if unknown:
        raise ValidationError(
            {field: f"Unknown service(s): {', '.join(unknown)}. "
             f"Choose from {', '.join(ALL_SERVICES)}."}
        )  # fmt: skip
    return chosen


def clean_country(value: str, field: str) -> str:
    code = (value or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({field: f"{value!r} is not an ISO 3166 country code."})
    return code


def clean_url(value: str, field: str, *, required: bool) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError({field: "This field is required."})
        return ""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ValidationError(
            {field: "Enter a full http(s) address, e.g. https://example.com."}
        ) from None
    return value


def email_customer(*, account: Account, kind: str, message: tuple[str, str]) -> None:
    """Record an email on the account's timeline; send it once the change commits."""
    subject, body = message
    row = CustomerEmail.objects.create(
        account=account, kind=kind, to=account.email, subject=subject, body=body
    )
    transaction.on_commit(lambda: _email_deliver(email_id=row.pk))


def _email_deliver(*, email_id: int) -> None:
    row = CustomerEmail.objects.filter(pk=email_id, sent_at__isnull=True).first()
    if row is None:
        return
    try:
        send_mail(row.subject, row.body, emails.from_address(), [row.to])
    except Exception:  # the change stands; the timeline shows it unsent
        logger.exception("could not send customer email %s", email_id)
        return
    CustomerEmail.objects.filter(pk=email_id).update(sent_at=timezone.now())


def status_set(
    *,
    actor: Actor,
    account: Account,
    action: str,
    status: str,
    services: Iterable[str],
    reason: str,
    decided_by: str = "",
) -> Account:
    """Set the account's status: audited, and every decision reads it again.

    `decided_by` names the automatic rule that decided (the signup risk
    assessment, a restriction rule); a person's change names the actor.
    """
    before = audit_snapshot(account, STATUS_FIELDS)
    account.status = status
    account.restricted_services = sorted(set(services))
    account.status_reason = reason
    account.status_by = (decided_by or actor.label)[:200]
    account.status_changed_at = timezone.now()
    audited_save(
        account,
        actor=actor,
        action=action,
        before=before,
        snapshot=STATUS_FIELDS,
        reason=reason,
    )
    account_status_changed(account)
    return account


def account_status_changed(account: Account) -> None:
    """The explicit step after an account's status or name changes: the decision
    core (every channel) and the outbound check's account copies read it again."""
    changes.policy_changed(account.organisation_id, changes.ACCOUNT, account.pk)


def account_numbers_changed(account: Account) -> None:
    """The explicit step after an account's numbers change: the outbound check's
    copies of the organisation's owned numbers are read again."""
    changes.policy_changed(account.organisation_id, changes.OWNED_NUMBERS, "accounts")


def request_close(
    *,
    actor: Actor,
    request: ReassessmentRequest,
    status: str,
    decision: str,
    reason: str,
    services_lifted: Sequence[str] = (),
) -> None:
    before = audit_snapshot(request, ["status", "decision"])
    request.status = status
    request.decision = decision
    request.decided_at = timezone.now()
    request.decided_by = actor.label[:200]
    request.internal_reason = reason
    request.services_lifted = list(services_lifted)
    request.paused_at = None
    request.save()
    audit_record(
        actor=actor,
        action=(
            "reassessment.reject_zero_tolerance"
            if status == RequestStatus.REJECTED_ZERO_TOLERANCE
            else "reassessment.decide"
        ),
        target=request,
        before=before,
        after={
            **audit_snapshot(request, ["status", "decision"]),
            "services_lifted": list(services_lifted),
        },
        reason=reason,
    )
