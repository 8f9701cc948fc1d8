"""Voice connections' auth tokens and API keys are encrypted at rest.

Encrypts every stored `secret` and `api_key` with the newest key of ENCRYPTION_KEYS,
then switches both fields to the encrypted field type. The data step runs while the
fields are still plain text in the migration state, so it reads and writes the raw
column; both steps share this migration so that they run in one transaction.

Reversible: going back decrypts the values into plain text again (which is exactly
what a database dump then shows).
"""

from typing import Any

from django.db import migrations

from trustconsole.lib import crypto

FIELDS = ("secret", "api_key")


def _encrypted_already(value: str) -> bool:
    try:
        crypto.decrypt(value)
    except crypto.CredentialUnreadable:
        return False
    return True


def encrypt_credentials(apps: Any, schema_editor: Any) -> None:
    VoiceConnection = apps.get_model("voicegate", "VoiceConnection")
    rows = VoiceConnection.objects.using(schema_editor.connection.alias)
    for row in rows.only("pk", *FIELDS).iterator(chunk_size=500):
        changes = {
            name: crypto.encrypt(getattr(row, name))
            for name in FIELDS
            if getattr(row, name) and not _encrypted_already(getattr(row, name))
        }
        if changes:
            rows.filter(pk=row.pk).update(**changes)


def decrypt_credentials(apps: Any, schema_editor: Any) -> None:
    VoiceConnection = apps.get_model("voicegate", "VoiceConnection")
    rows = VoiceConnection.objects.using(schema_editor.connection.alias)
    for row in rows.only("pk", *FIELDS).iterator(chunk_size=500):
        changes = {}
        for name in FIELDS:
            value = getattr(row, name)
            if value and _encrypted_already(value):
                changes[name] = crypto.decrypt(value)
        if changes:
            rows.filter(pk=row.pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("voicegate", "0002_policy"),
    ]

    operations = [
        migrations.RunPython(encrypt_credentials, decrypt_credentials),
        migrations.AlterField(
            model_name="voiceconnection",
            name="secret",
            field=crypto.EncryptedTextField(
                help_text="Telnyx: the account's Ed25519 public key (base64). Twilio and Plivo: the auth token. Generic: a shared token sent as a Bearer token."
            ),
        ),
        migrations.AlterField(
            model_name="voiceconnection",
            name="api_key",
            field=crypto.EncryptedTextField(
                blank=True,
                help_text="Telnyx Call Control only: API key used to send the reject command.",
            ),
        ),
    ]
