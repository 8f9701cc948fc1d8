"""The data migrations encrypt credentials stored before encryption, and reverse."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from trustconsole.lib import crypto

# Core before its organisation time zone too: the old models know no such column.
BEFORE = [
    ("core", "0001_initial"),
    ("voicegate", "0002_policy"),
    ("remediation", "0001_initial"),
]
AFTER = [
    ("voicegate", "0003_encrypt_credentials"),
    ("remediation", "0002_encrypt_credentials"),
]
TOKEN = "plivo-auth-token-stored-in-clear-0123"
API_KEY = "KEY_remediation_before_upgrade_0123"
WEBHOOK_SECRET = "whsec_stored_in_clear_before_upgrade_01"


def _legacy_encrypt(value: str) -> str:
    # How the remediation API key was stored before: Fernet keyed by SECRET_KEY.
    digest = hashlib.sha256(b"remediation-api-key:" + settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest())).encrypt(value.encode())


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _raw(table: str, column: str) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)}")  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def at_old_schema(transactional_db: None) -> Iterator[Any]:
    """The database as it was before credentials were encrypted."""
    old_apps = _migrate(BEFORE)
    yield old_apps
    # Back to the newest schema (later migrations too), as every other test expects.
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_it_encrypts_stored_credentials_and_can_go_back(at_old_schema) -> None:
    """GIVEN a Plivo token and a webhook secret in plain text and an API key under
    the SECRET_KEY-derived key WHEN migrating THEN all three are under ENCRYPTION_KEYS
    and read back unchanged; migrating back restores the old storage."""
    old = at_old_schema
    org = old.get_model("core", "Organisation").objects.create(name="Old", slug="old")
    old.get_model("voicegate", "VoiceConnection").objects.create(
        organisation_id=org.pk, name="Plivo", provider="plivo", secret=TOKEN
    )
    old.get_model("remediation", "RemediationSettings").objects.create(
        organisation_id=org.pk,
        api_key_encrypted=_legacy_encrypt(API_KEY).decode(),
        webhook_secret=WEBHOOK_SECRET,
    )

    new = _migrate(AFTER)
    stored = _raw("voicegate_voiceconnection", "secret")
    assert TOKEN not in stored and crypto.decrypt(stored) == TOKEN
    assert crypto.decrypt(_raw("remediation_remediationsettings", "api_key")) == API_KEY
    webhook = _raw("remediation_remediationsettings", "webhook_secret")
    assert crypto.decrypt(webhook) == WEBHOOK_SECRET
    row = new.get_model("remediation", "RemediationSettings").objects.get()
    assert (row.api_key, row.webhook_secret) == (API_KEY, WEBHOOK_SECRET)
    _migrate(AFTER)  # running again changes nothing
    assert _raw("voicegate_voiceconnection", "secret") == stored

    _migrate(BEFORE)
    assert _raw("voicegate_voiceconnection", "secret") == TOKEN
    assert _raw("remediation_remediationsettings", "webhook_secret") == WEBHOOK_SECRET
    legacy = _raw("remediation_remediationsettings", "api_key_encrypted")
    digest = hashlib.sha256(b"remediation-api-key:" + settings.SECRET_KEY.encode())
    key = Fernet(base64.urlsafe_b64encode(digest.digest()))
    assert key.decrypt(legacy.encode()).decode() == API_KEY


def test_an_api_key_the_secret_key_cannot_open_is_dropped_with_a_warning(
    at_old_schema, caplog
) -> None:
    old = at_old_schema
    org = old.get_model("core", "Organisation").objects.create(name="Old", slug="old")
    unreadable = Fernet(Fernet.generate_key()).encrypt(b"KEY_lost").decode()
    old.get_model("remediation", "RemediationSettings").objects.create(
        organisation_id=org.pk, api_key_encrypted=unreadable
    )
    _migrate(AFTER)
    assert _raw("remediation_remediationsettings", "api_key") == ""
    assert "cannot be read with the current SECRET_KEY; enter it again" in caplog.text
