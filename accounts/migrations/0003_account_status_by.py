from django.db import migrations, models

STATUS_ACTIONS = (
    "account.hold",
    "account.restrict",
    "account.block",
    "account.close",
    "account.lift",
    "account.limit",
    "account.restore",
)


def status_by_backfill(apps, schema_editor):
    """Who set each account's current status: the newest status change's actor."""
    Account = apps.get_model("accounts", "Account")
    AuditEntry = apps.get_model("core", "AuditEntry")
    for account in Account.objects.exclude(status="active").iterator():
        by = (
            AuditEntry.objects.filter(
                organisation_id=account.organisation_id,
                target_type="accounts.account",
                target_id=str(account.public_id),
                action__in=STATUS_ACTIONS,
            )
            .order_by("-created_at", "-id")
            .values_list("actor_label", flat=True)
            .first()
        )
        if by:
            Account.objects.filter(pk=account.pk).update(status_by=by[:200])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_customer_email_restored"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="status_by",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(status_by_backfill, migrations.RunPython.noop),
    ]
