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
    from trustconsole.rules.defaults import seed

    Organisation = apps.get_model("core", "Organisation")
    Rule = apps.get_model("rules", "Rule")
    RuleVersion = apps.get_model("rules", "RuleVersion")
    for pk in Organisation.objects.values_list("pk", flat=True):
        seed(pk, Rule, RuleVersion, keys=KEYS)


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0002_rule_builtin"),
        ("core", "0003_organisation_time_zone"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
