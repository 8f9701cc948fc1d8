"""Internal notes are edited by their author only: audited with the text before
and after, shown as edited; other members get 403, other organisations 404."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import PASSWORD, _member
from tests.waiting import page_ready
from tests.workqueue.conftest import as_actor, flagged_item
from tests.workqueue.factories import NoteFactory
from trustconsole.core.audit_text import describe
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry
from trustconsole.workqueue import services
from trustconsole.workqueue.models import Note

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_author_edits_and_the_audit_keeps_both_texts(oscar_actor, org) -> None:
    item = flagged_item(org, "Pat")
    note = services.note_add(actor=oscar_actor, target=item.visitor, body="Calls at 3")
    assert note.edited_at is None
    edited = services.note_edit(
        actor=oscar_actor, note=note, body="  Calls at 3 am, from two numbers "
    )
    assert edited.body == "Calls at 3 am, from two numbers"
    assert edited.edited_at is not None
    entry = AuditEntry.objects.get(action="note.edit")
    assert entry.target_type == "visitors.visitor"
    text = describe(entry)
    assert text.sentence == (
        "oscar@alpha.test edited their internal note on the visitor Pat"
    )
    assert [(c.label, c.before, c.after) for c in text.changes] == [
        ("Note", "Calls at 3", "Calls at 3 am, from two numbers")
    ]
    # The same text again changes nothing and writes nothing.
    services.note_edit(
        actor=oscar_actor, note=note, body="Calls at 3 am, from two numbers"
    )
    assert AuditEntry.objects.filter(action="note.edit").count() == 1
    with pytest.raises(ValidationError):
        services.note_edit(actor=oscar_actor, note=note, body="   ")
    assert Note.objects.get(pk=note.pk).body == "Calls at 3 am, from two numbers"


def test_nobody_else_edits_it_not_even_an_admin(oscar_actor, alice, org) -> None:
    note = services.note_add(
        actor=oscar_actor, target=flagged_item(org, "Pat"), body="mine"
    )
    olga = as_actor(_member(org, "olga@alpha.test", Role.OPERATOR), org, Role.OPERATOR)
    for other in (olga, as_actor(alice, org, Role.ADMIN)):
        with pytest.raises(PermissionDenied):
            services.note_edit(actor=other, note=note, body="theirs")
    assert Note.objects.get(pk=note.pk).body == "mine"
    assert not AuditEntry.objects.filter(action="note.edit").exists()


def test_the_api_edits_for_the_author_and_refuses_the_others(
    oscar_actor, oscar, org, other_org, api_client_for, alice
) -> None:
    note = services.note_add(
        actor=oscar_actor, target=flagged_item(org, "Pat"), body="first"
    )
    url = f"/api/v1/notes/{note.public_id}/"
    olga = _member(org, "olga@alpha.test", Role.OPERATOR)
    for user, status in ((olga, 403), (alice, 403)):
        client = Client()
        client.force_login(user)
        answer = client.patch(url, {"body": "x"}, content_type="application/json")
        assert answer.status_code == status, user
    assert api_client_for(org, "viewer").patch(url, {"body": "x"}).status_code == 403
    charlie = api_client_for(other_org, "admin")
    assert charlie.get(url).status_code == 404
    assert charlie.patch(url, {"body": "x"}, format="json").status_code == 404
    assert Note.objects.get(pk=note.pk).body == "first"

    mine = Client()
    mine.force_login(oscar)
    bad = mine.patch(url, {"body": ""}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "body"
    done = mine.patch(url, {"body": "second"}, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["body"] == "second" and done.json()["edited_at"]
    assert Note.objects.get(pk=note.pk).body == "second"


def test_the_form_edits_and_others_see_no_edit_control(oscar_actor, oscar, alice, org):
    item = flagged_item(org, "Pat")
    note = NoteFactory(target=item.visitor, author=oscar, body="first")
    profile = f"/security/visitors/{item.visitor.public_id}/"
    client = logged_in(oscar)
    assert "Edit your note" in client.get(profile).content.decode()
    assert "Edit your note" not in logged_in(alice).get(profile).content.decode()
    response = client.post(
        f"/notes/{note.public_id}/edit/",
        {"body": "second", "next": profile},
        follow=True,
    )
    html = response.content.decode()
    assert "Note saved." in html and 'data-testid="note-edited"' in html
    refused = logged_in(alice).post(f"/notes/{note.public_id}/edit/", {"body": "x"})
    assert refused.status_code == 403
    assert Note.objects.get(pk=note.pk).body == "second"


@pytest.mark.browser
def test_the_author_edits_a_note_in_the_browser(login, oscar_actor, oscar, org):
    """GIVEN oscar's note on a visitor WHEN he edits it on the profile THEN the
    new text shows, marked edited, and the history says what changed."""
    item = flagged_item(org, "Pat")
    services.note_add(actor=oscar_actor, target=item.visitor, body="Calls at 3")
    page = login(oscar)
    page.goto(f"/security/visitors/{item.visitor.public_id}/")
    page_ready(page)
    notes = page.get_by_test_id("notes")
    notes.get_by_text("Edit", exact=True).click()
    notes.get_by_label("Edit your note").fill("Calls at 3 am")
    notes.get_by_role("button", name="Save note").click()
    expect(page.get_by_text("Note saved.").first).to_be_visible()
    note = page.get_by_test_id("note").first
    expect(note.get_by_test_id("note-body")).to_have_text("Calls at 3 am")
    expect(note.get_by_test_id("note-edited")).to_have_text("edited")
    expect(
        page.get_by_text(
            "oscar@alpha.test edited their internal note on the visitor Pat"
        )
    ).to_be_visible()
