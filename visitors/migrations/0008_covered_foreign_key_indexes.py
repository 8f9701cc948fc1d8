"""The foreign keys' own single-column indexes, each the leading column of
another index of its table: dropped (those indexes serve the same lookups, the
cascades included), one index fewer written per row. A chat message touches the
visitor (never a HOT update: `last_seen_at` is indexed, so every index gets an
entry), may start a conversation and stores a message: 19 index entries before,
15 after.

Only the indexes are dropped; the foreign-key constraints stay as they are (no
constraint dropped and re-validated on big tables).
"""

import django.db.models.deletion
from django.db import migrations, models

# (index, table, column): the names Django gave them (the same on every database).
COVERED = [
    (
        "visitors_blockedattempt_organisation_id_3f65705f",
        "visitors_blockedattempt",
        "organisation_id",
    ),
    (
        "visitors_blockedattempt_visitor_id_4709330d",
        "visitors_blockedattempt",
        "visitor_id",
    ),
    (
        "visitors_conversation_organisation_id_cd303e29",
        "visitors_conversation",
        "organisation_id",
    ),
    (
        "visitors_conversation_visitor_id_3dad5fa4",
        "visitors_conversation",
        "visitor_id",
    ),
    (
        "visitors_message_conversation_id_3ada264c",
        "visitors_message",
        "conversation_id",
    ),
    (
        "visitors_visitor_organisation_id_df60d4c6",
        "visitors_visitor",
        "organisation_id",
    ),
    (
        "visitors_visitoridentifier_organisation_id_2298897e",
        "visitors_visitoridentifier",
        "organisation_id",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_organisation_time_zone"),
        ("visitors", "0007_shadow_blacklist"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in COVERED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="blockedattempt",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="blockedattempt",
                    name="visitor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="blocked_attempt_rows",
                        to="visitors.visitor",
                    ),
                ),
                migrations.AlterField(
                    model_name="conversation",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversations",
                        to="core.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="conversation",
                    name="visitor",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversations",
                        to="visitors.visitor",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="conversation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="visitors.conversation",
                    ),
                ),
                migrations.AlterField(
                    model_name="visitor",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="visitors",
                        to="core.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="visitoridentifier",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organisation",
                    ),
                ),
            ],
        ),
    ]
