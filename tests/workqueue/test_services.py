"""Claims, escalations, Next item and notes: the rules and their audit entries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests.accounts.factories import AccountFactory, RequestFactory
from tests.workqueue.conftest import as_actor, flagged_item
from trustconsole.core.audit_text import describe
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry
from trustconsole.workqueue import selectors, services
from trustconsole.workqueue.queues import QUEUES


def _sentence(action: str) -> str:
    return describe(AuditEntry.objects.filter(action=action).latest("id")).sentence


def test_it_claims_an_item_and_tells_others_who_holds_it(oscar_actor, org) -> None:
    item = flagged_item(org, "Pat")
    assignment = services.item_claim(actor=oscar_actor, item=item)
    assert assignment.assignee == oscar_actor.user
    assert selectors.assignment_of(item).assignee == oscar_actor.user
    assert _sentence("queue.claim") == (
        "oscar@alpha.test claimed the review of Pat in the visitor review queue"
    )
    entry = AuditEntry.objects.get(action="queue.claim")
    assert [(c.label, c.before, c.after) for c in describe(entry).changes] == [
        ("Held by", "—", "oscar@alpha.test")
    ]


def test_a_claimed_item_cannot_be_claimed_by_a_colleague_but_an_admin_takes_it(
    oscar_actor, alice_actor, org, db
) -> None:
    from tests.conftest import _member

    olga = as_actor(_member(org, "olga@alpha.test", Role.OPERATOR), org, "operator")
    item = flagged_item(org, "Pat")
    services.item_claim(actor=oscar_actor, item=item)
    with pytest.raises(ValidationError, match="oscar@alpha.test holds this item"):
        services.item_claim(actor=olga, item=item)
    services.item_assign(actor=alice_actor, item=item, assignee=olga.user)
    assert selectors.assignment_of(item).assignee == olga.user
    assert "assigned the review of Pat" in _sentence("queue.assign")
    with pytest.raises(PermissionDenied):
        services.item_release(actor=oscar_actor, item=item)
    services.item_release(actor=olga, item=item)
    assert selectors.assignment_of(item).assignee is None


def test_viewers_cannot_claim_and_support_cannot_claim_visitor_reviews(
    org, bob, sue
) -> None:
    item = flagged_item(org, "Pat")
    for user, role in ((bob, Role.VIEWER), (sue, Role.SUPPORT)):
        with pytest.raises(PermissionDenied):
            services.item_claim(actor=as_actor(user, org, role), item=item)
    assert not AuditEntry.objects.filter(action="queue.claim").exists()


def test_it_escalates_to_a_colleague_or_a_role_and_needs_a_reason(
    oscar_actor, alice, sue, org
) -> None:
    item = flagged_item(org, "Pat")
    with pytest.raises(ValidationError) as exc:
        services.item_escalate(actor=oscar_actor, item=item, reason="", to_role="")
    assert set(exc.value.message_dict) == {"to", "reason"}
    with pytest.raises(ValidationError, match="cannot work the visitor review"):
        services.item_escalate(
            actor=oscar_actor, item=item, reason="Legal", to_user=sue
        )
    services.item_escalate(actor=oscar_actor, item=item, reason="Legal", to_user=alice)
    assignment = selectors.assignment_of(item)
    assert assignment.assignee == alice and assignment.escalation_reason == "Legal"
    assert _sentence("queue.escalate") == (
        "oscar@alpha.test escalated the review of Pat in the visitor review queue "
        "to alice@alpha.test"
    )
    other = flagged_item(org, "Rex")
    services.item_escalate(actor=oscar_actor, item=other, reason="Odd", to_role="admin")
    assert selectors.assignment_of(other).assignee is None
    assert _sentence("queue.escalate").endswith("to Admin")


def test_next_item_claims_the_oldest_unclaimed_one_it_may_take(
    oscar_actor, alice_actor, org
) -> None:
    oldest, middle, newest = (flagged_item(org, n) for n in ("Ann", "Bo", "Cy"))
    for n, item in enumerate((oldest, middle, newest)):
        item.created_at = timezone.now() - dt.timedelta(hours=10 - n)
        item.save(update_fields=["created_at"])
    services.item_escalate(
        actor=alice_actor, item=oldest, reason="Admins look", to_role="admin"
    )
    queue = QUEUES["visitors"]
    assert services.item_next(actor=oscar_actor, queue=queue) == middle
    assert services.item_next(actor=oscar_actor, queue=queue) == newest
    assert services.item_next(actor=oscar_actor, queue=queue) is None
    # The item escalated to admins waits for an admin.
    assert services.item_next(actor=alice_actor, queue=queue) == oldest


def test_notes_on_items_visitors_and_accounts_are_audited(
    oscar_actor, org, sue
) -> None:
    item = flagged_item(org, "Pat")
    services.note_add(actor=oscar_actor, target=item, body="Called them back")
    services.note_add(actor=oscar_actor, target=item.visitor, body="Repeat caller")
    with pytest.raises(ValidationError):
        services.note_add(actor=oscar_actor, target=item, body="  ")
    notes = selectors.notes_of_related(
        main=item.visitor, related=item.visitor.review_items.all()
    )
    assert [n.body for n in notes] == ["Repeat caller", "Called them back"]
    assert _sentence("note.add") == (
        "oscar@alpha.test added an internal note on the visitor Pat"
    )
    account = AccountFactory(organisation=org)
    request = RequestFactory(account=account)
    support = as_actor(sue, org, Role.SUPPORT)
    services.note_add(actor=support, target=request, body="Asked for the EIN")
    with pytest.raises(PermissionDenied):
        services.note_add(actor=oscar_actor, target=account, body="nope")
    services.item_claim(actor=support, item=request)
    assert "reassessment request of" in _sentence("queue.claim")
