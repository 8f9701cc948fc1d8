"""The voice side of the default rule set ("Repeated calls", "Harassment limit")
for the organisations that existed before it."""

from django.db import migrations

KEYS = ("repeated_calls", "harassment_limit")


def forwards(apps, schema_editor):
    from trustconsole.rules.defaults import seed_existing

    seed_existing(apps, KEYS)


def backwards(apps, schema_editor):
    # Only the rules as the migration wrote them: a default an admin changed stays.
    Rule = apps.get_model("rules", "Rule")
    Rule.objects.filter(builtin__in=KEYS).exclude(versions__number__gt=1).delete()


class Migration(migrations.Migration):
    dependencies = [("rules", "0004_rule_match")]

    operations = [migrations.RunPython(forwards, backwards)]
