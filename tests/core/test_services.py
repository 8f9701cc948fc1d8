"""`audited_save`: the validate → save → audit step every service ends with."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry, Organisation
from trustconsole.core.services import audit_snapshot, audited_delete, audited_save


def test_it_saves_and_audits_with_the_saved_values_and_the_given_after(
    org, actor_for
) -> None:
    """GIVEN a changed row WHEN it is saved through audited_save THEN the row is
    saved and one entry holds before, the snapshot fields plus `after`, and reason."""
    actor = actor_for(org, Role.ADMIN)
    before = audit_snapshot(org, ["name"])
    org.name = "Renamed"
    audited_save(
        org,
        actor=actor,
        action="organisation.rename",
        before=before,
        snapshot=["name", "slug"],
        after={"slug": "shown-instead"},
        reason="test",
    )
    assert Organisation.objects.get(pk=org.pk).name == "Renamed"
    entry = AuditEntry.objects.get(action="organisation.rename")
    assert entry.target_id == str(org.public_id)
    assert entry.before == before
    assert entry.after == {"name": "Renamed", "slug": "shown-instead"}
    assert entry.reason == "test"


def test_an_invalid_row_is_neither_saved_nor_audited(org, actor_for) -> None:
    """full_clean runs first: a row that fails validation writes nothing."""
    actor = actor_for(org, Role.ADMIN)
    row = Organisation(name="", slug="no-name")
    with pytest.raises(ValidationError) as exc:
        audited_save(row, actor=actor, action="organisation.create")
    assert "name" in exc.value.message_dict
    assert not Organisation.objects.filter(slug="no-name").exists()
    assert not AuditEntry.objects.filter(action="organisation.create").exists()


def test_audited_delete_audits_the_row_then_removes_it(org, actor_for) -> None:
    """The entry names the row (its public id and label) although it is gone."""
    actor = actor_for(org, Role.ADMIN)
    row = Organisation.objects.create(name="Gone", slug="gone")
    public_id = str(row.public_id)
    audited_delete(
        row,
        actor=actor,
        action="organisation.delete",
        before={"name": "Gone"},
        reason="test",
    )
    assert not Organisation.objects.filter(slug="gone").exists()
    entry = AuditEntry.objects.get(action="organisation.delete")
    assert (entry.target_id, entry.target_label) == (public_id, "Gone")
    assert (entry.before, entry.reason) == ({"name": "Gone"}, "test")
