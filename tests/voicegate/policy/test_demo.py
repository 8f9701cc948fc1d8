"""The demo data: realistic, and idempotent."""

from __future__ import annotations

from trustconsole.core.actor import Actor
from voicegate.policy import demo
from voicegate.policy.models import DncList, OutboundDenial, VerifiedCallerId


def test_the_demo_seeds_lists_records_and_denials_once(org) -> None:
    actor = Actor.system_for(org, "seed_demo")
    demo.seed(actor=actor)
    national = DncList.objects.get(name=demo.NATIONAL)
    assert national.entry_count == 5000
    assert national.imports.get().invalid == 1
    assert DncList.objects.get(name="Opted out").entry_count == 3
    assert VerifiedCallerId.objects.filter(account__isnull=False).count() == 3
    codes = set(OutboundDenial.objects.values_list("codes", flat=True))
    assert {"dnc", "caller_id_not_owned", "emergency_number"} <= codes
    before = OutboundDenial.objects.count()
    demo.seed(actor=actor)
    assert OutboundDenial.objects.count() == before
    assert DncList.objects.count() == 2
