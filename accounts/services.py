"""Writes of the accounts app. Every state change is audited with actor and reason.

Support (and admin) act on accounts; operators and viewers only read. Automatic work
(continuous review, port-away expiry) acts as a system actor of the organisation.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import emails, risk
from accounts.business_days import add_business_days, business_days_between
from accounts.choices import (
    ALL_SERVICES,
    OPEN_REQUEST_STATUSES,
    ZERO_TOLERANCE_SIGNALS,
    AccountStatus,
    Decision,
    EmailKind,
    EvidenceKind,
    RefundStatus,
    RequestStatus,
    Service,
    SignalSource,
    SignalType,
)
from accounts.models import (
    Account,
    AccountNumber,
    AccountSettings,
    AccountSignal,
    AccountUsageDay,
    CustomerEmail,
    Evidence,
    Feedback,
    PortAwayGrant,
    ReassessmentRequest,
    RefundRequest,
)
from accounts.selectors import account_settings_for
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Organisation
from trustconsole.core.services import audit_record, audit_snapshot

logger = logging.getLogger(__name__)

ACT = (Role.SUPPORT,)
STATUS_FIELDS = ["status", "restricted_services", "status_reason"]
WARN_BUSINESS_DAYS = 5
DUE_BUSINESS_DAYS = 7


# --- Customer emails -------------------------------------------------------------


def _email_customer(*, account: Account, kind: str, message: tuple[str, str]) -> None:
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


# --- Status changes ----------------------------------------------------------------


def _require_reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({field: "Give the internal reason; it is audited."})
    return reason


def _set_status(
    *,
    actor: Actor,
    account: Account,
    action: str,
    status: str,
    services: Iterable[str],
    reason: str,
) -> Account:
    before = audit_snapshot(account, STATUS_FIELDS)
    account.status = status
    account.restricted_services = sorted(set(services))
    account.status_reason = reason
    account.status_changed_at = timezone.now()
    account.full_clean()
    account.save()
    audit_record(
        actor=actor,
        action=action,
        target=account,
        before=before,
        after=audit_snapshot(account, STATUS_FIELDS),
        reason=reason,
    )
    return account


def _clean_services(services: Iterable[str], field: str = "services") -> list[str]:
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


@transaction.atomic
def account_restrict(
    *,
    actor: Actor,
    account: Account,
    services: Sequence[str],
    reason: str,
    notify_customer: bool = True,
) -> Account:
    """Restrict named services of an active or restricted account; email them."""
    actor.require(*ACT)
    services = _clean_services(services)
    reason = _require_reason(reason)
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
    _set_status(
        actor=actor,
        account=account,
        action="account.restrict",
        status=AccountStatus.RESTRICTED,
        services=merged,
        reason=reason,
    )
    if notify_customer:
        _email_customer(
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
    *, actor: Actor, account: Account, reason: str, notify_customer: bool = True
) -> Account:
    """Put an account on the hold list: no service at all until a review lifts it."""
    actor.require(*ACT)
    reason = _require_reason(reason)
    if account.status == AccountStatus.CLOSED:
        raise ValidationError({"status": "A closed account cannot be put on hold."})
    _set_status(
        actor=actor,
        account=account,
        action="account.hold",
        status=AccountStatus.ON_HOLD,
        services=ALL_SERVICES,
        reason=reason,
    )
    if notify_customer:
        _email_customer(
            account=account,
            kind=EmailKind.HOLD,
            message=emails.hold(
                org_name=account.organisation.name, company=account.company_name
            ),
        )
    return account


def feedback_subject(account: Account, ticket_id: str = "<ticket id>") -> str:
    """The subject line the feedback channel expects for an account."""
    return f"Feedback: {account.email} {ticket_id} Blocked Account"


@transaction.atomic
def account_block(
    *, actor: Actor, account: Account, reason: str, permanent: bool = False
) -> Account:
    """Block an account: temporarily under case review, or permanently (closed)."""
    actor.require(*ACT)
    reason = _require_reason(reason)
    if account.status == AccountStatus.CLOSED:
        raise ValidationError({"status": "The account is already permanently blocked."})
    if not permanent and account.status == AccountStatus.BLOCKED:
        raise ValidationError({"status": "The account is already blocked."})
    status = AccountStatus.CLOSED if permanent else AccountStatus.BLOCKED
    _set_status(
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
            _request_close(
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
    _email_customer(
        account=account,
        kind=EmailKind.CLOSED if permanent else EmailKind.BLOCKED,
        message=message,
    )
    return account


# --- Signup ------------------------------------------------------------------------


@transaction.atomic
def account_restore(*, actor: Actor, account: Account, reason: str) -> Account:
    """Lift a temporary block after the case review cleared the account: active
    again, every service back, the customer emailed."""
    actor.require(*ACT)
    reason = _require_reason(reason)
    if account.status != AccountStatus.BLOCKED:
        raise ValidationError(
            {
                "status": "Only an account blocked for case review can be restored; "
                f"this one is {account.get_status_display().lower()}."
            }
        )
    _set_status(
        actor=actor,
        account=account,
        action="account.restore",
        status=AccountStatus.ACTIVE,
        services=(),
        reason=reason,
    )
    _email_customer(
        account=account,
        kind=EmailKind.RESTORED,
        message=emails.restored(
            org_name=account.organisation.name, company=account.company_name
        ),
    )
    return account


def _clean_country(value: str, field: str) -> str:
    code = (value or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({field: f"{value!r} is not an ISO 3166 country code."})
    return code


def _clean_url(value: str, field: str, *, required: bool) -> str:
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


def normalise_e164(raw: str) -> str:
    """A phone number in E.164, or ValidationError when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"{raw!r} is not a phone number in international format (+…)."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{raw!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def account_create(
    *,
    actor: Actor,
    company_name: str,
    email: str,
    country: str,
    website: str = "",
    balance: Decimal | str | int = 0,
    payment_flagged: bool = False,
) -> Account:
    """Sign up a customer account and run the signup risk assessment on it.

    Each rule that fires becomes a signal (its explanation); a score at or above the
    organisation's hold threshold puts the account on the hold list and emails the
    customer how to ask for reassessment.
    """
    actor.require(*ACT)
    errors: dict[str, str] = {}
    company_name = (company_name or "").strip()
    if not company_name:
        errors["company_name"] = "This field is required."
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address."
    for field, check in (
        ("country", lambda: _clean_country(country, "country")),
        ("website", lambda: _clean_url(website, "website", required=False)),
    ):
        try:
            check()
        except ValidationError as exc:
            errors[field] = exc.message_dict[field][0]
    if errors:
        raise ValidationError(errors)
    account = Account(
        organisation=actor.organisation,
        company_name=company_name,
        email=email,
        website=(website or "").strip(),
        country=country.strip().upper(),
        balance=Decimal(str(balance)),
        payment_flagged=payment_flagged,
    )
    account.full_clean()
    account.save()
    audit_record(
        actor=actor,
        action="account.create",
        target=account,
        after=audit_snapshot(
            account, ["company_name", "email", "website", "country", "status"]
        ),
    )
    config = account_settings_for(organisation=actor.organisation)
    findings = risk.assess_signup(
        email=email,
        website=account.website,
        country=account.country,
        high_risk_countries=config.high_risk_countries,
        payment_flagged=payment_flagged,
    )
    for finding in findings:
        account_signal_add(
            actor=actor,
            account=account,
            signal_type=finding.signal_type,
            weight=finding.weight,
            source=SignalSource.SIGNUP,
            note=finding.note,
            apply_rules=False,
        )
    if account.risk_score >= config.hold_threshold:
        explanation = "; ".join(f"{f.note} (+{f.weight})" for f in findings)
        account_hold(
            actor=actor,
            account=account,
            reason=(
                f"Signup risk score {account.risk_score} ≥ {config.hold_threshold}: "
                f"{explanation}"
            ),
        )
    return account


# --- Signals and their rules ---------------------------------------------------------


@dataclass(frozen=True)
class RestrictionRule:
    """When the weights of one signal type add up to `min_weight`, restrict services."""

    min_weight: int
    services: tuple[str, ...]


# The one rule table for automatic restrictions. The outbound call policy check adds
# OUTBOUND_DENIALS signals (Low, +10 each): four repeated denials restrict voice.
RESTRICTION_RULES: dict[str, RestrictionRule] = {
    SignalType.CARRIER_COMPLAINTS: RestrictionRule(40, (Service.SMS, Service.VOICE)),
    SignalType.NUMBERS_WITHOUT_USAGE: RestrictionRule(40, (Service.NUMBERS,)),
    SignalType.VOLUME_SPIKE: RestrictionRule(20, (Service.SMS, Service.VOICE)),
    SignalType.PAYMENT_FLAGGED: RestrictionRule(70, ALL_SERVICES),
    SignalType.PHISHING_SPAM: RestrictionRule(40, ALL_SERVICES),
    SignalType.OUTBOUND_DENIALS: RestrictionRule(40, (Service.VOICE,)),
}


def _refresh_score(account: Account) -> None:
    total = account.signals.aggregate(total=Sum("weight"))["total"] or 0
    Account.objects.filter(pk=account.pk).update(risk_score=total)
    account.risk_score = total


@transaction.atomic
def account_signal_add(
    *,
    actor: Actor,
    account: Account,
    signal_type: str,
    weight: int,
    source: str,
    note: str = "",
    apply_rules: bool = True,
) -> AccountSignal:
    """Record a risk signal on an account and apply the restriction rule of its type.

    The account's risk score is the sum of its signal weights. With `apply_rules`,
    once the weights of this type reach the rule's threshold, the rule's services are
    restricted (customer emailed) with the signals as the recorded reason.
    """
    actor.require(*ACT)
    if signal_type not in SignalType.values:
        raise ValidationError({"signal_type": f"Unknown signal type {signal_type!r}."})
    if source not in SignalSource.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        raise ValidationError({"weight": "A weight is a whole number from 1 to 100."})
    signal = AccountSignal(
        organisation=account.organisation,
        account=account,
        signal_type=signal_type,
        weight=weight,
        source=source,
        note=(note or "").strip(),
    )
    signal.full_clean()
    signal.save()
    before_score = account.risk_score
    _refresh_score(account)
    audit_record(
        actor=actor,
        action="account.signal_add",
        target=account,
        before={"risk_score": before_score},
        after={
            "risk_score": account.risk_score,
            "signal_type": signal_type,
            "weight": weight,
            "source": source,
        },
        reason=signal.note,
    )
    rule = RESTRICTION_RULES.get(signal_type)
    if apply_rules and rule is not None:
        _apply_rule(actor=actor, account=account, signal=signal, rule=rule)
    return signal


def _apply_rule(
    *, actor: Actor, account: Account, signal: AccountSignal, rule: RestrictionRule
) -> None:
    if account.status not in (AccountStatus.ACTIVE, AccountStatus.RESTRICTED):
        return
    total = (
        account.signals.filter(signal_type=signal.signal_type).aggregate(
            total=Sum("weight")
        )["total"]
        or 0
    )
    if total < rule.min_weight:
        return
    if account.status == AccountStatus.RESTRICTED and set(rule.services) <= set(
        account.restricted_services
    ):
        return
    account_restrict(
        actor=actor,
        account=account,
        services=rule.services,
        reason=(
            f"Automatic rule: {signal.get_signal_type_display()} "
            f"(weight {total} ≥ {rule.min_weight}). {signal.note}"
        ).strip(),
    )


# --- Usage feed and numbers --------------------------------------------------------


@transaction.atomic
def account_usage_record(
    *,
    actor: Actor,
    account: Account,
    day: dt.date,
    numbers_bought: int = 0,
    outbound_calls: int = 0,
    outbound_sms: int = 0,
    carrier_complaints: int = 0,
    payment_flagged: bool | None = None,
) -> AccountUsageDay:
    """Store one day's usage totals (a repeated report replaces the day's figures)."""
    actor.require(*ACT)
    counters = {
        "numbers_bought": numbers_bought,
        "outbound_calls": outbound_calls,
        "outbound_sms": outbound_sms,
        "carrier_complaints": carrier_complaints,
    }
    for name, value in counters.items():
        if not isinstance(value, int) or value < 0:
            raise ValidationError({name: "A count is a whole number, 0 or more."})
    row, _ = AccountUsageDay.objects.update_or_create(
        account=account, day=day, defaults=counters
    )
    audit_record(
        actor=actor,
        action="account.usage_record",
        target=account,
        after={"day": day.isoformat(), **counters, "payment_flagged": payment_flagged},
    )
    if payment_flagged and not account.payment_flagged:
        Account.objects.filter(pk=account.pk).update(payment_flagged=True)
        account.payment_flagged = True
        account_signal_add(
            actor=actor,
            account=account,
            signal_type=SignalType.PAYMENT_FLAGGED,
            weight=risk.EXTREME,
            source=SignalSource.USAGE_FEED,
            note="The payment provider flagged a payment.",
        )
    return row


@transaction.atomic
def account_numbers_add(
    *, actor: Actor, account: Account, numbers: Sequence[str]
) -> list[str]:
    """Add owned phone numbers (normalised to E.164) to an account."""
    actor.require(*ACT)
    if not numbers:
        raise ValidationError({"numbers": "Give at least one number."})
    clean: list[str] = []
    for index, raw in enumerate(numbers):
        try:
            clean.append(normalise_e164(str(raw)))
        except ValidationError as exc:
            raise ValidationError({f"numbers.{index}": exc.messages[0]}) from None
    taken = set(
        AccountNumber.objects.filter(organisation=account.organisation, e164__in=clean)
        .exclude(account=account)
        .values_list("e164", flat=True)
    )
    if taken:
        raise ValidationError(
            {"numbers": f"Owned by another account: {', '.join(sorted(taken))}."}
        )
    have = set(account.numbers.values_list("e164", flat=True))
    new = sorted(set(clean) - have)
    AccountNumber.objects.bulk_create(
        AccountNumber(organisation=account.organisation, account=account, e164=n)
        for n in new
    )
    if new:
        audit_record(
            actor=actor,
            action="account.numbers_add",
            target=account,
            after={"added": new},
        )
    return new


@transaction.atomic
def account_numbers_remove(
    *, actor: Actor, account: Account, numbers: Sequence[str]
) -> list[str]:
    """Remove owned phone numbers from an account (each must be one of its own)."""
    actor.require(*ACT)
    if not numbers:
        raise ValidationError({"numbers": "Choose at least one number."})
    owned = set(account.numbers.values_list("e164", flat=True))
    unknown = sorted(set(numbers) - owned)
    if unknown:
        raise ValidationError(
            {"numbers": f"Not a number of this account: {', '.join(unknown)}."}
        )
    removed = sorted(set(numbers))
    account.numbers.filter(e164__in=removed).delete()
    audit_record(
        actor=actor,
        action="account.numbers_remove",
        target=account,
        before={"numbers": sorted(owned)},
        after={"numbers": sorted(owned - set(removed)), "removed": removed},
    )
    return removed


# --- Continuous review ---------------------------------------------------------------


def _recent_signal(account: Account, signal_type: str, since: dt.datetime) -> bool:
    return account.signals.filter(
        signal_type=signal_type, created_at__gte=since
    ).exists()


def account_review_run(
    *, organisation: Organisation, today: dt.date | None = None
) -> list[str]:
    """Scan the organisation's active accounts for anomalies; restrict what fires.

    Anomalies (thresholds from AccountSettings): many numbers without proportionate
    outbound usage, carrier complaints, and a day's volume far above the account's
    own daily average. Returns the public ids of the accounts restricted.
    """
    actor = Actor.system_for(organisation, "accounts continuous review")
    config = account_settings_for(organisation=organisation)
    today = today or timezone.localdate()
    window_start = today - dt.timedelta(days=config.review_window_days - 1)
    history_start = today - dt.timedelta(days=config.spike_history_days)
    accounts = {
        a.pk: a
        for a in Account.objects.filter(
            organisation=organisation, status=AccountStatus.ACTIVE
        ).select_related("organisation")
    }
    if not accounts:
        return []
    numbers: dict[int, int] = defaultdict(int)
    for account_id in AccountNumber.objects.filter(account_id__in=accounts).values_list(
        "account_id", flat=True
    ):
        numbers[account_id] += 1
    usage: dict[int, list[AccountUsageDay]] = defaultdict(list)
    for row in AccountUsageDay.objects.filter(
        account_id__in=accounts,
        day__gte=min(window_start, history_start),
        day__lte=today,
    ):
        usage[row.account_id].append(row)

    restricted: list[str] = []
    since = timezone.now() - dt.timedelta(days=config.review_window_days)
    for account_id, account in accounts.items():
        findings = _anomalies(
            config=config,
            numbers=numbers[account_id],
            rows=usage[account_id],
            today=today,
            window_start=window_start,
        )
        for signal_type, weight, note in findings:
            if _recent_signal(account, signal_type, since):
                continue
            with transaction.atomic():
                account_signal_add(
                    actor=actor,
                    account=account,
                    signal_type=signal_type,
                    weight=weight,
                    source=SignalSource.CONTINUOUS_REVIEW,
                    note=note,
                )
        if account.status == AccountStatus.RESTRICTED:
            restricted.append(str(account.public_id))
    return restricted


def _anomalies(
    *,
    config: AccountSettings,
    numbers: int,
    rows: list[AccountUsageDay],
    today: dt.date,
    window_start: dt.date,
) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    window = [r for r in rows if r.day >= window_start]
    outbound = sum(r.outbound_calls + r.outbound_sms for r in window)
    complaints = sum(r.carrier_complaints for r in window)
    days = config.review_window_days
    if (
        numbers >= config.numbers_min_for_usage_check
        and outbound < numbers * config.min_outbound_per_number
    ):
        found.append(
            (
                SignalType.NUMBERS_WITHOUT_USAGE,
                risk.HIGH,
                f"{numbers} numbers owned but only {outbound} outbound calls/SMS "
                f"in {days} days.",
            )
        )
    if complaints >= config.complaints_threshold:
        found.append(
            (
                SignalType.CARRIER_COMPLAINTS,
                risk.EXTREME,
                f"{complaints} carrier complaint(s) in {days} days.",
            )
        )
    latest = max((r for r in rows if r.day >= today - dt.timedelta(days=1)),
                 key=lambda r: r.day, default=None)  # fmt: skip
    if latest is not None:
        history = [r for r in rows if r.day < latest.day]
        # Too little history to know what is normal for this account.
        if len(history) >= 3:
            for label, value, past in (
                ("calls", latest.outbound_calls, [r.outbound_calls for r in history]),
                ("SMS", latest.outbound_sms, [r.outbound_sms for r in history]),
            ):
                average = sum(past) / config.spike_history_days
                if (
                    value >= config.spike_min_volume
                    and value >= config.spike_factor * max(average, 1)
                ):
                    found.append(
                        (
                            SignalType.VOLUME_SPIKE,
                            risk.MEDIUM,
                            f"{value} outbound {label} on {latest.day} against a "
                            f"daily average of {average:.0f}.",
                        )
                    )
                    break
    return found


# --- Reassessment requests -----------------------------------------------------------


EVIDENCE_TYPES: dict[str, tuple[str, tuple[str, ...], bytes | None]] = {
    # content type: (magic bytes, allowed extensions) — checked against the content.
    "application/pdf": (b"%PDF-", (".pdf",), None),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",), None),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg"), None),
    "image/gif": (b"GIF8", (".gif",), None),
    "image/webp": (b"RIFF", (".webp",), b"WEBP"),
}


@dataclass
class EvidenceInput:
    """One evidence item as submitted: an uploaded file or a link, with its kind."""

    kind: str
    file: UploadedFile | None = None
    url: str = ""


def _sniff(upload: UploadedFile) -> str | None:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    ext = PurePath(upload.name or "").suffix.lower()
    for content_type, (magic, extensions, extra) in EVIDENCE_TYPES.items():
        if head.startswith(magic) and (extra is None or head[8:12] == extra):
            return content_type if ext in extensions else None
    return None


def _validate_evidence(items: Sequence[EvidenceInput]) -> dict[str, str]:
    errors: dict[str, str] = {}
    limit = settings.ACCOUNTS_EVIDENCE_MAX_BYTES
    for index, item in enumerate(items):
        key = f"evidence.{index}"
        if item.kind not in EvidenceKind.values:
            errors[f"{key}.kind"] = (
                f"Unknown evidence kind {item.kind!r}; choose from "
                f"{', '.join(EvidenceKind.values)}."
            )
        if bool(item.file) == bool(item.url):
            errors[key] = "Give either a file or a link."
            continue
        if item.file:
            if item.file.size > limit:
                errors[f"{key}.file"] = (
                    f"{item.file.name} is {item.file.size} bytes; the limit is "
                    f"{limit} bytes."
                )
            elif item.file.size == 0:
                errors[f"{key}.file"] = f"{item.file.name} is empty."
            elif _sniff(item.file) is None:
                errors[f"{key}.file"] = (
                    f"{item.file.name} is not an accepted file: upload a PDF or an "
                    "image (PNG, JPEG, GIF, WebP) whose name ends in its type."
                )
        else:
            try:
                _clean_url(item.url, "url", required=True)
            except ValidationError as exc:
                errors[f"{key}.url"] = exc.message_dict["url"][0]
    return errors


def _evidence_save(*, request: ReassessmentRequest, item: EvidenceInput) -> Evidence:
    evidence = Evidence(
        organisation=request.organisation, request=request, kind=item.kind
    )
    if item.file:
        content_type = _sniff(item.file) or "application/octet-stream"
        ext = EVIDENCE_TYPES[content_type][1][0]
        evidence.original_name = PurePath(item.file.name or "upload").name[:255]
        evidence.content_type = content_type
        evidence.size = item.file.size
        # A random name: nothing the customer sent ends up in a path.
        name = f"evidence/{request.organisation.public_id}/{uuid.uuid4().hex}{ext}"
        evidence.file.save(name, item.file, save=False)
    else:
        evidence.url = item.url.strip()
    evidence.full_clean()
    evidence.save()
    return evidence


def _clean_request_fields(data: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field in ("company_name", "use_case"):
        value = str(data.get(field) or "").strip()
        if not value:
            errors[field] = "This field is required."
        clean[field] = value
    try:
        clean["company_website"] = _clean_url(
            str(data.get("company_website") or ""), "company_website", required=True
        )
    except ValidationError as exc:
        errors["company_website"] = exc.message_dict["company_website"][0]
    services = list(data.get("services_wanted") or [])
    try:
        clean["services_wanted"] = _clean_services(services, "services_wanted")
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
    return list(account.signals.filter(signal_type__in=ZERO_TOLERANCE_SIGNALS))


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
    errors.update(_validate_evidence(evidence))
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
    request.full_clean()
    request.save()
    for item in evidence:
        _evidence_save(request=request, item=item)
    audit_record(
        actor=actor,
        action="reassessment.submit",
        target=request,
        after={
            "account": account.public_id,
            "services_wanted": request.services_wanted,
            "evidence": len(evidence),
            "due_on": request.due_on,
        },
    )
    org = account.organisation.name
    causes = _zero_tolerance(account)
    if causes:
        names = sorted({c.get_signal_type_display() for c in causes})
        _request_close(
            actor=actor,
            request=request,
            status=RequestStatus.REJECTED_ZERO_TOLERANCE,
            decision=Decision.KEEP,
            reason="Zero-tolerance policy: " + "; ".join(names),
        )
        _email_customer(
            account=account,
            kind=EmailKind.REJECTED,
            message=emails.rejected(
                org_name=org, company=account.company_name, final=False
            ),
        )
    else:
        _email_customer(
            account=account,
            kind=EmailKind.RECEIVED,
            message=emails.received(org_name=org, company=account.company_name),
        )
    return request


def _request_close(
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


@transaction.atomic
def evidence_add(
    *, actor: Actor, request: ReassessmentRequest, item: EvidenceInput
) -> Evidence:
    """Attach one more evidence item to an open request (resumes a paused clock)."""
    actor.require(*ACT)
    if not request.is_open:
        raise ValidationError({"request": "The request has already been decided."})
    errors = _validate_evidence([item])
    if errors:
        raise ValidationError(
            {k.replace("evidence.0.", "").replace("evidence.0", "file"): v
             for k, v in errors.items()}
        )  # fmt: skip
    evidence = _evidence_save(request=request, item=item)
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
        _email_customer(
            account=account,
            kind=EmailKind.INFO_REQUESTED,
            message=emails.info_requested(
                org_name=org, company=company, message=message
            ),
        )
        return request
    reason = _require_reason(reason)
    if decision == Decision.LIFT:
        _set_status(
            actor=actor, account=account, action="account.lift",
            status=AccountStatus.ACTIVE, services=(), reason=reason,
        )  # fmt: skip
        _request_close(
            actor=actor, request=request, status=RequestStatus.LIFTED,
            decision=decision, reason=reason,
            services_lifted=sorted(set(ALL_SERVICES)),
        )  # fmt: skip
        _email_customer(
            account=account,
            kind=EmailKind.LIFTED,
            message=emails.lifted(org_name=org, company=company),
        )
    elif decision == Decision.LIMIT:
        lifted = _clean_services(services)
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
        _set_status(
            actor=actor, account=account, action="account.limit",
            status=AccountStatus.RESTRICTED, services=remaining, reason=reason,
        )  # fmt: skip
        _request_close(
            actor=actor, request=request, status=RequestStatus.LIMITED,
            decision=decision, reason=reason, services_lifted=lifted,
        )  # fmt: skip
        _email_customer(
            account=account,
            kind=EmailKind.LIMITED,
            message=emails.limited(
                org_name=org, company=company, lifted_services=lifted,
                remaining=remaining,
            ),
        )  # fmt: skip
    else:
        _request_close(
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
        _email_customer(
            account=account,
            kind=EmailKind.REJECTED,
            message=emails.rejected(org_name=org, company=company, final=final),
        )
    return request


# --- Permanent block: port-away, refunds, feedback -----------------------------------


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
    reason = _require_reason(reason)
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
    grant.full_clean()
    grant.save()
    audit_record(
        actor=actor,
        action="port_away.grant",
        target=grant,
        after={
            "account": account.public_id,
            "numbers": numbers,
            "expires_at": expires_at,
            "port_out_fee_waived": True,
        },
        reason=reason,
    )
    _email_customer(
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
    refund.full_clean()
    refund.save()
    audit_record(
        actor=actor,
        action="refund.request",
        target=refund,
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
    allowed = {
        RefundStatus.REQUESTED: {RefundStatus.APPROVED, RefundStatus.REFUSED},
        RefundStatus.APPROVED: {RefundStatus.PAID},
    }
    if status not in allowed.get(refund.status, set()):
        raise ValidationError(
            {"status": f"A {refund.status} refund cannot become {status}."}
        )
    note = _require_reason(note, "note")
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
    _email_customer(
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
    feedback.full_clean()
    feedback.save()
    audit_record(
        actor=actor,
        action="feedback.receive",
        target=feedback,
        after={"account": account.public_id, "ticket_id": feedback.ticket_id},
    )
    return feedback


# --- Settings ----------------------------------------------------------------------

SETTINGS_FIELDS = [
    "hold_threshold",
    "high_risk_countries",
    "review_window_days",
    "numbers_min_for_usage_check",
    "min_outbound_per_number",
    "complaints_threshold",
    "spike_factor",
    "spike_min_volume",
    "spike_history_days",
]


@transaction.atomic
def account_settings_update(
    *, actor: Actor, reason: str = "", **changes: Any
) -> AccountSettings:
    """Change the organisation's assessment and review thresholds (admin)."""
    actor.require()
    row = account_settings_for(organisation=actor.organisation)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Not a setting."})
    if "high_risk_countries" in changes:
        field = "high_risk_countries"
        changes[field] = sorted({_clean_country(c, field) for c in changes[field]})
    before = audit_snapshot(row, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    audit_record(
        actor=actor,
        action="account_settings.update",
        target=row,
        before=before,
        after=audit_snapshot(row, SETTINGS_FIELDS),
        reason=reason,
    )
    return row
