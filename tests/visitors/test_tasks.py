"""The expiry beat task: signals and IP blocks, directly and through a real worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.conftest import wait_for
from tests.visitors.factories import SignalFactory, VisitorFactory
from trustconsole.core.models import AuditEntry
from visitors import tasks
from visitors.models import IPBlock, RiskSignal


def _expired_signal(org):
    visitor = VisitorFactory(organisation=org, trust_score=60, band="caution")
    signal = SignalFactory(
        visitor=visitor,
        organisation=org,
        level="high",
        weight=40,
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    IPBlock.objects.create(
        organisation=org,
        network="203.0.113.0/24",
        version=4,
        reason="old",
        created_by="test",
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    return visitor, signal


@pytest.mark.django_db
def test_the_task_expires_signals_and_blocks_once(org) -> None:
    visitor, _ = _expired_signal(org)
    assert tasks.expire_due() == {"signals_expired": 1, "ip_blocks_removed": 1}
    assert tasks.expire_due() == {"signals_expired": 0, "ip_blocks_removed": 0}
    visitor.refresh_from_db()
    assert visitor.trust_score == 100 and visitor.band == "safe"


@pytest.mark.worker
def test_a_real_worker_runs_the_expiry(org, celery_worker_queue) -> None:
    """GIVEN a signal and an IP block past their expiry WHEN the beat task goes
    through the broker to a real worker THEN the score is restored, the block is
    gone, and both are audited as the system."""
    visitor, signal = _expired_signal(org)
    tasks.expire_due.delay()
    wait_for(
        lambda: (
            RiskSignal.objects.filter(pk=signal.pk, ended_reason="expired").exists()
            and not IPBlock.objects.exists()
        ),
        what="the worker to expire the signal and the block",
    )
    visitor.refresh_from_db()
    assert visitor.trust_score == 100
    labels = set(
        AuditEntry.objects.filter(
            action__in=["risk_signal.expire", "ip_block.expire"]
        ).values_list("actor_label", flat=True)
    )
    assert labels == {"system: signal expiry", "system: ip block expiry"}
