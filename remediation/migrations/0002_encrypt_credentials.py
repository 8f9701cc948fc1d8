"""The upstream API key and the webhook signing secret are encrypted with
ENCRYPTION_KEYS.

The API key used to be encrypted with a key derived from SECRET_KEY (in
`api_key_encrypted`): it is decrypted with that key and encrypted again with the
newest key of ENCRYPTION_KEYS into `api_key`, so SECRET_KEY can now be rotated on its
own. A key the current SECRET_KEY cannot open was already unreadable (the console
showed none): it stays empty and must be entered again; the migration says so. The
webhook signing secret was plain text: it is encrypted.

Schema and data steps share this migration so that they run in one transaction:
the column is widened first, the values are rewritten while the fields are plain
text in the migration state, then the fields switch to the encrypted type.

Reversible: going back puts the API key under the SECRET_KEY-derived key again and
the webhook secret back into plain text.
"""

import base64
import hashlib
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import migrations, models

import remediation.models
from trustconsole.lib import crypto

logger = logging.getLogger("remediation.migrations")


def _legacy_fernet() -> Fernet:
    # The key the API key was encrypted with before ENCRYPTION_KEYS existed.
    digest = hashlib.sha256(b"remediation-api-key:" + settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def _readable(value: str) -> str | None:
    try:
        return crypto.decrypt(value)
    except crypto.CredentialUnreadable:
        return None


def encrypt_credentials(apps: Any, schema_editor: Any) -> None:
    RemediationSettings = apps.get_model("remediation", "RemediationSettings")
    rows = RemediationSettings.objects.using(schema_editor.connection.alias)
    legacy = _legacy_fernet()
    for row in rows.iterator(chunk_size=500):
        changes: dict[str, str] = {}
        if row.webhook_secret and _readable(row.webhook_secret) is None:
            changes["webhook_secret"] = crypto.encrypt(row.webhook_secret)
        if row.api_key_encrypted:
            try:
                plain = legacy.decrypt(row.api_key_encrypted.encode()).decode()
            except InvalidToken:
                logger.warning(
                    "remediation settings of organisation %s: the stored API key "
                    "cannot be read with the current SECRET_KEY; enter it again",
                    row.organisation_id,
                )
                plain = ""
            changes["api_key"] = crypto.encrypt(plain) if plain else ""
            changes["api_key_encrypted"] = ""
        if changes:
            rows.filter(pk=row.pk).update(**changes)


def decrypt_credentials(apps: Any, schema_editor: Any) -> None:
    RemediationSettings = apps.get_model("remediation", "RemediationSettings")
    rows = RemediationSettings.objects.using(schema_editor.connection.alias)
    legacy = _legacy_fernet()
    for row in rows.iterator(chunk_size=500):
        changes: dict[str, str] = {}
        secret = _readable(row.webhook_secret) if row.webhook_secret else None
        if secret is not None:
            changes["webhook_secret"] = secret
        api_key = _readable(row.api_key) if row.api_key else None
        if api_key:
            changes["api_key_encrypted"] = legacy.encrypt(api_key.encode()).decode()
            changes["api_key"] = ""
        if changes:
            rows.filter(pk=row.pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("remediation", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="remediationsettings",
            name="webhook_secret",
            field=models.TextField(default=remediation.models.webhook_secret_generate),
        ),
        migrations.AddField(
            model_name="remediationsettings",
            name="api_key",
            field=models.TextField(blank=True, default=""),
            preserve_default=False,
        ),
        migrations.RunPython(encrypt_credentials, decrypt_credentials),
        migrations.RemoveField(
            model_name="remediationsettings",
            name="api_key_encrypted",
        ),
        migrations.AlterField(
            model_name="remediationsettings",
            name="webhook_secret",
            field=crypto.EncryptedTextField(
                default=remediation.models.webhook_secret_generate
            ),
        ),
        migrations.AlterField(
            model_name="remediationsettings",
            name="api_key",
            field=crypto.EncryptedTextField(blank=True),
        ),
    ]
