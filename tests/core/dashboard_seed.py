"""Known dashboard numbers: rows whose counts are written down beside them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from accounts.choices import AccountStatus
from remediation.choices import RemediationStatus
from remediation.models import RemediationNumber, RemediationRequest
from tests.accounts.factories import AccountFactory, RequestFactory, days_ago
from tests.remediation.factories import EnterpriseFactory
from tests.visitors.factories import VisitorFactory
from tests.voicegate.factories import CallDecisionFactory, OutboundDenialFactory
from trustconsole.core.models import Organisation
from visitors.choices import Band, BlockReason, Channel, ReviewStatus
from visitors.models import BlockedAttempt, ReviewItem
from voicegate.models import CallDecision
from voicegate.policy.models import OutboundDenial


def _at(days: int, hours: int = 0) -> dt.datetime:
    """Noon local time `days` days ago (minus `hours`), far from any day edge."""
    noon = timezone.make_aware(
        dt.datetime.combine(
            timezone.localdate() - dt.timedelta(days=days), dt.time(12)
        ),
        timezone.get_current_timezone(),
    )
    return noon - dt.timedelta(hours=hours)


def _calls(org: Organisation, days: int, decision: str, reason: str, n: int) -> None:
    for _ in range(n):
        row = CallDecisionFactory(organisation=org, decision=decision, reason=reason)
        CallDecision.objects.filter(pk=row.pk).update(created_at=_at(days))


def _denial(org: Organisation, days: int, codes: list[str]) -> None:
    row = OutboundDenialFactory(
        organisation=org, to_number="+12025550111", codes=",".join(codes)
    )
    OutboundDenial.objects.filter(pk=row.pk).update(created_at=_at(days))


def seed_dashboard(org: Organisation) -> dict[str, Any]:
    """Rows for every chart; returns the numbers the dashboard must show."""
    # Calls: today 3 allowed (one decided in fail-open mode) and 2 rejected; five
    # days ago 1 and 4; 29 days ago (the window's first day) 2 allowed; 30 days
    # ago is outside the window.
    _calls(org, 0, "allow", "not_listed", 2)
    _calls(org, 0, "allow", "fail_open", 1)
    _calls(org, 0, "reject", "blacklisted_visitor", 2)
    _calls(org, 5, "allow", "not_listed", 1)
    _calls(org, 5, "reject", "block_list", 4)
    _calls(org, 29, "allow", "whitelisted", 2)
    _calls(org, 30, "reject", "block_list", 7)

    # Visitors: 2 danger (both waiting for review), 1 caution, 3 safe.
    danger = [
        VisitorFactory(organisation=org, band=Band.DANGER, trust_score=20)
        for _ in range(2)
    ]
    VisitorFactory(organisation=org, band=Band.CAUTION, trust_score=50)
    for _ in range(3):
        VisitorFactory(organisation=org)
    oldest = timezone.now() - dt.timedelta(hours=3)
    for visitor, created in zip(danger, (oldest, timezone.now()), strict=True):
        ReviewItem.objects.create(
            organisation=org,
            visitor=visitor,
            reason="Trust score fell to 20",
            score_at_flag=20,
            created_at=created,
        )
    ReviewItem.objects.create(  # resolved: not in the queue
        organisation=org,
        visitor=danger[0],
        reason="old",
        score_at_flag=20,
        status=ReviewStatus.DISMISSED,
        created_at=timezone.now() - dt.timedelta(days=9),
    )
    # Chat blocked: 2 yesterday; a blocked call attempt is not a chat message.
    for channel in (Channel.CHAT, Channel.CHAT, Channel.VOICE):
        BlockedAttempt.objects.create(
            organisation=org,
            visitor=danger[0],
            channel=channel,
            reason=BlockReason.BLACKLISTED,
            created_at=_at(1),
        )

    # Accounts: 2 active, 1 on hold with an overdue review, 1 blocked.
    active = AccountFactory.create_batch(2, organisation=org)
    AccountFactory(organisation=org, status=AccountStatus.BLOCKED)
    # Due 7 business days after submission: overdue.
    late = RequestFactory(account__organisation=org, submitted=days_ago(20))

    # Remediation: 2 remediated, 1 not flagged, 1 refused.
    enterprise = EnterpriseFactory(organisation=org, name="Northwind Dental")
    request = RemediationRequest.objects.create(
        organisation=org,
        enterprise=enterprise,
        status=RemediationStatus.COMPLETED,
        call_purpose="Appointment reminders",
        phone_numbers_count=4,
        phone_numbers_submitted=4,
        phone_numbers_ineligible=0,
        results_available=True,
        created_by="test",
        provider="sandbox",
    )
    for i, outcome in enumerate(["remediated", "remediated", "not_flagged", "refused"]):
        RemediationNumber.objects.create(
            request=request,
            enterprise=enterprise,
            e164=f"+1202555014{i}",
            position=i,
            eligible=True,
            in_flight=False,
            outcome=outcome,
        )

    # Outbound refusals: dnc twice, one of them with an emergency number too;
    # one from 40 days ago is outside the window.
    _denial(org, 0, ["dnc"])
    _denial(org, 3, ["dnc", "emergency_number"])
    _denial(org, 40, ["account_restricted"])

    today = timezone.localdate()
    calls = {0: (3, 2), 5: (1, 4), 29: (2, 0)}
    return {
        "calls": {
            (today - dt.timedelta(days=d)).isoformat(): {"allowed": a, "rejected": r}
            for d, (a, r) in calls.items()
        },
        "calls_total": {"allowed": 6, "rejected": 6},
        "chat_blocked": {(today - dt.timedelta(days=1)).isoformat(): 2},
        "review_queue_open": 2,
        "review_queue_oldest_hours": 3,
        "trust_bands": {"danger": 2, "caution": 1, "safe": 3},
        "accounts": {
            "active": 2,
            "on_hold": 1,
            "restricted": 0,
            "blocked": 1,
            "closed": 0,
        },
        "overdue_reviews": 1,
        "overdue_account": late.account.company_name,
        "active_account": active[0].company_name,
        "remediation_outcomes": {
            "remediated": 2,
            "not_flagged": 1,
            "requires_review": 0,
            "ineligible": 0,
            "refused": 1,
        },
        "outbound_refused": {
            "dnc": 2,
            "caller_id_not_owned": 0,
            "emergency_number": 1,
            "account_restricted": 0,
            "blacklisted_destination": 0,
            "blocked_destination": 0,
            "harassment": 0,
            "dnc_stale": 0,
            "dnc_unavailable": 0,
        },
        "gate_fail_mode": {"fail_open": 1, "fail_closed": 0},
    }


def assert_matches(data: dict[str, Any], expected: dict[str, Any]) -> None:
    """The dashboard JSON says exactly what the seeded rows imply."""
    days = data["calls"]["days"]
    assert len(days) == 30
    assert days[-1]["date"] == timezone.localdate().isoformat()
    got_calls = {
        d["date"]: {"allowed": d["allowed"], "rejected": d["rejected"]}
        for d in days
        if d["allowed"] or d["rejected"]
    }
    assert got_calls == expected["calls"]
    got_chat = {
        d["date"]: d["blocked"] for d in data["chat_blocked"]["days"] if d["blocked"]
    }
    assert got_chat == expected["chat_blocked"]
    assert data["review_queue"]["open"] == expected["review_queue_open"]
    age = data["review_queue"]["oldest_age_seconds"]
    assert (
        expected["review_queue_oldest_hours"] * 3600
        <= age
        < (expected["review_queue_oldest_hours"] * 3600 + 600)
    )
    assert data["trust_bands"]["counts"] == expected["trust_bands"]
    assert data["accounts"]["by_status"] == expected["accounts"]
    assert data["accounts"]["overdue_reviews"] == expected["overdue_reviews"]
    assert data["remediation_outcomes"]["counts"] == expected["remediation_outcomes"]
    assert data["outbound_refused"]["counts"] == expected["outbound_refused"]
    assert data["gate_fail_mode"]["counts"] == expected["gate_fail_mode"]
