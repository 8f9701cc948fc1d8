"""Several writes sent as one SQL statement: PostgreSQL's data-modifying CTEs.

A hot path that inserts a row, updates another and reads back what it answers
with pays one network round trip per statement, plus BEGIN and COMMIT around
them. On PostgreSQL the same writes fit in one statement (`WITH a AS (UPDATE …
RETURNING …), b AS (INSERT … SELECT … FROM a RETURNING …) SELECT …`), which is
atomic on its own: run outside a transaction (autocommit) it is one round trip
and commits by itself; inside one it simply joins it.

This module only builds the generic parts: quoted names, an `INSERT … SELECT`
for a model with its Python defaults filled in and its values prepared as the
ORM would, and running the statement. What the statement does is the caller's
(for example `visitors.gate_store`). Other databases keep the ORM path:
`available()` says whether this one can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone


def available() -> bool:
    """Whether the default database runs data-modifying CTEs (PostgreSQL)."""
    return connection.vendor == "postgresql"


def q(name: str) -> str:
    """A quoted table or column name."""
    return connection.ops.quote_name(name)


def table(model: type[models.Model]) -> str:
    """The model's quoted table name."""
    return q(model._meta.db_table)


@dataclass(frozen=True)
class Sql:
    """A piece of SQL written into a statement as is (a column of another CTE,
    `now()`), in place of a parameter; `params` for its own placeholders."""

    text: str
    params: tuple[Any, ...] = ()


def insert_select(
    model: type[models.Model],
    values: Mapping[str, Any],
    *,
    source: str = "",
    returning: Sequence[str] = ("id",),
    conflict: str = "",
) -> tuple[str, list[Any]]:
    """`INSERT INTO <model> (…) SELECT … [FROM source] [conflict] RETURNING …`
    and its parameters.

    `values` maps field names to Python values (prepared as the ORM saves them)
    or `Sql` pieces; a concrete field left out gets its Python default, as
    `Model.objects.create` would give it, unless the database provides one
    (`db_default`, the primary key). `source` is the FROM part (other CTEs): no
    row there, no row inserted. `conflict` is an `ON CONFLICT …` clause.
    """
    columns: list[str] = []
    selected: list[str] = []
    params: list[Any] = []
    given = dict(values)
    for field in model._meta.concrete_fields:
        if field.name in given:
            value = given.pop(field.name)
        elif field.attname in given:
            value = given.pop(field.attname)
        elif field.primary_key or field.db_default is not NOT_PROVIDED:
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()  # what pre_save gives it
        else:
            value = field.get_default()
        columns.append(q(str(field.column)))
        if isinstance(value, Sql):
            selected.append(value.text)
            params.extend(value.params)
        else:
            selected.append("%s")
            params.append(field.get_db_prep_save(value, connection))
    if given:
        raise ValueError(f"{model.__name__} has no fields {sorted(given)}")
    sql = (
        f"INSERT INTO {table(model)} ({', '.join(columns)}) "
        f"SELECT {', '.join(selected)}"
        + (f" FROM {source}" if source else "")
        + (f" {conflict}" if conflict else "")
        + (f" RETURNING {', '.join(returning)}" if returning else "")
    )
    return sql, params


def param(model: type[models.Model], field: str, value: Any) -> Any:
    """`value` prepared for one of the model's columns, as the ORM sends it."""
    found = model._meta.get_field(field)
    assert isinstance(found, models.Field), field
    return found.get_db_prep_save(value, connection)


def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one statement (one round trip) and return its first row, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return tuple(row) if row is not None else None
