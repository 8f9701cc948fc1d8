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

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
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


@dataclass(frozen=True)
class _Plan:
    """An `insert_select` shape: its SQL, and where each column's value comes
    from (`given` under that key, `now` for auto_now fields, else the default)."""

    sql: str
    columns: tuple[tuple[models.Field[Any, Any], str, str], ...]  # (field, how, key)


# Plans by shape: model, the values' keys (and the text of each `Sql` piece),
# source, returning, conflict and vendor. Hot paths build a handful of shapes.
_PLANS: dict[tuple[Any, ...], _Plan] = {}


def _plan(
    model: type[models.Model],
    values: Mapping[str, Any],
    source: str,
    returning: Sequence[str],
    conflict: str,
) -> _Plan:
    shape = (
        model,
        tuple(
            (name, value.text if isinstance(value, Sql) else None)
            for name, value in values.items()
        ),
        source,
        tuple(returning),
        conflict,
        connection.vendor,
    )
    plan = _PLANS.get(shape)
    if plan is not None:
        return plan
    given = set(values)
    columns: list[tuple[models.Field[Any, Any], str, str]] = []
    names: list[str] = []
    selected: list[str] = []
    for field in model._meta.concrete_fields:
        if field.name in given:
            how, key = "given", field.name
        elif field.attname in given:
            how, key = "given", field.attname
        elif field.primary_key or field.db_default is not NOT_PROVIDED:
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            how, key = "now", ""  # what pre_save gives it
        else:
            how, key = "default", ""
        given.discard(key)
        columns.append((field, how, key))
        names.append(q(str(field.column)))
        value = values[key] if how == "given" else None
        selected.append(value.text if isinstance(value, Sql) else "%s")
    if given:
        raise ValueError(f"{model.__name__} has no fields {sorted(given)}")
    sql = (
        f"INSERT INTO {table(model)} ({', '.join(names)}) "
        f"SELECT {', '.join(selected)}"
        + (f" FROM {source}" if source else "")
        + (f" {conflict}" if conflict else "")
        + (f" RETURNING {', '.join(returning)}" if returning else "")
    )
    plan = _Plan(sql, tuple(columns))
    _PLANS[shape] = plan
    return plan


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
    row there, no row inserted. `conflict` is an `ON CONFLICT …` clause. The
    statement's text is built once per shape (`_plan`); the values, defaults
    included, on every call.
    """
    plan = _plan(model, values, source, returning, conflict)
    params: list[Any] = []
    wrapper = connections[DEFAULT_DB_ALIAS]  # what `connection` stands for here
    for field, how, key in plan.columns:
        if how == "given":
            value = values[key]
        elif how == "now":
            value = timezone.now()
        else:
            value = field.get_default()
        if isinstance(value, Sql):
            params.extend(value.params)
        else:
            params.append(field.get_db_prep_save(value, wrapper))
    return plan.sql, params


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
