"""Reads of the accounts app, always scoped to the actor's organisation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts import emails
from accounts.choices import (
    ALL_SERVICES,
    OPEN_REQUEST_STATUSES,
    AccountStatus,
    RequestStatus,
)
from accounts.models import (
    Account,
    AccountNumber,
    AccountSettings,
    AccountSignal,
    CustomerEmail,
    Evidence,
    Feedback,
    PortAwayGrant,
    ReassessmentRequest,
    RefundRequest,
)
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry, Organisation
from trustconsole.core.selectors import scoped_get
from trustconsole.policy import state as core_state
from trustconsole.policy.decide import Identities, Verdict, decide
from trustconsole.policy.vocabulary import Channel


def account_settings_for(*, organisation: Organisation) -> AccountSettings:
    """The organisation's thresholds, or an unsaved row with the defaults (a read
    never writes; the first settings change saves it)."""
    row = AccountSettings.objects.filter(organisation=organisation).first()
    return row or AccountSettings(organisation=organisation)


def account_list(
    *,
    actor: Actor,
    status: str = "",
    service: str = "",
    overdue: bool = False,
    search: str = "",
    today: dt.date | None = None,
) -> QuerySet[Account]:
    """Accounts of the organisation, newest signup first, optionally filtered."""
    qs = Account.objects.filter(organisation=actor.organisation)
    if status:
        qs = qs.filter(status=status)
    if service:
        # Held, blocked and closed accounts are restricted for every service.
        # JSON text match: works the same on SQLite and PostgreSQL.
        qs = qs.filter(restricted_services__icontains=f'"{service}"')
    if overdue:
        late = ReassessmentRequest.objects.filter(
            account=OuterRef("pk"),
            status=RequestStatus.PENDING,
            due_on__lte=today or timezone.localdate(),
        )
        qs = qs.filter(Exists(late))
    if search:
        qs = qs.filter(Q(company_name__icontains=search) | Q(email__icontains=search))
    return qs


def account_get(*, actor: Actor, public_id: object) -> Account:
    """One account of the actor's organisation (404 for any other)."""
    return scoped_get(
        Account.objects.select_related("organisation"),
        actor=actor,
        public_id=public_id,
    )


def account_action_verdict(*, account: Account, service: str) -> Verdict:
    """The decision core's verdict on the account using `service` now: its status
    and restrictions, then its email against the blacklist (from memory)."""
    state = core_state.current(account.organisation_id)
    ids = Identities(
        emails=(account.email.strip().lower(),) if account.email else (),
        account=str(account.public_id),
        service=service,
    )
    return decide(state, Channel.ACCOUNT_ACTION, ids)


def account_service_verdicts(*, account: Account) -> dict[str, Verdict]:
    """The decision core's verdict for each service of the account, right now."""
    return {
        service: account_action_verdict(account=account, service=service)
        for service in ALL_SERVICES
    }


def account_status_explanation(*, account: Account) -> dict[str, Any] | None:
    """What decided the account's hold or restrictions: the precedence step, the
    account, who or which rule set its status and when, and the reason (None when
    no service is refused)."""
    refused = [
        verdict
        for verdict in account_service_verdicts(account=account).values()
        if not verdict.allowed
    ]
    return refused[0].explanation() if refused else None


def account_voice_allowed(*, account: Account) -> tuple[bool, str]:
    """Whether the account may place voice calls now, and if not, why."""
    verdict = account_action_verdict(account=account, service="voice")
    if verdict.allowed:
        return True, ""
    return False, verdict.detail or verdict.explanation()["sentence"]


def account_owned_numbers(*, account: Account) -> set[str]:
    """The account's phone numbers in E.164, in one query."""
    return set(
        AccountNumber.objects.filter(account=account).values_list("e164", flat=True)
    )


def account_signals(
    *, account: Account, include_expired: bool = False
) -> QuerySet[AccountSignal]:
    """An account's live risk signals (the explanation of its score), newest first;
    with `include_expired`, the expired ones too (internal: never for the customer)."""
    if include_expired:
        return AccountSignal.objects.filter(account=account)
    return AccountSignal.objects.active().filter(account=account)


def account_signals_expired(
    *, account: Account, limit: int = 20
) -> QuerySet[AccountSignal]:
    """An account's expired risk signals, the most recently expired first."""
    return (
        AccountSignal.objects.expired()
        .filter(account=account)
        .order_by("-expires_at", "-id")[:limit]
    )


def account_emails(*, account: Account) -> QuerySet[CustomerEmail]:
    """Emails sent to the customer, newest first."""
    return CustomerEmail.objects.filter(account=account)


@dataclass(frozen=True)
class TimelineItem:
    """One line of an account's timeline: an audit entry or an email sent."""

    at: dt.datetime
    kind: str  # "audit" or "email"
    title: str
    who: str
    detail: str
    entry: AuditEntry | None = None
    explanation: dict[str, Any] | None = None  # a refused call: what decided it


def account_timeline(*, actor: Actor, account: Account) -> list[TimelineItem]:
    """Audit entries of the account and its requests, grants, refunds and feedback,
    merged with the emails sent, newest first."""
    related: dict[str, list[str]] = {
        "accounts.account": [str(account.public_id)],
        "accounts.reassessmentrequest": [
            str(p) for p in account.requests.values_list("public_id", flat=True)
        ],
        "accounts.portawaygrant": [
            str(p) for p in account.port_away_grants.values_list("public_id", flat=True)
        ],
        "accounts.refundrequest": [
            str(p) for p in account.refunds.values_list("public_id", flat=True)
        ],
        "accounts.feedback": [
            str(p) for p in account.feedback.values_list("public_id", flat=True)
        ],
    }
    where = Q()
    for target_type, ids in related.items():
        if ids:
            where |= Q(target_type=target_type, target_id__in=ids)
    entries = AuditEntry.objects.filter(organisation=actor.organisation).filter(where)
    items = [
        TimelineItem(
            at=e.created_at,
            kind="audit",
            title=e.action,
            who=e.actor_label,
            detail=e.reason,
            entry=e,
        )
        for e in entries[:200]
    ]
    items += [
        TimelineItem(
            at=m.created_at,
            kind="email",
            title=f"Email: {m.subject}",
            who=m.to,
            detail=m.get_kind_display(),
        )
        for m in account_emails(account=account)[:100]
    ]
    from voicegate.policy.models import OutboundDenial

    for denial in OutboundDenial.objects.filter(account=account)[:100]:
        explanations = denial.explanation or [{}]
        first = min(explanations, key=lambda e: e.get("step_number") or 99)
        items.append(
            TimelineItem(
                at=denial.created_at,
                kind="denial",
                title=f"Outbound call refused: {denial.from_number} → "
                f"{denial.to_number}",
                who=denial.requested_by,
                detail=denial.codes.replace(",", ", "),
                explanation=first or None,
            )
        )
    return sorted(items, key=lambda i: i.at, reverse=True)


def account_customer_status(*, account: Account) -> dict[str, Any]:
    """What the customer portal shows at login: never the reason or the signals."""
    open_request = (
        account.requests.filter(status__in=OPEN_REQUEST_STATUSES)
        .order_by("-submitted_at")
        .first()
    )
    # The decision core's answer for each service: the account's own status and
    # restrictions, and its email on the blacklist (the reasons stay internal).
    restricted = sorted(
        service
        for service, verdict in account_service_verdicts(account=account).items()
        if not verdict.allowed
    )
    alert: dict[str, str] | None = None
    org = account.organisation.name
    if account.status == AccountStatus.ON_HOLD:
        alert = {
            "level": "danger",
            "title": "Your signup is on hold",
            "message": (
                f"Our risk assessment placed your signup on hold, so {org} cannot "
                "provide service to your account at this time."
            ),
        }
    elif account.status == AccountStatus.RESTRICTED or restricted:
        alert = {
            "level": "caution",
            "title": "Your account has restrictions",
            "message": (
                "These services are restricted on your account: "
                f"{emails.services_text(restricted)}."
            ),
        }
    elif account.status == AccountStatus.BLOCKED:
        alert = {
            "level": "danger",
            "title": "Your account is blocked",
            "message": (
                "Your account has been blocked by our anti-fraud and anti-spam "
                "systems and is under case review. Contact support if you believe "
                "this is an error."
            ),
        }
    elif account.status == AccountStatus.CLOSED:
        alert = {
            "level": "danger",
            "title": "Your account is permanently blocked",
            "message": (
                "Your account has been permanently blocked. You may be granted "
                "temporary access to port your numbers away (port-out fee waived) "
                "and may request a refund of unused funds."
            ),
        }
    can_request = (
        account.status in (AccountStatus.ON_HOLD, AccountStatus.RESTRICTED)
        or account.status == AccountStatus.BLOCKED
    ) and not account.decision_final
    if open_request is not None:
        can_request = False
    how = ""
    if can_request:
        how = emails.REQUEST_STEPS
    elif account.decision_final and account.status != AccountStatus.ACTIVE:
        how = (
            "Your account has been reviewed again and the decision will not change; "
            "further reassessment requests are not accepted."
        )
    return {
        "account_id": str(account.public_id),
        "status": account.status,
        "restricted_services": restricted,
        "alert": alert,
        "can_request_reassessment": can_request,
        "how_to_request_reassessment": how,
        "decision_final": account.decision_final,
        "open_request": (
            {
                "id": str(open_request.public_id),
                "status": open_request.status,
                "submitted_at": open_request.submitted_at,
            }
            if open_request
            else None
        ),
    }


def request_queue(
    *, actor: Actor, include_paused: bool = True
) -> QuerySet[ReassessmentRequest]:
    """Open reassessment requests, oldest first (the support review queue)."""
    statuses = OPEN_REQUEST_STATUSES if include_paused else (RequestStatus.PENDING,)
    return (
        ReassessmentRequest.objects.filter(
            organisation=actor.organisation, status__in=statuses
        )
        .select_related("account")
        .order_by("submitted_at", "id")
    )


def request_list(
    *, actor: Actor, account: Account | None = None, status: str = ""
) -> QuerySet[ReassessmentRequest]:
    """Reassessment requests of the organisation (or one account), newest first."""
    qs = ReassessmentRequest.objects.filter(organisation=actor.organisation)
    if account is not None:
        qs = qs.filter(account=account)
    if status:
        qs = qs.filter(status=status)
    return (
        qs.select_related("account")
        .prefetch_related("evidence")
        .order_by("-submitted_at", "-id")
    )


def request_get(*, actor: Actor, public_id: object) -> ReassessmentRequest:
    """One reassessment request of the actor's organisation (404 otherwise)."""
    return scoped_get(
        ReassessmentRequest.objects.select_related(
            "account", "account__organisation"
        ).prefetch_related("evidence"),
        actor=actor,
        public_id=public_id,
    )


def queue_counts(*, actor: Actor, today: dt.date | None = None) -> dict[str, int]:
    """How many open requests are waiting, due soon and overdue."""
    today = today or timezone.localdate()
    pending = ReassessmentRequest.objects.filter(
        organisation=actor.organisation, status=RequestStatus.PENDING
    )
    return {
        "open": request_queue(actor=actor).count(),
        "warn": pending.filter(warn_on__lte=today, due_on__gt=today).count(),
        "overdue": pending.filter(due_on__lte=today).count(),
    }


def evidence_get(*, actor: Actor, public_id: object) -> Evidence:
    """One evidence item of the actor's organisation (404 otherwise)."""
    return scoped_get(
        Evidence.objects.select_related("request"), actor=actor, public_id=public_id
    )


def port_away_list(*, actor: Actor, account: Account) -> QuerySet[PortAwayGrant]:
    """Port-away grants of an account, newest first."""
    return PortAwayGrant.objects.filter(
        organisation=actor.organisation, account=account
    )


def port_away_active(*, account: Account, now: dt.datetime | None = None) -> bool:
    """Whether the account's numbers may be ported away right now."""
    return PortAwayGrant.objects.filter(
        account=account, expired_at__isnull=True, expires_at__gt=now or timezone.now()
    ).exists()


def refund_list(*, actor: Actor, account: Account | None = None) -> QuerySet:
    """Refund requests, newest first."""
    qs = RefundRequest.objects.filter(organisation=actor.organisation)
    if account is not None:
        qs = qs.filter(account=account)
    return qs.select_related("account")


def refund_get(*, actor: Actor, public_id: object) -> RefundRequest:
    """One refund request (404 outside the organisation)."""
    return scoped_get(refund_list(actor=actor), actor=actor, public_id=public_id)


def feedback_list(*, actor: Actor, account: Account | None = None) -> QuerySet:
    """Feedback on the block process, newest first."""
    qs = Feedback.objects.filter(organisation=actor.organisation)
    if account is not None:
        qs = qs.filter(account=account)
    return qs.select_related("account")


def dashboard_accounts(*, actor: Actor) -> dict[str, Any]:
    """Accounts by status and the reassessment reviews past their due date."""
    rows = dict(
        Account.objects.filter(organisation=actor.organisation)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return {
        "by_status": {s: rows.get(s, 0) for s in AccountStatus.values},
        "overdue_reviews": queue_counts(actor=actor)["overdue"],
    }


def review_badge_counts(*, today: dt.date | None = None) -> dict[str, Any]:
    """Subqueries (over an outer organisation row) for the navigation badge:
    requests waiting for support and those past their due date."""
    from trustconsole.lib.timeseries import count_subquery

    today = today or timezone.localdate()
    pending = ReassessmentRequest.objects.filter(status=RequestStatus.PENDING)
    return {
        "account_review_count": count_subquery(pending),
        "account_review_overdue": count_subquery(pending.filter(due_on__lte=today)),
    }


RULE_FACTS_DAYS = 30


def account_rule_facts(
    *,
    account: Account,
    today: dt.date | None = None,
    config: AccountSettings | None = None,
    numbers_owned: int | None = None,
) -> dict[str, Any]:
    """The `account` facts a rule reads (`trustconsole.rules.facts.ACCOUNT`): its
    row, the numbers it owns, its usage over the last 30 days and whether its
    country is on the organisation's high-risk list (up to four queries; give
    `config` and `numbers_owned` when they are known)."""
    from django.db.models import Sum

    from accounts import risk

    today = today or timezone.localdate()
    usage = account.usage.filter(
        day__gt=today - dt.timedelta(days=RULE_FACTS_DAYS), day__lte=today
    ).aggregate(calls=Sum("outbound_calls"), complaints=Sum("carrier_complaints"))
    signed_up = timezone.localdate(account.signup_at)
    if config is None:
        config = account_settings_for(organisation=account.organisation)
    if numbers_owned is None:
        numbers_owned = AccountNumber.objects.filter(account=account).count()
    risky = {c.upper() for c in config.high_risk_countries or ()}
    return {
        "status": account.status,
        "age_days": max(0, (today - signed_up).days),
        "country": account.country,
        "country_high_risk": account.country.upper() in risky,
        "numbers_owned": numbers_owned,
        "calls_30d": usage["calls"] or 0,
        "complaints": usage["complaints"] or 0,
        "payment_flagged": account.payment_flagged,
        "email": account.email,
        "email_domain": risk.email_domain(account.email),
        "website": account.website,
        "website_domain": (
            risk.website_domain(account.website) if account.website else ""
        ),
        "risk_score": account.risk_score,
    }
