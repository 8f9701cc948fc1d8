"""Global search (Ctrl-K or `/` on every console page): one box for visitors,
customer accounts, remediation and reassessment requests and voice calls.

Every lookup is scoped to the actor's organisation and answered from an index:
visitors through the Security → Visitors search (identifier prefixes, name
prefix), accounts by an email prefix or an owned number, requests by their id,
calls and block-list entries by an exact E.164 number. Account names are
matched case-insensitively anywhere in the name, through a trigram index on
PostgreSQL (`account_name_trgm`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.http import urlencode

from trustconsole.core.actor import Actor
from trustconsole.lib.phones import PhoneNumberError, phone_normalise

# Results per group: enough to recognise the one wanted, few enough to scan.
GROUP_LIMIT = 6
MIN_LENGTH = 2
MAX_LENGTH = 200


@dataclass(frozen=True)
class Hit:
    """One result: what it is, a second line, and where it opens."""

    title: str
    subtitle: str
    url: str


@dataclass
class Group:
    """Results of one kind, in the order they are shown."""

    kind: str
    label: str
    hits: list[Hit] = field(default_factory=list)


@dataclass
class Results:
    """The grouped answer to one query."""

    q: str
    groups: list[Group]
    too_short: bool = False

    @property
    def count(self) -> int:
        """How many results in all groups."""
        return sum(len(group.hits) for group in self.groups)


def _uuid(q: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(q.rstrip("/").rsplit("/", 1)[-1])
    except ValueError:
        return None


def _e164(q: str) -> str | None:
    if not any(ch.isdigit() for ch in q) or "@" in q:
        return None
    try:
        return phone_normalise(q)
    except PhoneNumberError:
        return None


def _visitors(actor: Actor, q: str, key: uuid.UUID | None) -> list[Hit]:
    from visitors import selectors
    from visitors.models import Visitor

    if key is not None:
        rows = list(
            Visitor.objects.filter(organisation_id=actor.organisation.pk, public_id=key)
        )
    else:
        rows = list(
            selectors.visitor_list(actor=actor, q=q).prefetch_related("identifiers")[
                :GROUP_LIMIT
            ]
        )
    hits = []
    for visitor in rows:
        values = [i.value for i in visitor.identifiers.all()][:3]
        hits.append(
            Hit(
                title=visitor.display_name,
                subtitle=" · ".join(
                    [visitor.get_status_display(), f"score {visitor.trust_score}"]
                    + values
                ),
                url=reverse(
                    "visitors:visitor_detail", kwargs={"public_id": visitor.public_id}
                ),
            )
        )
    return hits


def _accounts(
    actor: Actor, q: str, key: uuid.UUID | None, e164: str | None
) -> list[Hit]:
    from accounts.models import Account, AccountNumber

    org = actor.organisation
    if key is not None:
        rows = list(Account.objects.filter(organisation=org, public_id=key))
    elif e164 is not None:
        ids = AccountNumber.objects.filter(organisation=org, e164=e164).values(
            "account_id"
        )
        rows = list(Account.objects.filter(organisation=org, pk__in=ids))
    elif "@" in q:
        # Account emails are stored lower-cased: an index prefix scan.
        rows = list(
            Account.objects.filter(
                organisation=org, email__startswith=q.lower()
            ).order_by("email")[:GROUP_LIMIT]
        )
    else:
        # Anywhere in the name, any case: the trigram index `account_name_trgm`
        # on PostgreSQL (accounts migration 0004).
        by_name = Account.objects.filter(
            organisation=org, company_name__icontains=q
        ).order_by("company_name", "id")[:GROUP_LIMIT]
        by_email = Account.objects.filter(
            organisation=org, email__startswith=q.lower()
        ).order_by("email")[:GROUP_LIMIT]
        rows = list({a.pk: a for a in [*by_name, *by_email]}.values())[:GROUP_LIMIT]
    return [
        Hit(
            title=account.company_name,
            subtitle=f"{account.email} · {account.get_status_display()}",
            url=reverse(
                "accounts:account_detail", kwargs={"public_id": account.public_id}
            ),
        )
        for account in rows
    ]


def _requests(actor: Actor, q: str, key: uuid.UUID | None) -> list[Hit]:
    from accounts.models import ReassessmentRequest
    from remediation.models import RemediationRequest

    org = actor.organisation
    hits: list[Hit] = []
    if key is not None:
        remediation = RemediationRequest.objects.filter(organisation=org, public_id=key)
    else:
        # The provider's id of a forwarded request (as support is told it).
        from remediation.choices import Provider

        remediation = RemediationRequest.objects.filter(
            organisation=org, provider__in=Provider.values, upstream_id=q
        )
    for row in remediation[:GROUP_LIMIT]:
        hits.append(
            Hit(
                title=f"Remediation request {str(row.public_id)[:8]}",
                subtitle=f"{row.get_status_display()} · "
                f"{row.phone_numbers_count} number(s) · "
                f"{row.created_at:%Y-%m-%d}",
                url=reverse(
                    "remediation:request_detail", kwargs={"public_id": row.public_id}
                ),
            )
        )
    if key is not None:
        for req in ReassessmentRequest.objects.filter(
            organisation=org, public_id=key
        ).select_related("account"):
            hits.append(
                Hit(
                    title=f"Reassessment request {str(req.public_id)[:8]}",
                    subtitle=f"{req.account.company_name} · {req.get_status_display()}",
                    url=reverse(
                        "accounts:request_detail", kwargs={"public_id": req.public_id}
                    ),
                )
            )
    return hits


def _calls(actor: Actor, e164: str | None) -> list[Hit]:
    from voicegate.models import BlockedNumber, CallDecision

    if e164 is None:
        return []
    org = actor.organisation
    calls_url = reverse("voicegate:calls") + "?" + urlencode({"number": e164})
    hits: list[Hit] = []
    latest = list(
        CallDecision.objects.filter(organisation=org, caller_e164=e164).order_by(
            "-created_at"
        )[: GROUP_LIMIT - 1]
    )
    for call in latest:
        hits.append(
            Hit(
                title=f"Call from {e164}",
                subtitle=f"{call.get_decision_display()} · "
                f"{call.get_reason_display()} · {call.created_at:%Y-%m-%d %H:%M}",
                url=calls_url,
            )
        )
    blocked = BlockedNumber.objects.filter(organisation=org, number=e164).first()
    if blocked is not None:
        hits.append(
            Hit(
                title=f"{e164} is on the block list",
                subtitle=blocked.reason or f"added by {blocked.added_by}",
                url=reverse("voicegate:block_list")
                + "?"
                + urlencode({"q": e164.lstrip("+")}),
            )
        )
    return hits


def search(*, actor: Actor, q: str) -> Results:
    """Everything in the actor's organisation that `q` names, grouped by kind."""
    q = " ".join((q or "").split())[:MAX_LENGTH]
    if len(q) < MIN_LENGTH:
        return Results(q=q, groups=[], too_short=bool(q))
    key = _uuid(q)
    e164 = _e164(q) if key is None else None
    groups = [
        Group("visitors", "Visitors", _visitors(actor, q, key)),
        Group("accounts", "Accounts", _accounts(actor, q, key, e164)),
        Group("requests", "Requests", _requests(actor, q, key)),
        Group("calls", "Voice calls", _calls(actor, e164)),
    ]
    return Results(q=q, groups=[g for g in groups if g.hits])
