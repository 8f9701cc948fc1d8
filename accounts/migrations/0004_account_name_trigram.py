"""Account names are searched anywhere in the name (global search, Ctrl-K).

On PostgreSQL a trigram GIN index on `UPPER(company_name)` answers
`company_name__icontains` (Django's `UPPER(col::text) LIKE UPPER('%q%')`); the
pg_trgm extension ships with PostgreSQL's contrib and is trusted (no superuser
needed). `fastupdate = off`: a new account is in the index at once, not in a
pending list until the next vacuum (accounts are written rarely, searched often).
SQLite, the development default, scans the organisation's accounts.
"""

from __future__ import annotations

from django.db import migrations

INDEX = "account_name_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON accounts_account "
        "USING gin ((UPPER(company_name::text)) gin_trgm_ops) WITH (fastupdate = off)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_account_status_by"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
