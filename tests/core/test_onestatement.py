"""`onestatement.insert_select` builds a statement's text once per shape and its
values on every call: each row gets the values it was given and defaults of
its own, as `Model.objects.create` would give them."""

from __future__ import annotations

import pytest

from trustconsole.lib import onestatement as one
from visitors.models import Visitor

pytestmark = pytest.mark.django_db


def _insert(values: dict[str, object]) -> Visitor:
    sql, params = one.insert_select(Visitor, values, returning=("id",))
    row = one.fetch_one(sql, params)
    assert row is not None
    return Visitor.objects.get(pk=row[0])


def test_rows_of_one_shape_get_their_own_values_and_defaults(org) -> None:
    first = _insert({"organisation": org.pk, "name": "Dana"})
    second = _insert({"organisation": org.pk, "name": "Eli"})
    assert (first.name, second.name) == ("Dana", "Eli")
    assert first.public_id != second.public_id  # a fresh default per row
    assert first.created_at <= second.created_at
    assert first.trust_score == second.trust_score == 100


def test_a_shape_with_an_sql_piece_is_its_own_statement(org) -> None:
    plain = one.insert_select(Visitor, {"organisation": org.pk, "name": "Dana"})
    upper = one.insert_select(
        Visitor, {"organisation": org.pk, "name": one.Sql("UPPER(%s)", ("fay",))}
    )
    assert plain[0] != upper[0]
    assert "UPPER(%s)" in upper[0]
    visitor = _insert({"organisation": org.pk, "name": one.Sql("UPPER(%s)", ("fay",))})
    assert visitor.name == "FAY"
    assert _insert({"organisation": org.pk, "name": "gus"}).name == "gus"


def test_an_unknown_field_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="no fields"):
            one.insert_select(Visitor, {"organisation": 1, "nickname": "x"})
