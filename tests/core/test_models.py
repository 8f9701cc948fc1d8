"""Audit entries are append-only; API tokens are stored hashed."""

from __future__ import annotations

import pytest

from trustconsole.core.models import ApiToken, AuditEntry, AuditImmutableError
from trustconsole.core.services import audit_record, token_create
from trustconsole.core.tokens import token_hash


def test_it_refuses_to_change_or_delete_an_audit_entry(org, actor_for) -> None:
    actor = actor_for(org)
    entry = audit_record(actor=actor, action="test.thing", target=org, reason="why")
    entry.reason = "rewritten"
    with pytest.raises(AuditImmutableError):
        entry.save()
    with pytest.raises(AuditImmutableError):
        entry.delete()
    with pytest.raises(AuditImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(AuditImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.reason == "why"
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_stores_only_the_hash_of_a_token(org, actor_for) -> None:
    token, raw = token_create(actor=actor_for(org), name="ci", role="viewer")
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw.startswith(f"tc_{stored.prefix}_")
    assert stored.token_hash == token_hash(raw)
    assert raw not in {str(v) for v in stored.__dict__.values()}
