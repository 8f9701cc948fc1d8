"""Verified caller IDs and consent records: who may present a number, who
agreed to be called."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audited_delete, audited_save
from trustconsole.lib.confirm import reason_required
from voicegate.policy import keys
from voicegate.policy.choices import VerificationMethod
from voicegate.policy.models import ConsentRecord, VerifiedCallerId
from voicegate.policy.services.common import ACT, clean_e164, clean_text


def _account(actor: Actor, account_id: Any) -> Any:
    if account_id in (None, ""):
        return None
    if hasattr(account_id, "pk"):
        if account_id.organisation_id != actor.organisation.pk:
            from django.http import Http404

            raise Http404("Not found.")
        return account_id
    from accounts.selectors import account_get

    return account_get(actor=actor, public_id=account_id)


@transaction.atomic
def caller_id_verify(
    *,
    actor: Actor,
    number: str,
    method: str,
    account: Any = None,
    note: str = "",
    verified_at: dt.datetime | None = None,
) -> VerifiedCallerId:
    """Record that an account (or, with no account, the organisation) may present
    `number` as caller ID; who verified it and when are kept."""
    actor.require(*ACT)
    account = _account(actor, account)
    e164 = clean_e164(number, "number")
    if method not in VerificationMethod.values:
        raise ValidationError(
            {"method": f"Choose one of: {', '.join(VerificationMethod.values)}."}
        )
    if verified_at is not None and verified_at > timezone.now() + dt.timedelta(
        minutes=5
    ):
        raise ValidationError(
            {"verified_at": "A verification cannot be in the future."}
        )
    if VerifiedCallerId.objects.filter(
        organisation=actor.organisation, account=account, number=e164
    ).exists():
        raise ValidationError({"number": f"{e164} is already verified here."})
    row = VerifiedCallerId(
        organisation=actor.organisation,
        account=account,
        number=e164,
        method=method,
        note=clean_text(note, "note", required=False, limit=500),
        verified_by=actor.label[:200],
        verified_at=verified_at or timezone.now(),
    )
    audited_save(
        row,
        actor=actor,
        action="policy.caller_id_verify",
        after={
            "number": e164,
            "account": str(account.public_id) if account else None,
            "method": method,
            "verified_at": row.verified_at,
        },
    )
    keys.bump(keys.caller_ids_key(actor.organisation.pk))
    return row


@transaction.atomic
def caller_id_remove(*, actor: Actor, caller_id: VerifiedCallerId, reason: str) -> None:
    """Withdraw a verified caller ID; the reason is required
    (trustconsole/lib/confirm.py)."""
    actor.require(*ACT)
    reason = reason_required(reason)
    audited_delete(
        caller_id,
        actor=actor,
        action="policy.caller_id_remove",
        before={
            "number": caller_id.number,
            "account": str(caller_id.account.public_id) if caller_id.account else None,
            "verified_by": caller_id.verified_by,
            "verified_at": caller_id.verified_at,
        },
        reason=reason,
    )
    keys.bump(keys.caller_ids_key(actor.organisation.pk))


@transaction.atomic
def consent_record(
    *,
    actor: Actor,
    number: str,
    evidence: str,
    account: Any = None,
    given_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Record that a destination agreed to be called (by one account, or by anyone
    calling for the organisation); it overrides Do-Not-Call until it expires."""
    actor.require(*ACT)
    account = _account(actor, account)
    e164 = clean_e164(number, "number")
    evidence = clean_text(evidence, "evidence", required=True, limit=500)
    given_at = given_at or timezone.now()
    if given_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"given_at": "Consent cannot be given in the future."})
    if expires_at is not None and expires_at <= given_at:
        raise ValidationError({"expires_at": "Expiry must be after consent was given."})
    if ConsentRecord.objects.filter(
        organisation=actor.organisation, account=account, number=e164
    ).exists():
        raise ValidationError({"number": f"Consent of {e164} is already recorded."})
    row = ConsentRecord(
        organisation=actor.organisation,
        account=account,
        number=e164,
        evidence=evidence,
        given_at=given_at,
        expires_at=expires_at,
        recorded_by=actor.label[:200],
    )
    audited_save(
        row,
        actor=actor,
        action="policy.consent_record",
        after={
            "number": e164,
            "account": str(account.public_id) if account else None,
            "evidence": evidence,
            "given_at": given_at,
            "expires_at": expires_at,
        },
    )
    keys.bump(keys.consent_key(actor.organisation.pk))
    return row


@transaction.atomic
def consent_remove(*, actor: Actor, consent: ConsentRecord, reason: str) -> None:
    """Withdraw a consent record (the destination is protected by DNC again); the
    reason is required (trustconsole/lib/confirm.py)."""
    actor.require(*ACT)
    reason = reason_required(reason)
    audited_delete(
        consent,
        actor=actor,
        action="policy.consent_remove",
        before={"number": consent.number, "evidence": consent.evidence},
        reason=reason,
    )
    keys.bump(keys.consent_key(actor.organisation.pk))
