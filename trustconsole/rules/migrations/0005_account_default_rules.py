"""The default rule set's customer-account rules for the organisations that
existed before them (signup risk, usage review, restrictions, repeated outbound
denials), and the two channels they introduced: an account risk signal added, an
outbound call refused."""

from django.db import migrations, models

KEYS = (
    "signup_payment_flagged",
    "signup_disposable_email",
    "signup_high_risk_country",
    "signup_free_mail",
    "signup_website_mismatch",
    "signup_no_website",
    "review_numbers_without_usage",
    "review_carrier_complaints",
    "review_volume_spike_calls",
    "review_volume_spike_sms",
    "restrict_carrier_complaints",
    "restrict_numbers_without_usage",
    "restrict_volume_spike",
    "restrict_payment_flagged",
    "restrict_phishing_spam",
    "restrict_outbound_denials",
    "denials_repeated",
)

CHANNELS = [
    ("chat_message", "Chat message"),
    ("chat_event", "Chat event (a user report, …)"),
    ("inbound_call", "Inbound call"),
    ("outbound_check", "Outbound call check"),
    ("account_signup", "Account signup"),
    ("account_review", "Account usage review"),
    ("account_signal", "Account risk signal added"),
    ("outbound_denial", "Outbound call refused"),
]


def forwards(apps, schema_editor):
    from trustconsole.rules.defaults import seed_existing

    seed_existing(apps, KEYS)


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0004_rule_match"),
    ]

    operations = [
        migrations.AlterField(
            model_name="backtest",
            name="channel",
            field=models.CharField(choices=CHANNELS, max_length=24),
        ),
        migrations.AlterField(
            model_name="rule",
            name="channel",
            field=models.CharField(choices=CHANNELS, max_length=24),
        ),
        migrations.AlterField(
            model_name="rulematch",
            name="channel",
            field=models.CharField(choices=CHANNELS, max_length=24),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
