"""Writes of the remediation app that people (or their API tokens) make.

Enterprises, gates, terms and owned numbers are admin work; submitting and
cancelling remediation requests is for operators and admins. Every change is
audited. The automatic side (forwarding, polling, webhooks) is in `poller.py`
and `webhooks.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from remediation import selectors, validation
from remediation.choices import GateStatus, Provider, RemediationStatus, SpamRisk
from remediation.errors import (
    GateClosed,
    InFlightConflict,
    InvalidParameters,
    Problem,
    problem,
)
from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    RemediationSettings,
    webhook_secret_generate,
)
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Organisation
from trustconsole.core.services import (
    audit_record,
    audit_snapshot,
    audited_delete,
    audited_save,
)
from trustconsole.lib import netguard
from trustconsole.lib.confirm import reason_required
from trustconsole.lib.crypto import HINT_PASTED, UNREADABLE, is_hint, is_unreadable
from trustconsole.lib.phones import PhoneNumberError, phone_normalise
from voicegate.policy.owned import enterprise_numbers_changed

WEBHOOK_SECRET_MIN_LENGTH = 24
# Who may submit and cancel remediation requests (admins always may).
SUBMIT_ROLES = (Role.OPERATOR,)
ENTERPRISE_FIELDS = [
    "name",
    "upstream_enterprise_id",
    "reputation_status",
    "loa_status",
    "terms_accepted_at",
    "terms_accepted_by",
]


# --- Settings ------------------------------------------------------------------------


def settings_row_ensure(*, organisation: Organisation) -> RemediationSettings:
    """The saved settings row, created with the defaults and a fresh signing secret
    when the organisation has none yet (what signs a webhook must be kept)."""
    row, _ = RemediationSettings.objects.get_or_create(organisation=organisation)
    return row


@transaction.atomic
def settings_update(
    *,
    actor: Actor,
    provider: str | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
    cooldown_days: int | None = None,
    webhook_secret: str | None = None,
    reason: str = "",
) -> RemediationSettings:
    """Change the organisation's provider, API base, API key, cooldown or webhook
    signing secret (admin); replacing the secret requires a reason, since its
    receivers must be updated."""
    actor.require()
    row = selectors.settings_for(organisation=actor.organisation)
    before = audit_snapshot(row, ["provider", "api_base", "cooldown_days"])
    before["api_key"] = row.api_key_hint
    before["webhook_secret"] = row.webhook_secret_hint
    if provider is not None:
        if provider not in Provider.values:
            raise ValidationError({"provider": f"Unknown provider {provider!r}."})
        row.provider = provider
    if api_base is not None:
        api_base = api_base.strip()
        if api_base:
            try:
                netguard.url_check(api_base)
            except netguard.UnsafeDestination as exc:
                raise ValidationError(
                    {
                        "api_base": f"{exc} Give a full URL, e.g. https://api.telnyx.com/v2."
                    }
                ) from None
        row.api_base = api_base
    if api_key is not None and api_key.strip():
        if is_hint(api_key.strip()):
            raise ValidationError({"api_key": HINT_PASTED})
        row.api_key = api_key.strip()
    if webhook_secret is not None and webhook_secret.strip():
        webhook_secret = webhook_secret.strip()
        if is_hint(webhook_secret):
            raise ValidationError({"webhook_secret": HINT_PASTED})
        if len(webhook_secret) < WEBHOOK_SECRET_MIN_LENGTH or " " in webhook_secret:
            raise ValidationError(
                {
                    "webhook_secret": f"Use at least {WEBHOOK_SECRET_MIN_LENGTH} "
                    "characters without spaces."
                }
            )
        if webhook_secret != row.webhook_secret:
            reason = reason_required(reason)
        row.webhook_secret = webhook_secret
    if cooldown_days is not None:
        row.cooldown_days = cooldown_days
    if row.provider == Provider.TELNYX and is_unreadable(row.api_key):
        raise ValidationError({"api_key": f"{UNREADABLE}: enter the API key again."})
    if row.provider == Provider.TELNYX and not row.api_key:
        raise ValidationError({"api_key": "Telnyx needs the organisation's API key."})
    row.webhook_secret_fill()
    row.full_clean()
    row.save()
    after = audit_snapshot(row, ["provider", "api_base", "cooldown_days"])
    after["api_key"] = row.api_key_hint
    after["webhook_secret"] = row.webhook_secret_hint
    if after != before:
        audit_record(
            actor=actor,
            action="remediation.settings_update",
            target=row,
            before=before,
            after=after,
            reason=reason.strip(),
        )
    return row


@transaction.atomic
def webhook_secret_rotate(*, actor: Actor, reason: str) -> RemediationSettings:
    """Replace the webhook signing secret; later deliveries use the new one (admin).
    Receivers must be updated, so the reason is required."""
    actor.require()
    reason = reason_required(reason)
    row = selectors.settings_for(organisation=actor.organisation)
    before = row.webhook_secret_hint
    row.webhook_secret = webhook_secret_generate()
    if row.pk is None:  # the organisation's first settings change saves the row
        row.save()
    else:
        row.save(update_fields=["webhook_secret", "updated_at"])
    audit_record(
        actor=actor,
        action="remediation.webhook_secret_rotate",
        target=row,
        before={"webhook_secret": before},
        after={"webhook_secret": row.webhook_secret_hint},
        reason=reason,
    )
    return row


# --- Enterprises ---------------------------------------------------------------------


def _check_gate(value: str, field: str) -> None:
    if value not in GateStatus.values:
        allowed = ", ".join(GateStatus.values)
        raise ValidationError({field: f"Must be one of {allowed}."})


@transaction.atomic
def enterprise_create(
    *,
    actor: Actor,
    name: str,
    upstream_enterprise_id: str = "",
    reputation_status: str = GateStatus.PENDING,
    loa_status: str = GateStatus.PENDING,
    terms_accepted: bool = False,
) -> Enterprise:
    """Register an enterprise of the organisation (admin)."""
    actor.require()
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "An enterprise needs its legal name."})
    if Enterprise.objects.filter(organisation=actor.organisation, name=name).exists():
        raise ValidationError({"name": f"An enterprise named {name!r} exists."})
    _check_gate(reputation_status, "reputation_status")
    _check_gate(loa_status, "loa_status")
    enterprise = Enterprise(
        organisation=actor.organisation,
        name=name,
        upstream_enterprise_id=(upstream_enterprise_id or "").strip(),
        reputation_status=reputation_status,
        loa_status=loa_status,
    )
    if terms_accepted:
        enterprise.terms_accepted_at = timezone.now()
        enterprise.terms_accepted_by = actor.label[:200]
    audited_save(
        enterprise,
        actor=actor,
        action="enterprise.create",
        snapshot=ENTERPRISE_FIELDS,
    )
    return enterprise


@transaction.atomic
def enterprise_update(
    *,
    actor: Actor,
    enterprise: Enterprise,
    name: str | None = None,
    upstream_enterprise_id: str | None = None,
    reputation_status: str | None = None,
    loa_status: str | None = None,
    terms_accepted: bool | None = None,
    reason: str = "",
) -> Enterprise:
    """Change an enterprise's name, upstream id, gates or terms acceptance (admin).
    Withdrawing an accepted Terms of Service requires the reason
    (trustconsole/lib/confirm.py)."""
    actor.require()
    before = audit_snapshot(enterprise, ENTERPRISE_FIELDS)
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": "An enterprise needs its legal name."})
        clash = Enterprise.objects.filter(organisation=actor.organisation, name=name)
        if clash.exclude(pk=enterprise.pk).exists():
            raise ValidationError({"name": f"An enterprise named {name!r} exists."})
        enterprise.name = name
    if upstream_enterprise_id is not None:
        enterprise.upstream_enterprise_id = upstream_enterprise_id.strip()
    if reputation_status is not None:
        _check_gate(reputation_status, "reputation_status")
        enterprise.reputation_status = reputation_status
    if loa_status is not None:
        _check_gate(loa_status, "loa_status")
        enterprise.loa_status = loa_status
    if terms_accepted is True and enterprise.terms_accepted_at is None:
        enterprise.terms_accepted_at = timezone.now()
        enterprise.terms_accepted_by = actor.label[:200]
    elif terms_accepted is False:
        if enterprise.terms_accepted_at is not None:
            reason = reason_required(reason)
        enterprise.terms_accepted_at = None
        enterprise.terms_accepted_by = ""
    after = audit_snapshot(enterprise, ENTERPRISE_FIELDS)
    if after == before:
        return enterprise
    enterprise.updated_at = timezone.now()
    audited_save(
        enterprise,
        actor=actor,
        action="enterprise.update",
        before=before,
        after=after,
        reason=reason,
    )
    return enterprise


@transaction.atomic
def enterprise_delete(*, actor: Actor, enterprise: Enterprise, reason: str) -> None:
    """Remove an enterprise and its numbers; refused once it has requests (admin).
    The reason is required (kept in the audit trail)."""
    actor.require()
    reason = reason_required(reason)
    if enterprise.remediation_requests.exists():
        raise ValidationError(
            {"enterprise": "It has remediation requests, which must stay on record."}
        )
    audited_delete(
        enterprise,
        actor=actor,
        action="enterprise.delete",
        before=audit_snapshot(enterprise, ENTERPRISE_FIELDS),
        reason=reason,
    )


# --- Owned numbers -------------------------------------------------------------------


def numbers_normalise(raw_numbers: Iterable[str]) -> list[str]:
    """E.164 numbers in order, without repeats; ValidationError listing each bad one."""
    numbers: list[str] = []
    errors: list[str] = []
    for index, raw in enumerate(raw_numbers):
        try:
            e164 = phone_normalise(raw)
        except PhoneNumberError as exc:
            errors.append(f"#{index + 1} {raw!r} {exc.reason}.")
            continue
        if not validation.E164.match(e164):
            errors.append(f"#{index + 1} {raw!r} is not a 10 to 15 digit number.")
            continue
        if e164 not in numbers:
            numbers.append(e164)
    if errors:
        raise ValidationError({"phone_numbers": errors})
    if not numbers:
        raise ValidationError({"phone_numbers": "Give at least one number."})
    return numbers


@transaction.atomic
def numbers_add(
    *,
    actor: Actor,
    enterprise: Enterprise,
    phone_numbers: Iterable[str],
    spam_risk: str | None = None,
    monitored: bool = True,
) -> list[OwnedNumber]:
    """Add owned numbers to an enterprise (admin); numbers it has are refused."""
    actor.require()
    numbers = numbers_normalise(phone_numbers)
    if spam_risk is not None and spam_risk not in SpamRisk.values:
        raise ValidationError({"spam_risk": f"Unknown spam risk {spam_risk!r}."})
    existing = set(
        OwnedNumber.objects.filter(enterprise=enterprise, e164__in=numbers).values_list(
            "e164", flat=True
        )
    )
    if existing:
        raise ValidationError(
            {"phone_numbers": f"Already owned: {', '.join(sorted(existing))}."}
        )
    now = timezone.now()
    rows = OwnedNumber.objects.bulk_create(
        [
            OwnedNumber(
                organisation=actor.organisation,
                enterprise=enterprise,
                e164=e164,
                monitored=monitored,
                spam_risk=spam_risk,
                spam_risk_checked_at=now if spam_risk else None,
                created_at=now,
            )
            for e164 in numbers
        ],
        batch_size=500,
    )
    enterprise_numbers_changed(actor.organisation.pk)
    audit_record(
        actor=actor,
        action="enterprise.numbers_add",
        target=enterprise,
        after={
            "count": len(rows),
            "numbers": numbers[:50],
            "spam_risk": spam_risk,
            "monitored": monitored,
        },
    )
    return rows


_UNSET: Any = object()


@transaction.atomic
def number_update(
    *,
    actor: Actor,
    number: OwnedNumber,
    spam_risk: str | None = _UNSET,
    monitored: bool | None = None,
) -> OwnedNumber:
    """Record a number's spam risk (None: no data) or whether it is monitored."""
    actor.require()
    before = audit_snapshot(number, ["spam_risk", "monitored"])
    if spam_risk is not _UNSET:
        if spam_risk is not None and spam_risk not in SpamRisk.values:
            raise ValidationError({"spam_risk": f"Unknown spam risk {spam_risk!r}."})
        number.spam_risk = spam_risk
        number.spam_risk_checked_at = timezone.now() if spam_risk else None
    if monitored is not None:
        number.monitored = monitored
    after = audit_snapshot(number, ["spam_risk", "monitored"])
    if after == before:
        return number
    number.save(update_fields=["spam_risk", "spam_risk_checked_at", "monitored"])
    enterprise_numbers_changed(number.organisation_id)
    audit_record(
        actor=actor,
        action="enterprise.number_update",
        target=number.enterprise,
        before={"number": number.e164, **before},
        after={"number": number.e164, **after},
    )
    return number


@transaction.atomic
def number_remove(*, actor: Actor, number: OwnedNumber, reason: str) -> None:
    """Stop owning a number (admin); refused while a request holds it or without
    a reason (trustconsole/lib/confirm.py)."""
    actor.require()
    reason = reason_required(reason)
    if RemediationNumber.objects.filter(
        enterprise=number.enterprise, e164=number.e164, in_flight=True
    ).exists():
        raise ValidationError(
            {"phone_number": f"{number.e164} is in an in-flight remediation request."}
        )
    audit_record(
        actor=actor,
        action="enterprise.number_remove",
        target=number.enterprise,
        before={"number": number.e164, "spam_risk": number.spam_risk},
        reason=reason,
    )
    number.delete()
    enterprise_numbers_changed(number.organisation_id)


# --- Remediation requests ----------------------------------------------------------


def gate_problems(enterprise: Enterprise) -> list[Problem]:
    """One 403 problem per missing gate (reputation, LOA, terms)."""
    return [
        problem(403, f"Remediation is not allowed yet: {what}.")
        for what in enterprise.missing_gates
    ]


def remediation_submit(
    *,
    actor: Actor,
    enterprise: Enterprise,
    phone_numbers: object,
    call_purpose: object,
    contact_email: object = None,
    webhook_url: object = None,
) -> RemediationRequest:
    """Accept a batch for remediation: stored `pending`, forwarded after commit.

    Refusals, in order: the actor's role or the enterprise's gates (403), invalid
    values or numbers the enterprise does not own (422), numbers that already
    have an in-flight request (409). Numbers remediated within the organisation's
    cooldown are accepted but counted ineligible and never forwarded.
    """
    actor.require(*SUBMIT_ROLES)
    if not enterprise.can_remediate:
        raise GateClosed(gate_problems(enterprise))
    data = validation.clean_submission(
        phone_numbers=phone_numbers,
        call_purpose=call_purpose,
        contact_email=contact_email,
        webhook_url=webhook_url,
        allow_private_webhook=netguard.allow_private(),
    )
    try:
        return _submit(actor=actor, enterprise=enterprise, data=data)
    except IntegrityError:
        # Another submission took one of the numbers between our check and insert
        # (the partial unique index is the last word on "one in flight").
        busy = RemediationNumber.objects.filter(
            enterprise=enterprise, in_flight=True, e164__in=data.phone_numbers
        ).values_list("e164", "request__public_id")
        raise InFlightConflict(_conflicts(data.phone_numbers, dict(busy))) from None


def _conflicts(numbers: list[str], busy: dict[str, Any]) -> list[Problem]:
    return [
        problem(
            409,
            f"{number} already has an in-flight remediation request ({busy[number]}).",
            pointer=f"/phone_numbers/{index}",
        )
        for index, number in enumerate(numbers)
        if number in busy
    ]


@transaction.atomic
def _submit(
    *, actor: Actor, enterprise: Enterprise, data: validation.Submission
) -> RemediationRequest:
    # One submission per enterprise at a time (PostgreSQL row lock; SQLite already
    # serialises writers), so the in-flight check below cannot race.
    Enterprise.objects.select_for_update().filter(pk=enterprise.pk).exists()
    numbers = data.phone_numbers
    owned_rows = OwnedNumber.objects.filter(
        enterprise=enterprise, e164__in=numbers
    ).values_list("e164", "last_remediated_at", "spam_risk")
    risk_before = {e164: risk for e164, _, risk in owned_rows}
    owned = {e164: remediated for e164, remediated, _ in owned_rows}
    foreign = [
        Problem(
            code="10017",
            title="Associated resource does not exist",
            detail=f"{number} does not belong to this enterprise.",
            pointer=f"/phone_numbers/{index}",
        )
        for index, number in enumerate(numbers)
        if number not in owned
    ]
    if foreign:
        raise InvalidParameters(foreign)
    busy = dict(
        RemediationNumber.objects.filter(
            enterprise=enterprise, in_flight=True, e164__in=numbers
        ).values_list("e164", "request__public_id")
    )
    if busy:
        raise InFlightConflict(_conflicts(numbers, busy))
    org_settings = selectors.settings_for(organisation=actor.organisation)
    now = timezone.now()
    cutoff = now - dt.timedelta(days=org_settings.cooldown_days)
    cooling = {
        n
        for n, remediated in owned.items()
        if org_settings.cooldown_days and remediated and remediated >= cutoff
    }
    request = RemediationRequest.objects.create(
        organisation=actor.organisation,
        enterprise=enterprise,
        status=RemediationStatus.PENDING,
        call_purpose=data.call_purpose,
        contact_email=data.contact_email,
        webhook_url=data.webhook_url,
        phone_numbers_count=len(numbers),
        phone_numbers_submitted=len(numbers) - len(cooling),
        phone_numbers_ineligible=len(cooling),
        created_at=now,
        updated_at=now,
        created_by=actor.label[:200],
        provider=org_settings.provider,
        next_check_at=now,
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic():
        _insert_numbers(
            [
                (
                    request.pk,
                    enterprise.pk,
                    number,
                    position,
                    number not in cooling,
                    number not in cooling,
                    "ineligible" if number in cooling else "",
                    stamp if number in cooling else None,
                    risk_before.get(number),
                )
                for position, number in enumerate(numbers)
            ]
        )
    audit_record(
        actor=actor,
        action="remediation.submit",
        target=request,
        after={
            "enterprise": str(enterprise.public_id),
            "status": request.status,
            "phone_numbers_count": request.phone_numbers_count,
            "phone_numbers_submitted": request.phone_numbers_submitted,
            "phone_numbers_ineligible": request.phone_numbers_ineligible,
            "numbers": numbers[:50],
        },
    )
    from remediation.tasks import enqueue_process

    transaction.on_commit(lambda: enqueue_process(request.pk))
    return request


_NUMBER_COLUMNS = (
    "request_id",
    "enterprise_id",
    "e164",
    "position",
    "eligible",
    "in_flight",
    "outcome",
    "outcome_at",
    "risk_before",
)


def _insert_numbers(rows: list[tuple[Any, ...]]) -> None:
    """Insert a batch's number rows without building model instances.

    Building 2,000 model instances for bulk_create costs more than validating and
    checking the whole batch; plain rows (COPY on PostgreSQL, executemany on
    SQLite) keep a 2,000-number submission well under the 300 ms target
    (bench/remediation.py). Constraints still apply in the database.
    """
    if connection.vendor == "postgresql":
        _copy_numbers(rows)
        return
    quote = connection.ops.quote_name
    table = quote(RemediationNumber._meta.db_table)
    columns = ", ".join(quote(c) for c in _NUMBER_COLUMNS)
    marks = ", ".join(["%s"] * len(_NUMBER_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _copy_numbers(rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY the rows in (one round trip, no per-statement parsing)."""
    quote = connection.ops.quote_name
    table = quote(RemediationNumber._meta.db_table)
    columns = ", ".join(quote(c) for c in _NUMBER_COLUMNS)
    # The raw psycopg cursor's errors become Django's (IntegrityError) here.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def remediation_cancel(
    *, actor: Actor, request: RemediationRequest, reason: str = ""
) -> RemediationRequest:
    """Cancel a pending request (an extension of the seed's API).

    Not yet forwarded: cancelled here. Forwarded but still pending upstream: the
    provider is asked to cancel (the sandbox can; Telnyx documents no way to).
    """
    actor.require(*SUBMIT_ROLES)
    from remediation import poller

    return poller.request_cancel(actor=actor, request_id=request.pk, reason=reason)
