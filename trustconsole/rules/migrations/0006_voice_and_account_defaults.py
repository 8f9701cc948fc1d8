"""Joins the two halves of the default rule set added side by side: the voice
defaults (0005_voice_default_rules) and the account defaults
(0005_account_default_rules). Nothing to change."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0005_account_default_rules"),
        ("rules", "0005_voice_default_rules"),
    ]

    operations: list = []
