"""The default rule set for the organisations that existed before it."""

from django.db import migrations

KEYS = (
    "flagged_keywords",
    "message_velocity",
    "event_flagged_keyword",
    "event_user_report",
    "event_message_velocity",
    "event_repeated_calls",
)


def forwards(apps, schema_editor):
    from trustconsole.rules.defaults import seed_existing

    seed_existing(apps, KEYS)


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0002_rule_builtin"),
        ("core", "0003_organisation_time_zone"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
