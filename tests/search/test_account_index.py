"""Account names in global search: any part of the name, any case, from an index
on PostgreSQL (the trigram index of accounts migration 0004)."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Account
from tests.accounts.factories import AccountFactory
from trustconsole.core.actor import Actor
from trustconsole.core.search import search

pytestmark = pytest.mark.django_db
POSTGRES = connection.vendor == "postgresql"


def _accounts(actor: Actor, q: str) -> list[str]:
    results = search(actor=actor, q=q)
    return [h.title for g in results.groups if g.kind == "accounts" for h in g.hits]


def test_an_account_is_found_by_a_word_inside_its_name(org, other_org) -> None:
    AccountFactory(organisation=org, company_name="The Acme Messaging Co")
    AccountFactory(organisation=org, company_name="Northwind Voice")
    AccountFactory(organisation=other_org, company_name="Messaging Elsewhere")
    actor = Actor.system_for(org, "test")
    assert _accounts(actor, "messaging") == ["The Acme Messaging Co"]
    assert _accounts(actor, "WIND vo") == ["Northwind Voice"]
    assert _accounts(actor, "nothing like it") == []


def test_the_name_search_uses_the_trigram_index_on_postgresql(org) -> None:
    """GIVEN 20,000 accounts of one organisation (analyzed) WHEN global search
    looks a name up THEN PostgreSQL plans it through account_name_trgm, not a
    scan of the organisation's accounts. On SQLite the index does not exist and
    the same search is answered by a scan."""
    Account.objects.bulk_create(
        Account(
            organisation=org,
            company_name=f"Company {i:05d} Ltd",
            email=f"ops{i}@company{i}.example",
            country="GB",
        )
        for i in range(20_000)
    )
    AccountFactory(organisation=org, company_name="Zephyr Telecom")
    actor = Actor.system_for(org, "test")
    assert _accounts(actor, "zephyr") == ["Zephyr Telecom"]
    query = Account.objects.filter(
        organisation=org, company_name__icontains="zephyr"
    ).order_by("company_name", "id")[:6]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if not POSTGRES:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE name = 'account_name_trgm'"
            )
            assert cursor.fetchall() == []
            return
        cursor.execute("ANALYZE accounts_account")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "account_name_trgm" in plan, plan
