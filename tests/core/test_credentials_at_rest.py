"""A database dump alone leaks no credential, and keys rotate through the command.

Every kind of stored credential is created through the API, then every column of
every table is read with plain SQL (what a dump holds) and searched for the values.
Runs on SQLite by default and on PostgreSQL with DATABASE_URL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast
from django.test import Client

from remediation.models import RemediationSettings
from trustconsole.core.credentials import ROTATE_ACTION
from trustconsole.core.models import AuditEntry
from trustconsole.lib import crypto
from voicegate.models import VoiceConnection

pytestmark = pytest.mark.django_db


def _telnyx_public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key()
    return base64.b64encode(raw.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def create_every_credential(client: Any, tag: str) -> dict[str, str]:
    """Create one credential of every kind through the API; name → plain value."""
    values = {
        "telnyx call control public key": _telnyx_public_key(),
        "telnyx call control api key": f"KEY_{tag}_call_control_0123456789",
        "telnyx texml public key": _telnyx_public_key(),
        "twilio auth token": f"twilio{tag}auth0123456789abcdef0123",
        "plivo auth token": f"plivo{tag}auth0123456789abcdef01234",
        "generic shared token": f"pbx-{tag}-shared-token-0123456789",
        "remediation api key": f"KEY_{tag}_remediation_0123456789",
        "remediation webhook secret": f"whsec_{tag}_chosen_secret_0123456789",
    }
    connections = [
        ("telnyx_call_control", "telnyx call control public key", "api key"),
        ("telnyx_texml", "telnyx texml public key", None),
        ("twilio", "twilio auth token", None),
        ("plivo", "plivo auth token", None),
        ("generic", "generic shared token", None),
    ]
    for provider, secret, api_key in connections:
        body = {"name": f"{provider} {tag}", "provider": provider}
        body["secret"] = values[secret]
        if api_key:
            body["api_key"] = values["telnyx call control api key"]
        response = client.post("/api/v1/voice/connections", body, format="json")
        assert response.status_code == 201, response.content
    response = client.patch(
        "/api/v1/remediation/settings/",
        {
            "provider": "telnyx",
            "api_key": values["remediation api key"],
            "webhook_secret": values["remediation webhook secret"],
            "reason": "our own signing secret",  # replacing a secret is confirmed
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    return values


def dump() -> Iterator[tuple[str, str, str]]:
    """Every value of every column of every table, as text: (table, column, text)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, table)
            ]
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, memoryview | bytes):
                        text = bytes(value).decode("latin-1")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value, ensure_ascii=False)
                    else:
                        text = str(value)
                    yield table, column, text


def leaks(values: dict[str, str]) -> list[str]:
    return [
        f"{name} in {table}.{column}"
        for table, column, text in dump()
        for name, value in values.items()
        if value in text
    ]


def test_a_database_dump_holds_no_credential(org, other_org, api_client_for) -> None:
    """GIVEN every kind of credential created through the API in two organisations
    WHEN every column of every table is dumped THEN none of the values is in it,
    while the console still reads each of them back."""
    values = create_every_credential(api_client_for(org, "admin"), "alpha")
    others = create_every_credential(api_client_for(other_org, "admin"), "beta")
    texts = [text for _, _, text in dump()]
    assert any("twilio alpha" in text for text in texts)  # the dump sees the rows
    assert leaks(values) == [] and leaks(others) == []
    # ... and each is still there for the console to use.
    twilio = VoiceConnection.objects.get(name="twilio alpha")
    assert twilio.secret == values["twilio auth token"]
    call_control = VoiceConnection.objects.get(name="telnyx_call_control alpha")
    assert call_control.api_key == values["telnyx call control api key"]
    row = RemediationSettings.objects.get(organisation=org)
    assert row.api_key == values["remediation api key"]
    assert row.webhook_secret == values["remediation webhook secret"]


def test_pages_and_the_api_show_hints_only(org, alice, api_client_for) -> None:
    """GIVEN every credential saved WHEN the API and the pages show them THEN only
    '••••' and the last four characters appear, never a value."""
    client = api_client_for(org, "admin")
    values = create_every_credential(client, "alpha")
    listed = client.get("/api/v1/voice/connections")
    settings_api = client.get("/api/v1/remediation/settings/")
    browser = Client()
    browser.force_login(alice)
    pages = [listed.content.decode(), settings_api.content.decode()]
    pages.append(browser.get("/voice/connections/").content.decode())
    pages.append(browser.get("/settings/remediation/").content.decode())
    for row in VoiceConnection.objects.all():
        pages.append(
            browser.get(f"/voice/connections/{row.public_id}/").content.decode()
        )
    for name, value in values.items():
        assert all(value not in page for page in pages), name
    results = {r["name"]: r for r in listed.json()["results"]}
    twilio = results["twilio alpha"]
    assert twilio["secret_hint"] == "••••" + values["twilio auth token"][-4:]
    assert twilio["api_key_hint"] == "" and twilio["credential_error"] is None
    call_control = results["telnyx_call_control alpha"]
    assert call_control["api_key_hint"] == "••••6789" and call_control["has_api_key"]
    assert settings_api.json()["webhook_secret_hint"] == "••••6789"
    assert all("Verification secret: <code>••••" in page for page in pages[4:])


def test_the_schema_marks_credentials_write_only(api_client_for, org) -> None:
    schema = api_client_for(org, "admin").get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    for name, field in [
        ("VoiceConnectionCreateInputRequest", "secret"),
        ("VoiceConnectionCreateInputRequest", "api_key"),
        ("PatchedVoiceConnectionUpdateInputRequest", "secret"),
        ("PatchedRemediationSettingsInputRequest", "api_key"),
        ("PatchedRemediationSettingsInputRequest", "webhook_secret"),
    ]:
        assert components[name]["properties"][field]["writeOnly"] is True, name
    for name in ("VoiceConnectionOutput", "RemediationSettingsOutput"):
        shown = set(components[name]["properties"])
        assert not shown & {"secret", "api_key", "webhook_secret"}, name


def _tokens() -> list[str]:
    """Every stored token of every encrypted column, as the database holds it."""
    found = []
    for model, names in crypto.encrypted_fields():
        for name in names:
            found += [
                t
                for t in model.objects.values_list(
                    Cast(name, output_field=TextField()), flat=True
                )
                if t
            ]
    return found


def test_rotation_with_two_keys_through_the_command(
    org, other_org, api_client_for, settings
) -> None:
    """GIVEN credentials written under key A WHEN key B is put first and
    rotate_encryption_keys runs THEN every value is under B (A can be dropped), each
    organisation has an audit entry in words, and a second run changes nothing."""
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [key_a]
    values = create_every_credential(api_client_for(org, "admin"), "alpha")
    create_every_credential(api_client_for(other_org, "admin"), "beta")
    before = _tokens()
    assert len(before) == 2 * 8

    settings.ENCRYPTION_KEYS = [key_b, key_a]
    out = StringIO()
    call_command("rotate_encryption_keys", "--dry-run", stdout=out)
    assert "16 would be re-encrypted" in out.getvalue()
    assert _tokens() == before
    assert not AuditEntry.objects.filter(action=ROTATE_ACTION).exists()

    out = StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "2", stdout=out)
    output = out.getvalue()
    assert "voicegate.VoiceConnection: 2/10 rows checked" in output
    last = "voicegate.VoiceConnection: 10/10 rows checked, 12 value(s) re-encrypted"
    assert last in output
    assert "16 stored value(s) checked: 16 re-encrypted" in output
    newest = Fernet(key_b.encode())
    for token in _tokens():
        newest.decrypt(token.encode())  # raises unless under key B
    entries = AuditEntry.objects.filter(action=ROTATE_ACTION)
    assert {e.organisation for e in entries} == {org, other_org}
    entry = entries.get(organisation=org)
    assert entry.target_type == "core.organisation"
    assert entry.actor_label == "system: rotate_encryption_keys"
    assert entry.after["credentials re-encrypted"] == 8
    assert "re-encrypted with the newest key of ENCRYPTION_KEYS" in entry.reason
    assert "6 in voice connections" in entry.reason
    assert "2 in remediation settings" in entry.reason

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "0 re-encrypted, 16 already under the newest key" in out.getvalue()
    assert entries.count() == 2

    settings.ENCRYPTION_KEYS = [key_b]  # the old key is gone: everything still reads
    assert (
        VoiceConnection.objects.get(name="twilio alpha").secret
        == values["twilio auth token"]
    )
    row = RemediationSettings.objects.get(organisation=org)
    assert row.webhook_secret == values["remediation webhook secret"]


def test_rotation_names_values_no_key_opens(org, api_client_for, settings) -> None:
    """GIVEN values under a key that is not configured WHEN rotating THEN the command
    fails with a message naming ENCRYPTION_KEYS and leaves those values as they are."""
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    create_every_credential(api_client_for(org, "admin"), "alpha")
    before = _tokens()
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    err = StringIO()
    with pytest.raises(CommandError, match="ENCRYPTION_KEYS does not hold the key"):
        call_command("rotate_encryption_keys", stdout=StringIO(), stderr=err)
    assert "voicegate.VoiceConnection #" in err.getvalue()
    assert sorted(_tokens()) == sorted(before)
    assert not AuditEntry.objects.filter(action=ROTATE_ACTION).exists()


def test_rotation_refuses_a_bad_batch_size() -> None:
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("rotate_encryption_keys", "--batch-size", "0")
