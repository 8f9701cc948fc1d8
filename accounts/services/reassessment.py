"""Reassessment requests: the customer's submission, more evidence, the clock,
and support's decision."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import emails
from accounts.business_days import add_business_days, business_days_between
from accounts.choices import (
    ALL_SERVICES,
    OPEN_REQUEST_STATUSES,
    ZERO_TOLERANCE_SIGNALS,
    AccountStatus,
    Decision,
    EmailKind,
    RequestStatus,
    Service,
)
from accounts.models import Account, AccountSignal, Evidence, ReassessmentRequest
from accounts.services.common import (
    ACT,
    clean_services,
    clean_url,
    email_customer,
    request_close,
    require_reason,
    status_set,
)
from accounts.services.evidence import EvidenceInput, evidence_save, evidence_validate
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record, audit_snapshot, audited_save

WARN_BUSINESS_DAYS = 5


DUE_BUSINESS_DAYS = 7


def _clean_request_fields(data: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field in ("company_name", "use_case"):
        value = str(data.get(field) or "").strip()
        if not value:
            errors[field] = "This field is required."
        clean[field] = value
    try:
        clean["company_website"] = clean_url(
            str(data.get("company_website") or ""), "company_website", required=True
        )
    except ValidationError as exc:
        errors["company_website"] = exc.message_dict["company_website"][0]
    services = list(data.get("services_wanted") or [])
    try:
        clean["services_wanted"] = clean_services(services, "services_wanted")
    except ValidationError as exc:
        errors["services_wanted"] = exc.message_dict["services_wanted"][0]
        clean["services_wanted"] = []
    sample = str(data.get("sample_message") or "").strip()
    if Service.SMS in services and not sample:
        errors["sample_message"] = "A sample message is required when SMS is wanted."
    clean["sample_message"] = sample
    countries = list(data.get("destination_countries") or [])
    if not countries:
        errors["destination_countries"] = (
            "List the countries you intend to send traffic to (ISO codes, e.g. GB)."
        )
    else:
        bad = [
            str(c) for c in countries
            if str(c).strip().upper() not in phonenumbers.SUPPORTED_REGIONS
        ]  # fmt: skip
        if bad:
            errors["destination_countries"] = (
                f"Not ISO 3166 country codes: {', '.join(bad)}."
            )
    clean["destination_countries"] = sorted({str(c).strip().upper() for c in countries})
    units = data.get("estimated_units_per_month")
    try:
        units_int = int(str(units))
        if units_int <= 0 or str(units).strip() != str(units_int):
            raise ValueError
        clean["estimated_units_per_month"] = units_int
    except (TypeError, ValueError):
        errors["estimated_units_per_month"] = "Give a whole number greater than 0."
    spend = data.get("estimated_spend_per_month")
    try:
        spend_dec = Decimal(str(spend).strip())
        if not spend_dec.is_finite() or spend_dec < 0:
            raise InvalidOperation
        clean["estimated_spend_per_month"] = spend_dec.quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        errors["estimated_spend_per_month"] = "Give an amount, e.g. 250.00."
    return clean, errors


def _zero_tolerance(account: Account) -> list[AccountSignal]:
    return list(account.signals.active().filter(signal_type__in=ZERO_TOLERANCE_SIGNALS))


@transaction.atomic
def reassessment_submit(
    *,
    actor: Actor,
    account: Account,
    data: dict[str, Any],
    evidence: Sequence[EvidenceInput] = (),
) -> ReassessmentRequest:
    """Raise a reassessment request (by API or by support on the customer's behalf).

    Every missing or malformed field is refused with its own message. An account
    with a zero-tolerance signal gets the request rejected at once; otherwise it
    joins the review queue, due 5 (warn) and 7 (overdue) business days later.
    """
    actor.require(*ACT)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.status == AccountStatus.CLOSED:
        raise ValidationError(
            {"account": "The account is permanently blocked; the decision will not "
             "change and reassessment requests are not accepted."}
        )  # fmt: skip
    if account.decision_final:
        raise ValidationError(
            {"account": "This account has been reviewed again and the decision is "
             "final: further reassessment requests are not accepted."}
        )  # fmt: skip
    if account.status == AccountStatus.ACTIVE:
        raise ValidationError(
            {"account": "The account has no restrictions; there is nothing to "
             "reassess."}
        )  # fmt: skip
    if account.requests.filter(status__in=OPEN_REQUEST_STATUSES).exists():
        raise ValidationError(
            {"account": "A reassessment request for this account is already "
             "waiting for review."}
        )  # fmt: skip
    clean, errors = _clean_request_fields(data)
    if not evidence:
        errors["evidence"] = (
            "Attach at least one evidence item (file or link) of your business."
        )
    errors.update(evidence_validate(evidence))
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    submitted_day = timezone.localdate(now)
    request = ReassessmentRequest(
        organisation=account.organisation,
        account=account,
        submitted_by=actor.label[:200],
        submitted_at=now,
        warn_on=add_business_days(submitted_day, WARN_BUSINESS_DAYS),
        due_on=add_business_days(submitted_day, DUE_BUSINESS_DAYS),
        **clean,
    )
    audited_save(
        request,
        actor=actor,
        action="reassessment.submit",
        after={
            "account": account.public_id,
            "services_wanted": request.services_wanted,
            "evidence": len(evidence),
            "due_on": request.due_on,
        },
    )
    for item in evidence:
        evidence_save(request=request, item=item)
    org = account.organisation.name
    causes = _zero_tolerance(account)
    if causes:
        names = sorted({c.get_signal_type_display() for c in causes})
        request_close(
            actor=actor,
            request=request,
            status=RequestStatus.REJECTED_ZERO_TOLERANCE,
            decision=Decision.KEEP,
            reason="Zero-tolerance policy: " + "; ".join(names),
        )
        email_customer(
            account=account,
            kind=EmailKind.REJECTED,
            message=emails.rejected(
                org_name=org, company=account.company_name, final=False
            ),
        )
    else:
        email_customer(
            account=account,
            kind=EmailKind.RECEIVED,
            message=emails.received(org_name=org, company=account.company_name),
        )
    return request


@transaction.atomic
def evidence_add(
    *, actor: Actor, request: ReassessmentRequest, item: EvidenceInput
) -> Evidence:
    """Attach one more evidence item to an open request (resumes a paused clock)."""
    actor.require(*ACT)
    if not request.is_open:
        raise ValidationError({"request": "The request has already been decided."})
    errors = evidence_validate([item])
    if errors:
        raise ValidationError(
            {k.replace("evidence.0.", "").replace("evidence.0", "file"): v
             for k, v in errors.items()}
        )  # fmt: skip
    evidence = evidence_save(request=request, item=item)
    audit_record(
        actor=actor,
        action="reassessment.evidence_add",
        target=request,
        after={"kind": item.kind, "name": evidence.original_name or evidence.url},
    )
    if request.status == RequestStatus.INFO_REQUESTED:
        reassessment_resume(
            actor=actor, request=request, note="Evidence received from the customer."
        )
    return evidence


@transaction.atomic
def reassessment_resume(
    *, actor: Actor, request: ReassessmentRequest, note: str = ""
) -> ReassessmentRequest:
    """The customer answered: back in the queue, due dates moved by the paused days."""
    actor.require(*ACT)
    if request.status != RequestStatus.INFO_REQUESTED:
        raise ValidationError(
            {"request": "The request is not waiting for the customer."}
        )
    paused_from = timezone.localdate(request.paused_at or timezone.now())
    shift = business_days_between(paused_from, timezone.localdate())
    before = audit_snapshot(request, ["status", "warn_on", "due_on"])
    request.status = RequestStatus.PENDING
    request.warn_on = add_business_days(request.warn_on, shift)
    request.due_on = add_business_days(request.due_on, shift)
    request.paused_at = None
    request.save()
    audit_record(
        actor=actor,
        action="reassessment.resume",
        target=request,
        before=before,
        after=audit_snapshot(request, ["status", "warn_on", "due_on"]),
        reason=note or f"Customer answered; clock paused {shift} business day(s).",
    )
    return request


@transaction.atomic
def reassessment_decide(
    *,
    actor: Actor,
    request: ReassessmentRequest,
    decision: str,
    reason: str = "",
    services: Sequence[str] = (),
    message: str = "",
) -> ReassessmentRequest:
    """Support's decision: lift, limit (some services), keep, or ask for more info.

    The internal reason is mandatory and audited; the customer's email never gives
    it. A keep on an account whose hold was already kept once makes it final.
    """
    actor.require(*ACT)
    if decision not in Decision.values:
        raise ValidationError({"decision": f"Unknown decision {decision!r}."})
    if not request.is_open:
        raise ValidationError({"request": "The request has already been decided."})
    account = Account.objects.select_for_update().get(pk=request.account_id)
    request.account = account
    org, company = account.organisation.name, account.company_name
    if decision == Decision.ASK_INFO:
        message = (message or "").strip()
        if not message:
            raise ValidationError(
                {"message": "Tell the customer what information is needed."}
            )
        before = audit_snapshot(request, ["status"])
        request.status = RequestStatus.INFO_REQUESTED
        request.paused_at = timezone.now()
        request.info_request_message = message
        request.save()
        audit_record(
            actor=actor,
            action="reassessment.ask_info",
            target=request,
            before=before,
            after={"status": request.status, "message": message},
            reason=(reason or "").strip() or message,
        )
        email_customer(
            account=account,
            kind=EmailKind.INFO_REQUESTED,
            message=emails.info_requested(
                org_name=org, company=company, message=message
            ),
        )
        return request
    reason = require_reason(reason)
    if decision == Decision.LIFT:
        status_set(
            actor=actor, account=account, action="account.lift",
            status=AccountStatus.ACTIVE, services=(), reason=reason,
        )  # fmt: skip
        request_close(
            actor=actor, request=request, status=RequestStatus.LIFTED,
            decision=decision, reason=reason,
            services_lifted=sorted(set(ALL_SERVICES)),
        )  # fmt: skip
        email_customer(
            account=account,
            kind=EmailKind.LIFTED,
            message=emails.lifted(org_name=org, company=company),
        )
    elif decision == Decision.LIMIT:
        lifted = clean_services(services)
        current = set(account.restricted_services)
        not_restricted = sorted(set(lifted) - current)
        if not_restricted:
            raise ValidationError(
                {"services": f"Not restricted now: {', '.join(not_restricted)}."}
            )
        remaining = sorted(current - set(lifted))
        if not remaining:
            raise ValidationError(
                {"services": "Lifting every restriction is a lift; choose Lift."}
            )
        status_set(
            actor=actor, account=account, action="account.limit",
            status=AccountStatus.RESTRICTED, services=remaining, reason=reason,
        )  # fmt: skip
        request_close(
            actor=actor, request=request, status=RequestStatus.LIMITED,
            decision=decision, reason=reason, services_lifted=lifted,
        )  # fmt: skip
        email_customer(
            account=account,
            kind=EmailKind.LIMITED,
            message=emails.limited(
                org_name=org, company=company, lifted_services=lifted,
                remaining=remaining,
            ),
        )  # fmt: skip
    else:
        request_close(
            actor=actor, request=request, status=RequestStatus.KEPT,
            decision=decision, reason=reason,
        )  # fmt: skip
        kept = account.requests.filter(status=RequestStatus.KEPT).count()
        final = kept >= 2
        if final:
            account.decision_final_at = timezone.now()
            account.save(update_fields=["decision_final_at"])
            audit_record(
                actor=actor,
                action="account.decision_final",
                target=account,
                before={"decision_final": False},
                after={"decision_final": True, "kept_reviews": kept},
                reason=reason,
            )
        email_customer(
            account=account,
            kind=EmailKind.REJECTED,
            message=emails.rejected(org_name=org, company=company, final=final),
        )
    return request
