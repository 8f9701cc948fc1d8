"""Demo data: an approved enterprise with owned and flagged numbers, one in flight."""

from __future__ import annotations

import pytest

from remediation import demo
from remediation.choices import RemediationStatus
from remediation.models import Enterprise, RemediationRequest
from remediation.selectors import flagged_numbers

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_an_approved_enterprise_once(org, actor_for) -> None:
    actor = actor_for(org, "admin")
    demo.seed(actor=actor)
    demo.seed(actor=actor)
    approved = Enterprise.objects.get(name="Northwind Dental Group LLC")
    assert approved.can_remediate
    assert approved.numbers.count() == 34
    flagged = list(flagged_numbers(actor=actor, enterprise=approved, cooldown_days=30))
    assert len(flagged) == 18
    assert sum(n.in_cooldown for n in flagged) == 2
    request = RemediationRequest.objects.get()
    assert request.status == RemediationStatus.PENDING
    assert (request.phone_numbers_submitted, request.phone_numbers_ineligible) == (4, 1)
    blocked = Enterprise.objects.get(name="Northwind Telehealth Inc")
    assert blocked.missing_gates == [
        "loa_status is pending",
        "the Number Reputation Terms of Service are not accepted",
    ]


def test_seed_demo_includes_remediation(db) -> None:
    from django.core.management import call_command

    call_command("seed_demo", "--quiet-login")
    assert Enterprise.objects.filter(organisation__slug="demo").count() == 2
