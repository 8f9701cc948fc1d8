"""Demo data: an approved enterprise with owned and flagged numbers, one in flight."""

from __future__ import annotations

import pytest

from remediation import demo
from remediation.choices import RemediationStatus
from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationRequest,
    ReputationObservation,
)
from remediation.selectors import flagged_numbers, review_numbers

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_an_approved_enterprise_once(org, actor_for) -> None:
    actor = actor_for(org, "admin")
    demo.seed(actor=actor)
    demo.seed(actor=actor)
    approved = Enterprise.objects.get(name="Northwind Dental Group LLC")
    assert approved.can_remediate
    assert approved.numbers.count() == 34
    flagged = list(flagged_numbers(actor=actor, enterprise=approved, cooldown_days=30))
    # Every high and medium number, plus the low ones whose sandbox risk happens
    # to be elevated on this day (it rises and falls, see sandbox_reputation).
    moved = set(
        OwnedNumber.objects.filter(
            e164__in=demo.LOW, spam_risk__in=["medium", "high"]
        ).values_list("e164", flat=True)
    )
    assert {n.e164 for n in flagged} == {*demo.HIGH, *demo.MEDIUM, *moved}
    assert sum(n.in_cooldown for n in flagged) == 2
    request = RemediationRequest.objects.get()
    assert request.status == RemediationStatus.PENDING
    assert (request.phone_numbers_submitted, request.phone_numbers_ineligible) == (4, 1)
    blocked = Enterprise.objects.get(name="Northwind Telehealth Inc")
    assert blocked.missing_gates == [
        "loa_status is pending",
        "the Number Reputation Terms of Service are not accepted",
    ]


def test_the_demo_has_two_weeks_of_monitoring_history(org, actor_for) -> None:
    """The enterprise is monitored, every monitored number has daily observations
    consistent with the sandbox, and the two newest flags lead the review list."""
    from remediation import sandbox_reputation
    from remediation.models import SandboxNumber

    actor = actor_for(org, "admin")
    demo.seed(actor=actor)
    clinic = Enterprise.objects.get(name="Northwind Dental Group LLC")
    assert clinic.monitoring_approved and clinic.next_sync_at is not None
    monitored = [*demo.HIGH, *demo.MEDIUM, *demo.LOW]
    assert OwnedNumber.objects.filter(registered_at__isnull=False).count() == 30
    assert ReputationObservation.objects.count() == 30 * demo.HISTORY_DAYS
    for e164 in monitored:
        number = OwnedNumber.objects.get(e164=e164)
        latest = number.observations.order_by("-observed_at").first()
        assert latest.spam_risk == number.spam_risk
        row = SandboxNumber.objects.get(e164=e164)
        at = latest.observed_at
        expected = sandbox_reputation.reputation_data(row, at)["spam_risk"]
        assert expected == number.spam_risk
    review = review_numbers(actor=actor, enterprise=clinic, cooldown_days=30)
    assert [n.e164 for n in review[:2]] == [demo.HIGH[1], demo.HIGH[2]]
    assert all(n.suggested for n in review[:2])


def test_the_first_check_continues_the_demo_history(
    org, actor_for, sandbox_in_process
) -> None:
    """GIVEN the demo WHEN the first scheduled check reads the sandbox the same day
    THEN nothing is stored twice: the seeded history is what the sandbox says."""
    from remediation import monitoring

    demo.seed(actor=actor_for(org, "admin"))
    clinic = Enterprise.objects.get(name="Northwind Dental Group LLC")
    before = ReputationObservation.objects.count()
    changes = monitoring.reputation_sync(enterprise_id=clinic.pk)
    assert changes is not None and changes.moves == []
    assert ReputationObservation.objects.count() == before


def test_seed_demo_includes_remediation(db) -> None:
    from django.core.management import call_command

    call_command("seed_demo", "--quiet-login")
    assert Enterprise.objects.filter(organisation__slug="demo").count() == 2
