"""Audit sentences of CSV imports."""

from __future__ import annotations

from trustconsole.core.audit_text import (
    register_actions,
    register_fields,
    register_target,
)
from trustconsole.csvio.models import ImportKind

register_target("csvio.csvimport", "CSV import")
register_actions(
    {
        "csv_import.run": "{actor} imported {file} into {kind}: {created} created, "
        "{updated} updated, {unchanged} unchanged, {invalid} rows with errors",
        "csv_import.fail": "{actor}'s import of {file} into {kind} failed after "
        "{rows} rows ({created} created, {updated} updated)",
        "csv_import.dry_runs_remove": "{actor} removed {removed} CSV dry run(s) "
        "older than {ttl_hours} hours",
    }
)
register_fields(
    target_type="csvio.csvimport",
    labels={
        "kind": "Imported into",
        "file": "File",
        "rows": "Rows read",
        "created": "Created",
        "updated": "Updated",
        "unchanged": "Unchanged",
        "invalid": "Rows with errors",
    },
    choices={"kind": ImportKind},
)
