"""On PostgreSQL, the database itself refuses UPDATE and DELETE of audit entries.

The only way through is the retention path (`services.audit_prune`), which deletes
old entries after `SET LOCAL trustconsole.audit_prune = 'on'` in its own
transaction. SQLite keeps the ORM guard of `AuditEntry` alone.
"""

from __future__ import annotations

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION core_auditentry_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND coalesce(current_setting('trustconsole.audit_prune', true), '') = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are immutable: % of core_auditentry refused', TG_OP
    USING ERRCODE = 'restrict_violation',
          HINT = 'Old entries are pruned only by manage.py prune_audit.';
END
$$;
DROP TRIGGER IF EXISTS core_auditentry_immutable ON core_auditentry;
CREATE TRIGGER core_auditentry_immutable
  BEFORE UPDATE OR DELETE ON core_auditentry
  FOR EACH ROW EXECUTE FUNCTION core_auditentry_immutable();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS core_auditentry_immutable ON core_auditentry;
DROP FUNCTION IF EXISTS core_auditentry_immutable();
"""


def _run(sql: str):  # noqa: ANN202 - a migration operation callback
    def run(apps, schema_editor) -> None:  # noqa: ANN001
        if schema_editor.connection.vendor == "postgresql":
            # No parameters: the function body's % placeholders are PL/pgSQL's.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
