"""Credentials at rest: the encrypted field, its keys and their setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db.models import TextField
from django.db.models.functions import Cast

from trustconsole.core.actor import Actor
from trustconsole.env import env_encryption_keys
from trustconsole.lib import crypto
from voicegate import services
from voicegate.choices import Provider
from voicegate.models import VoiceConnection

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "twilio-auth-token-0123456789abcdef"


def _stored(connection: VoiceConnection, name: str = "secret") -> str:
    """The column as the database holds it."""
    return VoiceConnection.objects.values_list(
        Cast(name, output_field=TextField()), flat=True
    ).get(pk=connection.pk)


def _twilio(org: Any, secret: str = TOKEN) -> VoiceConnection:
    return services.connection_create(
        actor=Actor.system_for(org, "test"),
        name="Twilio main",
        provider=Provider.TWILIO,
        secret=secret,
    )


def test_it_stores_a_fernet_token_and_reads_the_plain_text(org) -> None:
    connection = _twilio(org)
    stored = _stored(connection)
    assert TOKEN not in stored and stored.startswith("gAAAA")
    assert VoiceConnection.objects.get(pk=connection.pk).secret == TOKEN
    # values_list (what the call gate loads) decrypts too.
    assert VoiceConnection.objects.values_list("secret", flat=True).get() == TOKEN
    # Blank stays blank: nothing to hide, and "is it set" stays a plain query.
    assert _stored(connection, "api_key") == ""
    assert VoiceConnection.objects.filter(api_key="").count() == 1


def test_it_refuses_lookups_that_can_never_match(org) -> None:
    _twilio(org)
    with pytest.raises(FieldError, match="only be compared with ''"):
        list(VoiceConnection.objects.filter(secret=TOKEN))
    with pytest.raises(FieldError):
        list(VoiceConnection.objects.filter(secret__startswith="twilio"))


def test_a_new_key_first_keeps_old_values_readable(org, settings) -> None:
    """GIVEN a value written under key A WHEN key B is put in front of A THEN the
    value still reads, and new writes use B."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    connection = _twilio(org)
    settings.ENCRYPTION_KEYS = [new, old]
    assert VoiceConnection.objects.get(pk=connection.pk).secret == TOKEN
    assert not crypto.is_current(_stored(connection))
    connection.secret = TOKEN + "-2"
    connection.save()
    assert crypto.is_current(_stored(connection))
    settings.ENCRYPTION_KEYS = [new]
    assert VoiceConnection.objects.get(pk=connection.pk).secret == TOKEN + "-2"


def test_an_unknown_key_reads_as_unreadable_and_saving_keeps_the_token(
    org, settings, caplog
) -> None:
    """GIVEN a value encrypted with a key no longer configured WHEN the row is read
    THEN the value is '' with a clear hint naming ENCRYPTION_KEYS, and saving the row
    (a rename) keeps the stored token so the old key can still open it later."""
    old = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    connection = _twilio(org)
    token = _stored(connection)
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    loaded = VoiceConnection.objects.get(pk=connection.pk)
    assert loaded.secret == "" and crypto.is_unreadable(loaded.secret)
    assert loaded.secret_hint == crypto.UNREADABLE
    assert "ENCRYPTION_KEYS does not hold the key" in loaded.credential_error
    assert "ENCRYPTION_KEYS" in caplog.text
    services.connection_update(
        actor=Actor.system_for(org, "test"), connection=loaded, name="Renamed"
    )
    assert _stored(connection) == token
    settings.ENCRYPTION_KEYS = [old]
    assert VoiceConnection.objects.get(pk=connection.pk).secret == TOKEN


def test_hints_show_the_last_four_characters_only() -> None:
    assert crypto.hint("KEY_0123456789abcd") == "••••abcd"
    assert crypto.hint("short") == "••••"  # too short to show any of it
    assert crypto.hint("") == ""
    assert crypto.is_hint("••••abcd") and not crypto.is_hint("KEY_abcd")


def test_it_generates_one_local_key_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("ENCRYPTION_KEYS_FILE", raising=False)
    first = env_encryption_keys(tmp_path, debug=True)
    assert len(first) == 1
    Fernet(first[0].encode())  # a real Fernet key
    assert env_encryption_keys(tmp_path, debug=True) == first
    assert (tmp_path / "encryption_keys").stat().st_mode & 0o777 == 0o600


def test_it_reads_several_keys_from_the_variable_or_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a, b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{a}, {b}")
    assert env_encryption_keys(tmp_path, debug=False) == [a, b]
    monkeypatch.delenv("ENCRYPTION_KEYS")
    (tmp_path / "keys").write_text(f"{b}\n{a}\n")
    monkeypatch.setenv("ENCRYPTION_KEYS_FILE", str(tmp_path / "keys"))
    assert env_encryption_keys(tmp_path, debug=False) == [b, a]


def test_it_refuses_a_malformed_key(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    good = Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{good},not-a-key")
    with pytest.raises(ImproperlyConfigured, match="ENCRYPTION_KEYS: key 2 is not"):
        env_encryption_keys(tmp_path, debug=True)


def _manage(tmp_path: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "a-real-secret-key-for-this-test-only-0123456789",
        "TRUSTCONSOLE_DATA_DIR": str(tmp_path),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_encryption_keys(tmp_path: Path) -> None:
    """GIVEN DEBUG off, a SECRET_KEY but no ENCRYPTION_KEYS WHEN Django starts THEN
    it refuses, naming the setting and how to make a key; nothing is generated."""
    result = _manage(tmp_path, "check")
    assert result.returncode != 0
    assert "ENCRYPTION_KEYS must be set when DEBUG is off" in result.stderr
    assert "Fernet.generate_key()" in result.stderr
    assert not (tmp_path / "encryption_keys").exists()
    key = Fernet.generate_key().decode()
    assert _manage(tmp_path, "check", ENCRYPTION_KEYS=key).returncode == 0


def test_schema_commands_run_without_encryption_keys(tmp_path: Path) -> None:
    result = _manage(tmp_path, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "encryption_keys").exists()
