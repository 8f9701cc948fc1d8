"""Queue pages show who holds each item; claim, escalate, notes and Next item as
forms; the same through the API. Other organisations get 404, viewers 403."""

from __future__ import annotations

from django.test import Client

from tests.accounts.factories import RequestFactory
from tests.conftest import PASSWORD
from tests.workqueue.conftest import flagged_item
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry
from trustconsole.workqueue import selectors
from trustconsole.workqueue.models import Note


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_queue_shows_holders_and_a_claim_button(oscar, alice, org) -> None:
    item = flagged_item(org, "Pat")
    client = logged_in(oscar)
    page = client.get("/review/").content.decode()
    assert "Unclaimed" in page and 'data-key="c"' in page and "Next item" in page
    response = client.post(f"/queues/visitors/items/{item.public_id}/claim/")
    assert response.status_code == 302
    assert "Held by oscar@alpha.test (you)" in client.get("/review/").content.decode()
    other = logged_in(alice).get("/review/").content.decode()
    assert "Held by oscar@alpha.test" in other and "Take over" in other


def test_escalate_note_and_next_item_through_the_forms(oscar, alice, org) -> None:
    first, second = flagged_item(org, "Ann"), flagged_item(org, "Bo")
    client = logged_in(oscar)
    url = f"/queues/visitors/items/{first.public_id}/"
    client.post(url + "escalate/", {"to_user": "alice@alpha.test", "reason": "Legal"})
    assert selectors.assignment_of(first).assignee == alice
    client.post(f"/notes/review_item/{second.public_id}/", {"body": "Looks like spam"})
    assert Note.objects.get().body == "Looks like spam"
    response = client.post("/queues/visitors/next/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"#item-{second.public_id}")
    assert selectors.assignment_of(second).assignee == oscar
    # An escalation without a reason changes nothing and says why.
    response = client.post(url + "escalate/", {"to_role": "admin"}, follow=True)
    assert "Say why" in response.content.decode()


def test_viewers_cannot_claim_and_outsiders_get_404(bob, charlie, org) -> None:
    item = flagged_item(org, "Pat")
    url = f"/queues/visitors/items/{item.public_id}/claim/"
    assert logged_in(bob).post(url).status_code == 403
    assert logged_in(charlie).post(url).status_code == 404
    assert (
        logged_in(charlie).post(f"/notes/visitor/{item.visitor.public_id}/").status_code
        == 404
    )
    assert not AuditEntry.objects.filter(action__startswith="queue.").exists()


def test_the_account_queue_is_worked_by_support(sue, oscar, org) -> None:
    request = RequestFactory(account__organisation=org, company_name="Acme")
    client = logged_in(sue)
    client.post(f"/queues/accounts/items/{request.public_id}/claim/")
    assert "Held by sue@alpha.test" in client.get("/accounts/reviews/").content.decode()
    page = client.get(f"/accounts/requests/{request.public_id}/").content.decode()
    assert "Held by sue@alpha.test (you)" in page and "Release" in page
    response = client.post("/queues/accounts/next/")
    assert response["Location"] == "/accounts/reviews/"  # nothing else waits
    assert (
        logged_in(oscar)
        .post(f"/queues/accounts/items/{request.public_id}/claim/")
        .status_code
        == 403
    )


def test_the_api_claims_escalates_and_keeps_notes(api_client_for, org, alice) -> None:
    item = flagged_item(org, "Pat")
    operator = api_client_for(org, Role.OPERATOR)
    base = f"/api/v1/queues/visitors/items/{item.public_id}/"
    # A token is nobody: claiming needs a person.
    response = operator.post(base + "claim/")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "assignee"
    response = operator.post(
        base + "escalate/",
        {"to_user": "alice@alpha.test", "reason": "Legal"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["assignee"] == "alice@alpha.test"
    assert operator.post(base + "escalate/", {}, format="json").status_code == 400
    notes = f"/api/v1/notes/review_item/{item.public_id}/"
    assert operator.post(notes, {"body": "Checked"}, format="json").status_code == 201
    assert operator.get(notes).json()["results"][0]["body"] == "Checked"
    viewer = api_client_for(org, Role.VIEWER)
    assert viewer.post(notes, {"body": "x"}, format="json").status_code == 403
    assert viewer.get(base).json()["assignee"] == "alice@alpha.test"
    assert (
        api_client_for(org, Role.ADMIN)
        .post(base + "assign/", {"assignee": "nobody@x.test"}, format="json")
        .status_code
        == 400
    )
    assert operator.get("/api/v1/queues/nope/items/x/").status_code == 404
    assert operator.post("/api/v1/queues/visitors/next/").status_code == 400
