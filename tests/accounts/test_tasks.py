"""Continuous review and port-away expiry: task functions and a real worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts import tasks
from accounts.choices import AccountStatus, EmailKind
from accounts.models import AccountUsageDay, CustomerEmail
from tests.accounts.factories import AccountFactory, AccountNumberFactory
from tests.conftest import wait_for
from trustconsole.core.models import AuditEntry


@pytest.mark.django_db
def test_the_review_task_survives_a_vanished_organisation() -> None:
    assert tasks.review_organisation(987654) == []


@pytest.mark.django_db
def test_the_expiry_task_ends_past_grants(org) -> None:
    from accounts.models import PortAwayGrant

    account = AccountFactory(organisation=org, status="closed")
    PortAwayGrant.objects.create(
        organisation=org,
        account=account,
        numbers=["+12025550143"],
        expires_at=timezone.now() - dt.timedelta(minutes=1),
        granted_by="sue",
    )
    assert tasks.port_away_expire() == 1
    assert tasks.port_away_expire() == 0


@pytest.mark.worker
def test_a_real_worker_restricts_an_anomalous_account(org, celery_worker_queue) -> None:
    """GIVEN an active account with 10 numbers and almost no outbound usage WHEN the
    beat task goes through the broker to a real worker THEN the account is
    restricted for numbers, with the reason, an audit entry and a customer email."""
    account = AccountFactory(organisation=org)
    for n in range(10):
        AccountNumberFactory(account=account, e164=f"+4420794602{n:02d}")
    AccountUsageDay.objects.create(
        account=account, day=timezone.localdate(), outbound_sms=1
    )
    tasks.continuous_review.delay()

    def restricted() -> bool:
        account.refresh_from_db()
        return account.status == AccountStatus.RESTRICTED

    wait_for(restricted, what="the worker to restrict the account")
    assert account.restricted_services == ["numbers"]
    assert "Numbers without proportionate outbound usage" in account.status_reason
    entry = AuditEntry.objects.get(action="account.restrict")
    assert entry.actor_label == "system: accounts continuous review"
    email = wait_for(
        lambda: CustomerEmail.objects.filter(
            account=account, kind=EmailKind.RESTRICTED, sent_at__isnull=False
        ).first(),
        what="the restriction email to be sent",
    )
    assert email.to == account.email
